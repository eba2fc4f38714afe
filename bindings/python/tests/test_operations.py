"""One test (or more) per operation of behaviour.md, through the boto3-shaped methods."""
import re

import pytest

from opsworks_deployments import OPERATIONS, Client
from opsworks_deployments.client import snake_case

from conftest import ALICE, BOB, ROLE, T0, body, new_stack, store_path

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
STAMP = "2013-07-25T18:57:34+00:00"


def test_every_operation_is_a_snake_case_method():
    # OPERATIONS is generated from the one operation table (tools/gen_shapes.py).
    assert len(OPERATIONS) == len(set(OPERATIONS)) and "DescribeDeployments" in OPERATIONS
    names = [snake_case(o) for o in OPERATIONS]
    assert [snake_case(o) for o in ("DescribeDeployments", "CreateUserProfile", "SetPermission")] == [
        "describe_deployments", "create_user_profile", "set_permission"]
    for operation, name in zip(OPERATIONS, names):
        method = getattr(Client, name)
        assert callable(method) and method.__name__ == name, operation


def test_methods_take_keyword_arguments_only(client):
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        client.describe_stacks(["x"])


def test_create_stack_and_describe_stacks(client):
    stack = new_stack(client)
    assert UUID.match(stack)
    [described] = client.describe_stacks(StackIds=[stack])["Stacks"]
    assert described["StackId"] == stack
    assert described["Name"] == "shop"
    assert described["Region"] == "us-east-1"
    assert described["CreatedAt"] == STAMP
    assert body(client.describe_stacks()) == {"Stacks": [described]}


def test_create_layer_and_describe_layers(world, client):
    [layer] = client.describe_layers(StackId=world.stack)["Layers"]
    assert layer["LayerId"] == world.layer and layer["StackId"] == world.stack
    assert (layer["Type"], layer["Name"], layer["Shortname"]) == ("custom", "web", "web")
    assert body(client.describe_layers(LayerIds=[world.layer, world.layer])) == {"Layers": [layer]}
    assert body(client.describe_layers(LayerIds=[])) == {"Layers": []}


def test_create_app_describe_apps_and_update_app(world, client):
    [app] = client.describe_apps(StackId=world.stack)["Apps"]
    assert (app["AppId"], app["Name"], app["Type"]) == (world.app, "shop", "other")
    assert body(client.update_app(AppId=world.app, Name="shop2")) == {}
    [app] = client.describe_apps(AppIds=[world.app])["Apps"]
    assert app["Name"] == "shop2"


def test_instances_start_stopped_then_start_and_stop(world, client):
    instance = client.create_instance(StackId=world.stack, LayerIds=[world.layer],
                                      InstanceType="t3.small")["InstanceId"]
    [described] = client.describe_instances(InstanceIds=[instance])["Instances"]
    assert described["Status"] == "stopped"
    assert described["LayerIds"] == [world.layer]
    assert body(client.start_instance(InstanceId=instance)) == {}
    assert client.describe_instances(InstanceIds=[instance])["Instances"][0]["Status"] == "online"
    assert body(client.stop_instance(InstanceId=instance)) == {}
    assert client.describe_instances(InstanceIds=[instance])["Instances"][0]["Status"] == "stopped"
    by_layer = client.describe_instances(LayerId=world.layer)["Instances"]
    assert [i["InstanceId"] for i in by_layer] == world.instances + [instance]
    by_stack = client.describe_instances(StackId=world.stack)["Instances"]
    assert by_stack == by_layer


def test_create_deployment_and_describe_deployments(world, client, clock):
    deployment = world.deploy(Comment="release 42", CustomJson='{"a": 1}',
                              Command={"Name": "deploy", "Args": {"migrate": ["true"]}})
    assert UUID.match(deployment)
    [d] = client.describe_deployments(DeploymentIds=[deployment])["Deployments"]
    assert d == {"DeploymentId": deployment, "StackId": world.stack, "AppId": world.app,
                 "CreatedAt": STAMP, "Comment": "release 42", "CustomJson": '{"a": 1}',
                 "Command": {"Name": "deploy", "Args": {"migrate": ["true"]}},
                 "Status": "running", "InstanceIds": world.instances}
    assert body(client.describe_deployments(StackId=world.stack)) == {"Deployments": [d]}
    assert body(client.describe_deployments(AppId=world.app)) == {"Deployments": [d]}
    assert body(client.describe_deployments()) == {"Deployments": [d]}
    assert body(client.describe_deployments(DeploymentIds=[])) == {"Deployments": []}


def test_deployments_newest_first(world, client, clock):
    first = world.deploy()
    clock.now += 1
    second = world.deploy()
    third = world.deploy()
    ids = [d["DeploymentId"] for d in client.describe_deployments(StackId=world.stack)["Deployments"]]
    assert ids == [third, second, first]


def test_stack_command_has_empty_args_and_no_app(world, client):
    deployment = client.create_deployment(StackId=world.stack, Command={"Name": "configure"})["DeploymentId"]
    [d] = client.describe_deployments(DeploymentIds=[deployment])["Deployments"]
    assert d["Command"] == {"Name": "configure", "Args": {}}
    assert "AppId" not in d and "CompletedAt" not in d and "Duration" not in d


def test_describe_commands_acknowledge_and_complete(world, client, clock):
    deployment = world.deploy()
    commands = client.describe_commands(DeploymentId=deployment)["Commands"]
    assert [c["InstanceId"] for c in commands] == world.instances
    for c in commands:
        assert c["Status"] == "pending" and c["Type"] == "deploy" and c["CreatedAt"] == STAMP
        assert c["DeploymentId"] == deployment
        assert "AcknowledgedAt" not in c and "CompletedAt" not in c and "ExitCode" not in c
    first, second = (c["CommandId"] for c in commands)
    clock.now = T0 + 5
    assert body(client.acknowledge_command(CommandId=first)) == {}
    clock.now = T0 + 6
    client.acknowledge_command(CommandId=first)  # a second acknowledgement changes nothing
    [c] = client.describe_commands(CommandIds=[first])["Commands"]
    assert c["AcknowledgedAt"] == "2013-07-25T18:57:39+00:00"
    clock.now = T0 + 10
    assert body(client.complete_command(CommandId=first, Status="successful", ExitCode=0,
                                        LogUrl="https://logs.example/1")) == {}
    [c] = client.describe_commands(CommandIds=[first])["Commands"]
    assert (c["Status"], c["ExitCode"], c["LogUrl"]) == ("successful", 0, "https://logs.example/1")
    assert c["CompletedAt"] == "2013-07-25T18:57:44+00:00"
    assert client.describe_deployments(DeploymentIds=[deployment])["Deployments"][0]["Status"] == "running"
    clock.now = T0 + 15
    client.complete_command(CommandId=second, Status="successful", ExitCode=0)
    [d] = client.describe_deployments(DeploymentIds=[deployment])["Deployments"]
    assert (d["Status"], d["CompletedAt"], d["Duration"]) == ("successful", "2013-07-25T18:57:49+00:00", 15)
    by_instance = client.describe_commands(InstanceId=world.instances[0])["Commands"]
    assert [c["CommandId"] for c in by_instance] == [first]


def test_deployment_fails_when_any_command_failed(world, client):
    deployment = world.deploy()
    world.complete(deployment, "failed", "successful")
    assert client.describe_deployments(DeploymentIds=[deployment])["Deployments"][0]["Status"] == "failed"


def test_clock_fraction_is_truncated(client):
    with Client(clock=lambda: T0 + 0.999) as c:
        stack = new_stack(c)
        assert c.describe_stacks(StackIds=[stack])["Stacks"][0]["CreatedAt"] == STAMP


def test_user_profiles_and_permissions(world, client):
    assert body(client.create_user_profile(IamUserArn=ALICE, SshUsername="alice")) == {"IamUserArn": ALICE}
    [profile] = client.describe_user_profiles(IamUserArns=[ALICE])["UserProfiles"]
    assert profile["IamUserArn"] == ALICE and profile["SshUsername"] == "alice"
    assert body(client.set_permission(StackId=world.stack, IamUserArn=ALICE, Level="deploy",
                                      AllowSsh=True, AllowSudo=False)) == {}
    [p] = client.describe_permissions(StackId=world.stack, IamUserArn=ALICE)["Permissions"]
    assert (p["StackId"], p["IamUserArn"], p["Level"], p["AllowSsh"], p["AllowSudo"]) == \
        (world.stack, ALICE, "deploy", True, False)
    assert client.describe_permissions(IamUserArn=ALICE)["Permissions"] == [p]
    assert p in client.describe_permissions(StackId=world.stack)["Permissions"]


def test_as_user_acts_as_that_user(world, client):
    client.create_user_profile(IamUserArn=ALICE)
    client.set_permission(StackId=world.stack, IamUserArn=ALICE, Level="deploy")
    alice = client.as_user(ALICE)
    assert alice.iam_user_arn == ALICE
    deployment = alice.create_deployment(StackId=world.stack, AppId=world.app,
                                         Command={"Name": "deploy"})["DeploymentId"]
    [d] = client.describe_deployments(DeploymentIds=[deployment])["Deployments"]
    assert d["IamUserArn"] == ALICE
    alice.close()
    assert client.describe_deployments(DeploymentIds=[deployment])["Deployments"] == [d]


def test_as_user_outlives_its_parent(clock):
    parent = Client(store_path(), clock=clock)
    stack = new_stack(parent)
    child = parent.as_user(None)
    parent.close()
    assert child.describe_stacks(StackIds=[stack])["Stacks"][0]["CreatedAt"] == STAMP  # parent's clock
    child.close()


def test_identified_caller_sees_only_its_stacks(world, client):
    bob = client.as_user(BOB)
    own = new_stack(bob)
    assert [s["StackId"] for s in bob.describe_stacks()["Stacks"]] == [own]
    assert body(bob.describe_deployments()) == {"Deployments": []}


def test_store_file_is_shared_between_clients(tmp_path, clock):
    path = str(tmp_path / "deployments.owd")
    with Client(path, clock=clock) as a, Client(path, clock=clock) as b:
        stack = new_stack(a)
        assert b.describe_stacks(StackIds=[stack])["Stacks"][0]["StackId"] == stack
    assert (tmp_path / "deployments.owd").stat().st_mode & 0o777 == 0o600
    with Client(tmp_path / "deployments.owd") as c:  # a path-like object works too
        assert len(c.describe_stacks()["Stacks"]) == 1


def test_call_by_aws_name(client):
    stack = new_stack(client)
    assert client.call("DescribeStacks", {"StackIds": [stack]})["Stacks"][0]["StackId"] == stack


def test_no_response_holds_null(world, client):
    world.deploy()
    for operation in ("DescribeStacks", "DescribeLayers", "DescribeApps", "DescribeInstances",
                      "DescribeDeployments", "DescribeCommands"):
        assert "null" not in client.call_text(operation).decode()


def test_library_version_is_the_package_version_is_VERSION():
    import os
    import opsworks_deployments
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    with open(os.path.join(root, "VERSION")) as f:
        version = f.read().strip()
    assert opsworks_deployments.__version__ == version
    assert opsworks_deployments.library_version == version


# --- Section 11-12: instances, user profiles, the catalog -----------------------------------


def test_create_instance_defaults_and_hostnames(world, client):
    [first, second] = client.describe_instances(InstanceIds=world.instances)["Instances"]
    assert (first["Hostname"], second["Hostname"]) == ("web1", "web2")
    for key, value in (("Os", "Amazon Linux 2"), ("Architecture", "x86_64"),
                       ("RootDeviceType", "instance-store"), ("InstallUpdatesOnBoot", True),
                       ("EbsOptimized", False), ("AgentVersion", "INHERIT"), ("InfrastructureClass", "ec2")):
        assert first[key] == value, key
    assert body(client.get_hostname_suggestion(LayerId=world.layer)) == {"LayerId": world.layer, "Hostname": "web3"}


def test_update_reboot_and_delete_instance(world, client):
    instance = world.instances[0]
    assert body(client.update_instance(InstanceId=instance, InstanceType="m5.large", Hostname="main")) == {}
    [i] = client.describe_instances(InstanceIds=[instance])["Instances"]
    assert (i["InstanceType"], i["Hostname"], i["Status"]) == ("m5.large", "main", "online")
    assert body(client.reboot_instance(InstanceId=instance)) == {}
    with pytest.raises(client.exceptions.ValidationException, match="is online"):
        client.delete_instance(InstanceId=instance)
    client.stop_instance(InstanceId=instance)
    assert body(client.delete_instance(InstanceId=instance)) == {}
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_instances(InstanceIds=[instance])


def test_register_assign_unassign_deregister(world, client):
    instance = client.register_instance(StackId=world.stack, Hostname="box", PrivateIp="10.0.0.7")["InstanceId"]
    assert UUID.match(instance)
    [i] = client.describe_instances(InstanceIds=[instance])["Instances"]
    assert (i["Status"], i["InfrastructureClass"], i["PrivateIp"]) == ("online", "on-premises", "10.0.0.7")
    assert body(client.assign_instance(InstanceId=instance, LayerIds=[world.layer])) == {}
    assert instance in [x["InstanceId"] for x in client.describe_instances(LayerId=world.layer)["Instances"]]
    assert body(client.unassign_instance(InstanceId=instance)) == {}
    assert client.describe_instances(InstanceIds=[instance])["Instances"][0]["LayerIds"] == []
    with pytest.raises(client.exceptions.ValidationException, match="not a registered instance"):
        client.assign_instance(InstanceId=world.instances[0], LayerIds=[world.layer])
    assert body(client.deregister_instance(InstanceId=instance)) == {}
    assert [x["InstanceId"] for x in client.describe_instances(StackId=world.stack)["Instances"]] == world.instances


def test_registered_by_the_caller(world, client):
    client.create_user_profile(IamUserArn=ALICE)
    client.set_permission(StackId=world.stack, IamUserArn=ALICE, Level="manage")
    instance = client.as_user(ALICE).register_instance(StackId=world.stack)["InstanceId"]
    [i] = client.describe_instances(InstanceIds=[instance])["Instances"]
    assert i["RegisteredBy"] == ALICE and i["Hostname"] == "instance1"


def test_stop_stack_fails_pending_commands_and_start_stack(world, client, clock):
    deployment = world.deploy()
    clock.now = T0 + 9
    assert body(client.stop_stack(StackId=world.stack)) == {}
    [d] = client.describe_deployments(DeploymentIds=[deployment])["Deployments"]
    assert (d["Status"], d["CompletedAt"], d["Duration"]) == ("failed", "2013-07-25T18:57:43+00:00", 9)
    for c in client.describe_commands(DeploymentId=deployment)["Commands"]:
        assert c["Status"] == "failed" and "ExitCode" not in c
    assert body(client.start_stack(StackId=world.stack)) == {}
    assert {i["Status"] for i in client.describe_instances(StackId=world.stack)["Instances"]} == {"online"}


def test_deleted_instance_history_stays(world, client):
    deployment = world.deploy()
    gone = world.instances[0]
    client.deregister_instance(InstanceId=gone)
    [d] = client.describe_deployments(StackId=world.stack)["Deployments"]
    assert d["DeploymentId"] == deployment and d["InstanceIds"] == world.instances
    assert [c["InstanceId"] for c in client.describe_commands(DeploymentId=deployment)["Commands"]] == world.instances
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Unable to find instance with ID " + gone):
        client.describe_commands(InstanceId=gone)


def test_user_profile_update_delete_and_my_profile(world, client):
    client.create_user_profile(IamUserArn=ALICE, SshUsername="alice")
    assert body(client.update_user_profile(IamUserArn=ALICE, SshPublicKey="ssh-ed25519 A",
                                           AllowSelfManagement=True)) == {}
    alice = client.as_user(ALICE)
    assert body(alice.describe_my_user_profile()) == {"UserProfile": {
        "IamUserArn": ALICE, "Name": "alice", "SshUsername": "alice", "SshPublicKey": "ssh-ed25519 A"}}
    assert body(alice.update_my_user_profile(SshPublicKey="ssh-ed25519 B")) == {}
    assert client.describe_user_profiles(IamUserArns=[ALICE])["UserProfiles"][0]["SshPublicKey"] == "ssh-ed25519 B"
    with pytest.raises(client.exceptions.ValidationException, match="own user profile"):
        client.describe_my_user_profile()
    client.set_permission(StackId=world.stack, IamUserArn=ALICE, Level="show")
    assert body(client.delete_user_profile(IamUserArn=ALICE)) == {}
    assert client.describe_permissions(StackId=world.stack)["Permissions"] == []
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        alice.describe_my_user_profile()


def test_operating_systems_agent_versions_service_errors(world, client):
    systems = client.describe_operating_systems()["OperatingSystems"]
    assert "Amazon Linux 2" in [s["Name"] for s in systems]
    assert body(client.describe_agent_versions(StackId=world.stack)) == {"AgentVersions": [
        {"Version": "owd-1", "ConfigurationManager": {"Name": "Chef", "Version": "12"}}]}
    assert len(client.describe_agent_versions(ConfigurationManager={"Name": "Chef"})["AgentVersions"]) == 3
    assert body(client.describe_service_errors(StackId=world.stack)) == {"ServiceErrors": []}
    assert body(client.describe_service_errors()) == {"ServiceErrors": []}


# Section 12: stacks, layers, apps and tags (one call of each at least).

def test_update_stack_describe_stack_summary_and_provisioning_parameters(world, client):
    assert body(client.update_stack(StackId=world.stack, Name="shop-eu", DefaultOs="Ubuntu 22.04 LTS")) == {}
    [stack] = client.describe_stacks(StackIds=[world.stack])["Stacks"]
    assert (stack["Name"], stack["DefaultOs"], stack["HostnameTheme"]) == ("shop-eu", "Ubuntu 22.04 LTS", "Layer_Dependent")
    summary = body(client.describe_stack_summary(StackId=world.stack))["StackSummary"]
    assert summary == {"StackId": world.stack, "Name": "shop-eu", "Arn": stack["Arn"], "LayersCount": 1,
                       "AppsCount": 1, "InstancesCount": {"Online": 2}}
    parameters = body(client.describe_stack_provisioning_parameters(StackId=world.stack))
    assert parameters == {"Parameters": {"agent_version": "LATEST", "instance_service_region": "us-east-1",
                                         "stack_id": world.stack}}


def test_clone_stack(world, client):
    clone = client.clone_stack(SourceStackId=world.stack, ServiceRoleArn=ROLE, Name="staging",
                               CloneAppIds=[world.app])["StackId"]
    assert UUID.match(clone) and clone != world.stack
    [layer] = client.describe_layers(StackId=clone)["Layers"]
    assert layer["Name"] == "web" and layer["LayerId"] != world.layer
    [app] = client.describe_apps(StackId=clone)["Apps"]
    assert app["Name"] == "shop" and app["AppId"] != world.app
    assert client.describe_instances(StackId=clone)["Instances"] == []
    assert client.describe_deployments(StackId=clone)["Deployments"] == []


def test_update_layer_and_delete_layer(world, client):
    assert body(client.update_layer(LayerId=world.layer, Packages=["nginx"])) == {}
    assert client.describe_layers(LayerIds=[world.layer])["Layers"][0]["Packages"] == ["nginx"]
    with pytest.raises(client.exceptions.ValidationException, match="still has 2 instances"):
        client.delete_layer(LayerId=world.layer)
    empty = client.create_layer(StackId=world.stack, Type="custom", Name="empty", Shortname="empty")["LayerId"]
    assert body(client.delete_layer(LayerId=empty)) == {}
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_layers(LayerIds=[empty])


def test_delete_app_keeps_its_deployments(world, client):
    deployment = world.deploy()
    assert body(client.delete_app(AppId=world.app)) == {}
    assert client.describe_apps(StackId=world.stack)["Apps"] == []
    assert [d["DeploymentId"] for d in client.describe_deployments(StackId=world.stack)["Deployments"]] == [deployment]
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Unable to find app with ID"):
        client.describe_deployments(AppId=world.app)


def test_delete_stack_needs_an_empty_stack(world, client):
    with pytest.raises(client.exceptions.ValidationException,
                       match="still has 2 instances, 1 layer and 1 app; delete them first"):
        client.delete_stack(StackId=world.stack)
    empty = new_stack(client, "empty")
    assert body(client.delete_stack(StackId=empty)) == {}
    assert [s["StackId"] for s in client.describe_stacks()["Stacks"]] == [world.stack]


def test_tag_resource_untag_resource_and_list_tags(world, client):
    arn = client.describe_stacks(StackIds=[world.stack])["Stacks"][0]["Arn"]
    assert body(client.tag_resource(ResourceArn=arn, Tags={"team": "payments", "env": "prod"})) == {}
    assert body(client.list_tags(ResourceArn=arn)) == {"Tags": {"env": "prod", "team": "payments"}}
    assert body(client.untag_resource(ResourceArn=arn, TagKeys=["env"])) == {}
    assert client.list_tags(ResourceArn=arn)["Tags"] == {"team": "payments"}
    layer_arn = client.describe_layers(LayerIds=[world.layer])["Layers"][0]["Arn"]
    client.tag_resource(ResourceArn=layer_arn, Tags={"role": "web"})
    assert client.list_tags(ResourceArn=layer_arn)["Tags"] == {"role": "web"}


def test_the_models_other_operations_are_methods_raising_unsupported_operation(client):
    import opsworks_deployments
    from opsworks_deployments._operations import UNSUPPORTED_OPERATIONS
    assert "GrantAccess" in UNSUPPORTED_OPERATIONS and "RegisterVolume" in UNSUPPORTED_OPERATIONS
    assert not set(UNSUPPORTED_OPERATIONS) & set(OPERATIONS)
    for operation in UNSUPPORTED_OPERATIONS:
        with pytest.raises(opsworks_deployments.UnsupportedOperationException) as e:
            getattr(client, snake_case(operation))(StackId="x")
        assert isinstance(e.value, opsworks_deployments.ClientError)
        assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"
        assert e.value.response["Error"]["Message"].startswith(
            "%s is not supported: owd manages no AWS resources" % operation)
        assert e.value.operation_name == operation
    with pytest.raises(client.exceptions.UnsupportedOperationException):
        client.call("AttachElasticLoadBalancer", {})
    with pytest.raises(opsworks_deployments.InvalidArgumentError, match="Unknown operation"):
        client.call("DescribeEverything", {})
