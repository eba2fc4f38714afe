import json
import os
import re
import uuid

import pytest

import opsworks_deployments
from opsworks_deployments import Client

# 2013-07-25T18:57:34+00:00, the time of AWS's published DescribeDeployments example.
T0 = 1374778654
ROLE = "arn:aws:iam::123456789012:role/aws-opsworks-service-role"
PROFILE = "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"
ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def body(response):
    """A response without its ResponseMetadata (checked to be boto3's for a 200 answer):
    what the tests compare whole."""
    response = dict(response)
    metadata = response.pop("ResponseMetadata")
    assert set(metadata) == {"RequestId", "HTTPStatusCode", "HTTPHeaders", "RetryAttempts"}
    assert UUID.match(metadata["RequestId"]) and metadata["HTTPStatusCode"] == 200
    assert metadata["RetryAttempts"] == 0
    headers = metadata["HTTPHeaders"]
    assert headers["x-amzn-requestid"] == metadata["RequestId"]
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert int(headers["content-length"]) > 0 and headers["date"].endswith(" GMT")
    return response


# Every (operation, response text) the tests produce, for test_conformance.py.
RESPONSES = []
_call_text = Client.call_text


def _recording_call_text(self, operation, request=None):
    text = _call_text(self, operation, request)
    RESPONSES.append((operation, text.decode("utf-8")))
    return text


Client.call_text = _recording_call_text


def pytest_collection_modifyitems(items):
    # The conformance check reads what every other test recorded: it runs last.
    items.sort(key=lambda item: item.fspath.basename == "test_conformance.py")


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def store_path():
    """The store a test opens when it names none: in memory, or with OWD_TEST_STORE set (a
    postgresql:// URI, `make test-python-pg`) a new schema of that database, which the
    store creates."""
    base = os.environ.get("OWD_TEST_STORE")
    if not base:
        return None
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3Dp{uuid.uuid4().hex}"


@pytest.fixture
def client(clock):
    with Client(store_path(), clock=clock) as c:
        yield c


def new_stack(client, name="shop", region="us-east-1"):
    return client.create_stack(Name=name, Region=region, ServiceRoleArn=ROLE,
                               DefaultInstanceProfileArn=PROFILE)["StackId"]


class World:
    """A stack with a layer, an app and two online instances."""

    def __init__(self, client):
        self.client = client
        self.stack = new_stack(client)
        self.layer = client.create_layer(StackId=self.stack, Type="custom", Name="web",
                                         Shortname="web")["LayerId"]
        self.app = client.create_app(StackId=self.stack, Name="shop", Type="other")["AppId"]
        self.instances = []
        for _ in range(2):
            i = client.create_instance(StackId=self.stack, LayerIds=[self.layer],
                                       InstanceType="t3.small")["InstanceId"]
            client.start_instance(InstanceId=i)
            self.instances.append(i)

    def deploy(self, **kwargs):
        request = {"StackId": self.stack, "AppId": self.app, "Command": {"Name": "deploy"}}
        request.update(kwargs)
        return self.client.create_deployment(**request)["DeploymentId"]

    def complete(self, deployment_id, *statuses):
        commands = self.client.describe_commands(DeploymentId=deployment_id)["Commands"]
        for command, status in zip(commands, statuses):
            self.client.complete_command(CommandId=command["CommandId"], Status=status,
                                         ExitCode=0 if status == "successful" else 1)


@pytest.fixture
def world(client):
    return World(client)
