"""A stack with two online instances, one finished and one running deployment, and
DescribeDeployments printed: examples/c/deployments.c in Python.

    make demo     (or: OWD_LIBRARY=.build/release/libowd.so PYTHONPATH=bindings/python python3 examples/python/deployments.py)
"""
import json

from opsworks_deployments import Client

with Client() as opsworks:  # an in-memory store; was: boto3.client("opsworks")
    stack = opsworks.create_stack(
        Name="shop", Region="us-east-1",
        ServiceRoleArn="arn:aws:iam::123456789012:role/aws-opsworks-service-role",
        DefaultInstanceProfileArn="arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role",
    )["StackId"]
    layer = opsworks.create_layer(StackId=stack, Type="custom", Name="web", Shortname="web")["LayerId"]
    app = opsworks.create_app(StackId=stack, Name="shop", Type="other")["AppId"]
    for _ in range(2):
        instance = opsworks.create_instance(StackId=stack, LayerIds=[layer], InstanceType="t3.small")["InstanceId"]
        opsworks.start_instance(InstanceId=instance)

    # A deployment whose commands both succeed (what the instances' agents would report)...
    finished = opsworks.create_deployment(StackId=stack, AppId=app, Comment="release 42",
                                          Command={"Name": "deploy", "Args": {"migrate": ["true"]}})["DeploymentId"]
    for command in opsworks.describe_commands(DeploymentId=finished)["Commands"]:
        opsworks.complete_command(CommandId=command["CommandId"], Status="successful", ExitCode=0)
    opsworks.get_waiter("deployment_successful").wait(DeploymentIds=[finished])

    # ...and one still running.
    opsworks.create_deployment(StackId=stack, Command={"Name": "configure"})

    response = opsworks.describe_deployments(StackId=stack)
    print("DescribeDeployments:")
    print(json.dumps(response, indent=2))

    print("\nNewest first:")
    for d in response["Deployments"]:
        print("  %s  %-9s %-10s created %s  instances %d  duration %s" % (
            d["DeploymentId"], d["Command"]["Name"], d["Status"], d["CreatedAt"],
            len(d["InstanceIds"]), d.get("Duration", "-")))

    try:
        opsworks.describe_deployments(StackId="no-such-stack")
    except opsworks.exceptions.ResourceNotFoundException as e:
        print("\nAs AWS would answer:", e.response["Error"]["Message"])
