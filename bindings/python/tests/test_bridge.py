"""boto3_client(): a real botocore client answered by owd, through event hooks only."""
import pytest

botocore = pytest.importorskip("botocore")

import botocore.client  # noqa: E402
import botocore.exceptions  # noqa: E402

from opsworks_deployments import OPERATIONS, boto3_client  # noqa: E402
from opsworks_deployments.client import snake_case  # noqa: E402


@pytest.fixture
def opsworks(client):
    return boto3_client(client)


from conftest import body  # noqa: E402


def strip(response):
    """botocore's answer without its ResponseMetadata (checked as the Client's is)."""
    return body(response)


def test_is_a_real_botocore_client(opsworks):
    assert isinstance(opsworks, botocore.client.BaseClient)
    assert opsworks.meta.service_model.service_name == "opsworks"
    assert opsworks.meta.service_model.protocol == "json"
    for operation in OPERATIONS:
        assert callable(getattr(opsworks, snake_case(operation)))


def test_same_answers_as_the_client(world, client, opsworks):
    d = world.deploy(Command={"Name": "deploy", "Args": {"migrate": ["false"]}}, Comment="via botocore")
    assert strip(opsworks.describe_deployments(StackId=world.stack)) == \
        body(client.describe_deployments(StackId=world.stack))
    assert strip(opsworks.describe_commands(DeploymentId=d)) == body(client.describe_commands(DeploymentId=d))
    for describe, kwargs in (("describe_stacks", {}), ("describe_layers", {"StackId": world.stack}),
                             ("describe_apps", {"StackId": world.stack}),
                             ("describe_instances", {"StackId": world.stack})):
        assert strip(getattr(opsworks, describe)(**kwargs)) == body(getattr(client, describe)(**kwargs))


def test_writes_through_botocore(world, client, opsworks):
    d = opsworks.create_deployment(StackId=world.stack, Command={"Name": "configure"})["DeploymentId"]
    for c in opsworks.describe_commands(DeploymentId=d)["Commands"]:
        opsworks.acknowledge_command(CommandId=c["CommandId"])
        opsworks.complete_command(CommandId=c["CommandId"], Status="successful", ExitCode=0)
    assert client.describe_deployments(DeploymentIds=[d])["Deployments"][0]["Status"] == "successful"
    opsworks.get_waiter("deployment_successful").wait(DeploymentIds=[d], WaiterConfig={"Delay": 0})


def test_every_error_class(client, opsworks, world):
    with pytest.raises(opsworks.exceptions.ResourceNotFoundException) as e:
        opsworks.describe_deployments(DeploymentIds=["nope"])
    assert e.value.response["Error"] == {"Code": "ResourceNotFoundException",
                                         "Message": "Unable to find deployment with ID nope"}
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.operation_name == "DescribeDeployments"
    with pytest.raises(opsworks.exceptions.ValidationException, match="Please provide either"):
        opsworks.describe_deployments(StackId="a", AppId="b")
    bob = boto3_client(client.as_user("arn:aws:iam::123456789012:user/bob"))
    with pytest.raises(bob.exceptions.AccessDeniedException):
        bob.describe_deployments(StackId=world.stack)
    with pytest.raises(botocore.exceptions.ClientError):
        opsworks.describe_apps(AppIds=["nope"])


def test_script_written_for_boto3_runs_unchanged(world, client, opsworks):
    """The issue's script: describe, catch ResourceNotFoundException, wait."""
    d = world.deploy()
    world.complete(d, "successful", "successful")
    try:
        opsworks.describe_deployments(StackId="no-such-stack")
    except opsworks.exceptions.ResourceNotFoundException as e:
        assert "no-such-stack" in e.response["Error"]["Message"]
    else:
        pytest.fail("no ResourceNotFoundException")
    opsworks.get_waiter("deployment_successful").wait(DeploymentIds=[d], WaiterConfig={"Delay": 0})


def test_bridged_waiter_outcomes(world, opsworks):
    failed = world.deploy()
    world.complete(failed, "failed", "successful")
    fast = {"Delay": 0, "MaxAttempts": 2}
    waiter = opsworks.get_waiter("deployment_successful")
    with pytest.raises(botocore.exceptions.WaiterError, match="terminal failure"):
        waiter.wait(DeploymentIds=[failed], WaiterConfig=fast)
    with pytest.raises(botocore.exceptions.WaiterError, match="ResourceNotFoundException"):
        waiter.wait(DeploymentIds=["nope"], WaiterConfig=fast)
    with pytest.raises(botocore.exceptions.WaiterError, match="Max attempts exceeded"):
        waiter.wait(DeploymentIds=[world.deploy()], WaiterConfig=fast)


def test_botocore_validates_parameters_client_side(opsworks):
    with pytest.raises(botocore.exceptions.ParamValidationError):
        opsworks.describe_deployments(StackId=5)


def test_no_request_leaves_the_process(opsworks, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("botocore tried to send an HTTP request")
    monkeypatch.setattr("botocore.endpoint.Endpoint._send", refuse)
    opsworks.describe_stacks()


def test_library_errors_surface_as_themselves(clock):
    import opsworks_deployments as owd
    c = owd.Client(clock=clock)
    bridged = boto3_client(c)
    c.close()
    with pytest.raises(owd.ClientClosedError):
        bridged.describe_stacks()


def test_section_12_operations_through_botocore(world, client, opsworks):
    # botocore serializes each request from its model and parses owd's answer with it.
    box = opsworks.register_instance(StackId=world.stack, Hostname="box")["InstanceId"]
    opsworks.assign_instance(InstanceId=box, LayerIds=[world.layer])
    opsworks.unassign_instance(InstanceId=box)
    opsworks.update_instance(InstanceId=box, Hostname="box2")
    opsworks.reboot_instance(InstanceId=box)
    opsworks.deregister_instance(InstanceId=box)
    assert opsworks.get_hostname_suggestion(LayerId=world.layer)["Hostname"] == "web3"
    opsworks.stop_stack(StackId=world.stack)
    opsworks.delete_instance(InstanceId=world.instances[0])
    opsworks.start_stack(StackId=world.stack)
    assert [i["Status"] for i in opsworks.describe_instances(StackId=world.stack)["Instances"]] == ["online"]
    opsworks.create_user_profile(IamUserArn="arn:aws:iam::123456789012:user/carol", AllowSelfManagement=True)
    carol = boto3_client(client.as_user("arn:aws:iam::123456789012:user/carol"))
    carol.update_my_user_profile(SshPublicKey="ssh-ed25519 C")
    assert carol.describe_my_user_profile()["UserProfile"]["SshPublicKey"] == "ssh-ed25519 C"
    opsworks.update_user_profile(IamUserArn="arn:aws:iam::123456789012:user/carol", SshUsername="c")
    opsworks.delete_user_profile(IamUserArn="arn:aws:iam::123456789012:user/carol")
    assert opsworks.describe_operating_systems()["OperatingSystems"]
    assert opsworks.describe_agent_versions(StackId=world.stack)["AgentVersions"][0]["Version"] == "owd-1"
    assert strip(opsworks.describe_service_errors(StackId=world.stack)) == {"ServiceErrors": []}


def test_unsupported_operations_through_botocore(opsworks):
    # The model's other operations are methods of the bridged client too: owd answers them
    # UnsupportedOperationException (a 400), which botocore raises as a modeled error.
    from opsworks_deployments._operations import UNSUPPORTED_OPERATIONS
    for operation in ("RegisterVolume", "GrantAccess", "DescribeElasticIps"):
        assert operation in UNSUPPORTED_OPERATIONS
    with pytest.raises(opsworks.exceptions.UnsupportedOperationException) as e:
        opsworks.register_volume(StackId="s")
    assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert e.value.response["Error"]["Message"].startswith("RegisterVolume is not supported: owd manages no AWS resources")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(opsworks.exceptions.UnsupportedOperationException):
        opsworks.grant_access(InstanceId="i")


def test_section_12_through_botocore(world, client, opsworks):
    arn = opsworks.describe_stacks(StackIds=[world.stack])["Stacks"][0]["Arn"]
    opsworks.tag_resource(ResourceArn=arn, Tags={"team": "payments"})
    assert opsworks.list_tags(ResourceArn=arn)["Tags"] == {"team": "payments"}
    summary = opsworks.describe_stack_summary(StackId=world.stack)["StackSummary"]
    assert summary["InstancesCount"] == {"Online": 2}
    opsworks.delete_app(AppId=world.app)
    with pytest.raises(opsworks.exceptions.ResourceNotFoundException):
        opsworks.describe_apps(AppIds=[world.app])
