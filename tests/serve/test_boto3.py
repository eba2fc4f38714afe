"""boto3 (current) against owd serve: two identities mapped onto section 7's permissions."""
import botocore.exceptions
import pytest

from conftest import DEPLOY, DEPLOY_ARN, OWNER, SHOW, SHOW_ARN, boto3_client, online_stack


def grant(owner, stack_id):
    for arn, level in ((SHOW_ARN, "show"), (DEPLOY_ARN, "deploy")):
        owner.create_user_profile(IamUserArn=arn)
        owner.set_permission(StackId=stack_id, IamUserArn=arn, Level=level)


def test_show_user_is_refused_create_deployment_with_access_denied_and_deploy_user_creates_one(server):
    owner = boto3_client(server, OWNER)
    stack_id, _, _, app = online_stack(owner)
    grant(owner, stack_id)
    show, deploy = boto3_client(server, SHOW), boto3_client(server, DEPLOY)

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        show.create_deployment(StackId=stack_id, AppId=app, Command={"Name": "deploy"})
    error = refused.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["Error"]["Message"] == (
        f"User: {SHOW_ARN} is not authorized to perform: opsworks:CreateDeployment "
        f"on resource: arn:aws:opsworks:us-east-1:123456789012:stack/{stack_id}/")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "AccessDeniedException"
    assert len(error["ResponseMetadata"]["RequestId"]) == 36
    # The refusal changed nothing, and show may still read.
    assert show.describe_deployments(StackId=stack_id)["Deployments"] == []

    created = deploy.create_deployment(StackId=stack_id, AppId=app, Command={"Name": "deploy"})
    listed = show.describe_deployments(DeploymentIds=[created["DeploymentId"]])["Deployments"]
    assert [d["IamUserArn"] for d in listed] == [DEPLOY_ARN]
    assert listed[0]["Status"] == "running"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_owner_credential_acts_as_the_store_owner_and_sets_no_iam_user_arn(server):
    owner = boto3_client(server, OWNER)
    stack_id, _, _, app = online_stack(owner)
    created = owner.create_deployment(StackId=stack_id, AppId=app, Command={"Name": "deploy"})
    [d] = owner.describe_deployments(DeploymentIds=[created["DeploymentId"]])["Deployments"]
    assert "IamUserArn" not in d
    # The owner may do what no identified caller may (section 7).
    assert owner.describe_user_profiles()["UserProfiles"] == []


def test_not_found_is_resource_not_found_over_the_wire(server):
    client = boto3_client(server, OWNER)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
        client.describe_stacks(StackIds=["6ed0df4c-9ef7-4812-8dac-d54a05be1029"])
    assert e.value.response["Error"]["Message"] == "Unable to find stack with ID 6ed0df4c-9ef7-4812-8dac-d54a05be1029"


def test_validation_error_names_the_member(server):
    # Client-side validation off: the server's own answer is tested.
    raw = boto3_client(server, OWNER, parameter_validation=False)
    with pytest.raises(raw.exceptions.ValidationException) as e:
        raw.describe_deployments(StackId=12)
    assert "StackId" in e.value.response["Error"]["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_paginators_and_waiters_from_the_installed_model_are_usable(server):
    client = boto3_client(server, OWNER)
    stack_id, _, _, app = online_stack(client)
    d = client.create_deployment(StackId=stack_id, AppId=app, Command={"Name": "deploy"})["DeploymentId"]
    for command in client.describe_commands(DeploymentId=d)["Commands"]:
        client.acknowledge_command(CommandId=command["CommandId"])
        client.complete_command(CommandId=command["CommandId"], Status="successful", ExitCode=0)
    client.get_waiter("deployment_successful").wait(DeploymentIds=[d], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    [done] = client.describe_deployments(DeploymentIds=[d])["Deployments"]
    assert done["Status"] == "successful"
