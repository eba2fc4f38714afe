"""The code under test: a deploy script's functions, as written for AWS (its own clients,
no endpoint, no credentials)."""
import boto3

ROLE = "arn:aws:iam::123456789012:role/aws-opsworks-service-role"
PROFILE = "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"


def create_web_stack(name, instances=1):
    """A stack with a custom layer `web`, an app and `instances` online instances; returns
    (stack id, app id)."""
    opsworks = boto3.client("opsworks")
    stack = opsworks.create_stack(Name=name, Region="us-east-1", ServiceRoleArn=ROLE,
                                  DefaultInstanceProfileArn=PROFILE)["StackId"]
    layer = opsworks.create_layer(StackId=stack, Type="custom", Name="web", Shortname="web")["LayerId"]
    app = opsworks.create_app(StackId=stack, Name=name, Type="other")["AppId"]
    for _ in range(instances):
        instance = opsworks.create_instance(StackId=stack, LayerIds=[layer], InstanceType="t3.small")["InstanceId"]
        opsworks.start_instance(InstanceId=instance)
    return stack, app


def deploy(stack, app):
    """Starts a deploy of `app`; returns its deployment id."""
    return boto3.client("opsworks").create_deployment(StackId=stack, AppId=app,
                                                      Command={"Name": "deploy"})["DeploymentId"]


def deployment_status(deployment):
    opsworks = boto3.session.Session().client("opsworks")
    return opsworks.describe_deployments(DeploymentIds=[deployment])["Deployments"][0]["Status"]


def stack_names():
    return sorted(s["Name"] for s in boto3.client("opsworks").describe_stacks()["Stacks"])
