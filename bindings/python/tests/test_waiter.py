"""get_waiter("deployment_successful"): botocore's five outcomes."""
import pytest

import opsworks_deployments as owd

from conftest import body

FAST = {"Delay": 0, "MaxAttempts": 3}


def test_waiter_names(client):
    assert client.waiter_names == ["deployment_successful"]
    waiter = client.get_waiter("deployment_successful")
    assert waiter.name == "DeploymentSuccessful"
    assert (waiter.config.delay, waiter.config.max_attempts) == (15, 40)
    with pytest.raises(ValueError, match="Waiter does not exist: nope"):
        client.get_waiter("nope")


def test_success_when_all_successful(world, client):
    a, b = world.deploy(), world.deploy()
    world.complete(a, "successful", "successful")
    world.complete(b, "successful", "skipped")
    assert client.get_waiter("deployment_successful").wait(DeploymentIds=[a, b], WaiterConfig=FAST) is None


def test_failure_when_any_failed(world, client):
    a, b = world.deploy(), world.deploy()
    world.complete(a, "successful", "successful")
    world.complete(b, "failed", "successful")
    with pytest.raises(owd.WaiterError) as e:
        client.get_waiter("deployment_successful").wait(DeploymentIds=[a, b], WaiterConfig=FAST)
    assert str(e.value) == ('Waiter DeploymentSuccessful failed: Waiter encountered a terminal failure state: '
                            'For expression "Deployments[].Status" we matched expected path: "failed" at least once')
    assert len(e.value.last_response["Deployments"]) == 2


def test_empty_result_keeps_waiting(client, monkeypatch):
    polls = []
    original = type(client).describe_deployments
    monkeypatch.setattr(type(client), "describe_deployments",
                        lambda self, **kw: polls.append(kw) or original(self, **kw))
    with pytest.raises(owd.WaiterError) as e:
        client.get_waiter("deployment_successful").wait(DeploymentIds=[], WaiterConfig=FAST)
    assert len(polls) == 3
    assert str(e.value) == "Waiter DeploymentSuccessful failed: Max attempts exceeded"
    assert body(e.value.last_response) == {"Deployments": []}


def test_error_response_fails_at_once(client, monkeypatch):
    polls = []
    original = type(client).describe_deployments
    monkeypatch.setattr(type(client), "describe_deployments",
                        lambda self, **kw: polls.append(kw) or original(self, **kw))
    with pytest.raises(owd.WaiterError) as e:
        client.get_waiter("deployment_successful").wait(DeploymentIds=["nope"], WaiterConfig=FAST)
    assert len(polls) == 1
    assert str(e.value) == ("Waiter DeploymentSuccessful failed: An error occurred (ResourceNotFoundException): "
                            "Unable to find deployment with ID nope")
    assert e.value.last_response["Error"]["Code"] == "ResourceNotFoundException"


def test_attempts_exhausted_while_running(world, client, monkeypatch):
    sleeps = []
    monkeypatch.setattr("opsworks_deployments.waiter.time.sleep", sleeps.append)
    d = world.deploy()
    with pytest.raises(owd.WaiterError, match="Max attempts exceeded") as e:
        client.get_waiter("deployment_successful").wait(DeploymentIds=[d],
                                                        WaiterConfig={"Delay": 7, "MaxAttempts": 4})
    assert sleeps == [7, 7, 7]
    assert e.value.last_response["Deployments"][0]["Status"] == "running"


def test_waiter_sees_completion_between_polls(world, client, monkeypatch):
    d = world.deploy()
    monkeypatch.setattr("opsworks_deployments.waiter.time.sleep",
                        lambda _: world.complete(d, "successful", "successful"))
    client.get_waiter("deployment_successful").wait(DeploymentIds=[d], WaiterConfig={"Delay": 1})


def test_waiter_ends_as_failure_when_an_instance_stops_or_leaves(world, client):
    # Section 12: a stopped or removed instance's pending commands fail and the deployment
    # rolls up, so the waiter meets "failed" instead of running out of attempts.
    for leave in (client.stop_instance, client.deregister_instance):
        d = world.deploy()
        [first, _] = client.describe_commands(DeploymentId=d)["Commands"]
        client.complete_command(CommandId=first["CommandId"], Status="successful", ExitCode=0)
        leave(InstanceId=world.instances[1])
        with pytest.raises(owd.WaiterError) as e:
            client.get_waiter("deployment_successful").wait(DeploymentIds=[d], WaiterConfig=FAST)
        assert "terminal failure state" in str(e.value)
        assert e.value.last_response["Deployments"][0]["Status"] == "failed"
        if leave == client.stop_instance:
            client.start_instance(InstanceId=world.instances[1])
