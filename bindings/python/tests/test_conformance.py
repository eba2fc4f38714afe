"""Every response the tests produced, checked against botocore 1.39.17's real OpsWorks model
(run last: see conftest.py). The check runs in a Python that has botocore==1.39.17:
$OWD_BOTOCORE139_PYTHON, else the repository's .build/venv-botocore139 (make test-python)."""
import json
import os
import subprocess

import pytest

import conftest
from opsworks_deployments import OPERATIONS, Client

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "..", ".build", "venv-botocore139", "bin", "python")


def botocore139_python():
    python = os.environ.get("OWD_BOTOCORE139_PYTHON") or DEFAULT
    if not os.path.exists(python):
        pytest.fail("no Python with botocore 1.39.17: set OWD_BOTOCORE139_PYTHON or run `make test-python`")
    return python


def run_check(responses, tmp_path):
    path = tmp_path / "responses.json"
    path.write_text(json.dumps(responses))
    result = subprocess.run([botocore139_python(), os.path.join(HERE, "conformance_check.py"), str(path)],
                            capture_output=True, text=True)
    return result


def test_every_recorded_response_conforms(tmp_path):
    # When run alone, produce one response of every operation first.
    if {op for op, _ in conftest.RESPONSES} < set(OPERATIONS):
        with Client(conftest.store_path(), clock=conftest.Clock()) as c:
            world = conftest.World(c)
            c.update_app(AppId=world.app, Name="x")
            d = world.deploy()
            c.acknowledge_command(CommandId=c.describe_commands(DeploymentId=d)["Commands"][0]["CommandId"])
            world.complete(d, "successful", "failed")
            c.describe_deployments()
            c.stop_instance(InstanceId=world.instances[0])
            c.create_user_profile(IamUserArn=conftest.ALICE)
            c.describe_user_profiles()
            c.set_permission(StackId=world.stack, IamUserArn=conftest.ALICE, Level="show")
            c.describe_permissions(StackId=world.stack)
            for describe in ("describe_stacks", "describe_layers", "describe_apps", "describe_instances"):
                getattr(c, describe)()
            box = c.register_instance(StackId=world.stack, Hostname="box")["InstanceId"]
            c.assign_instance(InstanceId=box, LayerIds=[world.layer])
            c.unassign_instance(InstanceId=box)
            c.update_instance(InstanceId=box, Hostname="box2")
            c.reboot_instance(InstanceId=box)
            c.deregister_instance(InstanceId=box)
            c.get_hostname_suggestion(LayerId=world.layer)
            c.stop_stack(StackId=world.stack)
            c.delete_instance(InstanceId=world.instances[0])
            c.start_stack(StackId=world.stack)
            c.update_user_profile(IamUserArn=conftest.ALICE, AllowSelfManagement=True)
            alice = c.as_user(conftest.ALICE)
            alice.update_my_user_profile(SshPublicKey="ssh-ed25519 A")
            alice.describe_my_user_profile()
            c.delete_user_profile(IamUserArn=conftest.ALICE)
            c.describe_operating_systems()
            c.describe_agent_versions(StackId=world.stack)
            c.describe_service_errors(StackId=world.stack)
            # Section 12: stacks, layers, apps and tags.
            c.update_stack(StackId=world.stack, Name="renamed")
            c.clone_stack(SourceStackId=world.stack, ServiceRoleArn=conftest.ROLE, CloneAppIds=[world.app])
            c.describe_stack_summary(StackId=world.stack)
            c.describe_stack_provisioning_parameters(StackId=world.stack)
            c.update_layer(LayerId=world.layer, Name="web servers")
            c.delete_layer(LayerId=c.create_layer(StackId=world.stack, Type="custom", Name="e",
                                                  Shortname="e")["LayerId"])
            arn = c.describe_stacks(StackIds=[world.stack])["Stacks"][0]["Arn"]
            c.tag_resource(ResourceArn=arn, Tags={"team": "payments"})
            c.list_tags(ResourceArn=arn, MaxResults=1)
            c.untag_resource(ResourceArn=arn, TagKeys=["team"])
            # Section 14: a poll with a command (and its app), a stored log.
            d = world.deploy()
            polled = c.poll_commands(InstanceId=world.instances[1])
            assert polled["Commands"], polled
            command = polled["Commands"][0]["CommandId"]
            c.complete_command(CommandId=command, Status="successful", ExitCode=0, Log="done\n")
            c.get_command_log(CommandId=command)
            c.delete_app(AppId=world.app)
            c.delete_stack(StackId=conftest.new_stack(c, "empty"))
    responses = list(conftest.RESPONSES)
    assert {op for op, _ in responses} >= set(OPERATIONS)
    result = run_check(responses, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert sum(summary["checked"].values()) == len(responses)


def test_the_check_catches_violations(tmp_path):
    bad = [["DescribeDeployments", json.dumps({"Deployments": [
        {"DeploymentId": "x", "Status": 5, "Extra": 1, "CreatedAt": "2013-07-25 18:57:34",
         "Duration": "15", "Command": {"Name": "dance"}, "Comment": None}]})]]
    result = run_check(bad, tmp_path)
    assert result.returncode == 1
    for text in ("Deployments[0].Extra: a member the model (Deployment) lacks",
                 "Deployments[0].Status: int, expected a string",
                 "CreatedAt: '2013-07-25 18:57:34' is not",
                 "Duration: '15', expected an integer",
                 "Command.Name: 'dance' is not one of",
                 "Comment: null"):
        assert text in result.stdout, result.stdout
