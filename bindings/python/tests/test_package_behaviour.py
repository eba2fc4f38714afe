"""What Python users expect of the package beyond the operations: boto3's ResponseMetadata,
a clear ImportError naming the extra when botocore is missing, orjson used when present
(never required), and an empty store path refused."""
import json
import os
import subprocess
import sys
import uuid

import pytest

import opsworks_deployments as owd
from opsworks_deployments import Client, client as client_module

from conftest import body, new_stack


def test_every_response_carries_boto3s_response_metadata(world, client):
    responses = [client.describe_deployments(StackId=world.stack), client.describe_stacks(),
                 client.start_instance(InstanceId=world.instances[0]),
                 client.call("DescribeApps", {"StackId": world.stack})]
    ids = set()
    for response in responses:
        body(response)            # the shape: RequestId, 200, HTTPHeaders, RetryAttempts 0
        metadata = response["ResponseMetadata"]
        ids.add(metadata["RequestId"])
        assert uuid.UUID(metadata["RequestId"]).version == 4
    assert len(ids) == len(responses)   # a new RequestId for every answer


def test_content_length_is_the_answers_length(world, client):
    text = client.call_text("DescribeDeployments", {"StackId": world.stack})
    response = client.describe_deployments(StackId=world.stack)
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-length"] == str(len(text))
    assert json.loads(text) == body(response)   # call_text stays AWS's body, without metadata


def test_bridge_metadata_has_the_same_shape_as_the_clients(world, client):
    import botocore  # noqa: F401  (make test-python's venv has it: boto3)
    bridged = owd.boto3_client(client)
    ours = client.describe_stacks()["ResponseMetadata"]
    theirs = bridged.describe_stacks()["ResponseMetadata"]
    assert set(ours) == set(theirs)
    assert set(ours["HTTPHeaders"]) == set(theirs["HTTPHeaders"])
    assert (theirs["HTTPStatusCode"], theirs["RetryAttempts"]) == (200, 0)
    assert theirs["HTTPHeaders"]["x-amzn-requestid"] == theirs["RequestId"]
    assert theirs["HTTPHeaders"]["date"].endswith(" GMT")


def _run(code, *args):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)


# A meta-path finder that makes `import <name>` fail as if it were not installed.
HIDE = """
import sys
class Hide:
    def __init__(self, names): self.names = names
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError("No module named %r" % name, name=name)
sys.meta_path.insert(0, Hide(set(sys.argv[1].split(","))))
"""


def test_boto3_client_without_botocore_names_the_extra():
    code = HIDE + """
import opsworks_deployments as owd
try:
    owd.boto3_client(owd.Client())
except ImportError as e:
    print(e)
    sys.exit(0)
sys.exit(1)
"""
    result = _run(code, "botocore")
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'pip install "opsworks-deployments[boto3]"' in result.stdout
    assert "botocore" in result.stdout


def test_orjson_is_never_required():
    code = HIDE + """
import opsworks_deployments as owd
from opsworks_deployments import client
assert client._loads is __import__("json").loads, client._loads
with owd.Client() as c:
    print(c.describe_stacks()["Stacks"])
"""
    result = _run(code, "orjson")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_orjson_decodes_when_installed(world, client):
    import orjson   # make test-python's venv has it; test_orjson_is_never_required hides it
    assert client_module._loads is orjson.loads
    assert body(client.describe_deployments(StackId=world.stack)) == \
        json.loads(client.call_text("DescribeDeployments", {"StackId": world.stack}))


def test_an_empty_path_is_refused_not_taken_as_in_memory():
    with pytest.raises(owd.InvalidArgumentError) as e:
        Client("")
    assert e.value.code == -4 and "path is empty" in e.value.message and ":memory:" in e.value.message
    with Client(None) as a, Client(":memory:") as b:   # what to write instead
        new_stack(a)
        assert len(a.describe_stacks()["Stacks"]) == 1 and b.describe_stacks()["Stacks"] == []


def test_client_errors_carry_the_metadata_of_a_400_answer(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
        client.describe_deployments(DeploymentIds=["nope"])
    metadata = e.value.response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 400 and metadata["RetryAttempts"] == 0
    assert uuid.UUID(metadata["RequestId"]).version == 4
    headers = metadata["HTTPHeaders"]
    assert headers["x-amzn-requestid"] == metadata["RequestId"]
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert int(headers["content-length"]) == len(json.dumps(
        {"__type": "ResourceNotFoundException", "message": e.value.response["Error"]["Message"]}))


def test_bridge_errors_carry_the_same_metadata_shape(client):
    import botocore  # noqa: F401  (make test-python's venv has it: boto3)
    bridged = owd.boto3_client(client)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as ours:
        client.describe_deployments(DeploymentIds=["nope"])
    with pytest.raises(bridged.exceptions.ResourceNotFoundException) as theirs:
        bridged.describe_deployments(DeploymentIds=["nope"])
    a, b = ours.value.response["ResponseMetadata"], theirs.value.response["ResponseMetadata"]
    assert set(a) == set(b) and set(a["HTTPHeaders"]) == set(b["HTTPHeaders"])
    assert (b["HTTPStatusCode"], b["RetryAttempts"]) == (400, 0)
    assert ours.value.response["Error"] == theirs.value.response["Error"]
