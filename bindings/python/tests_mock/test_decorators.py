"""mock_opsworks as moto's mock_aws: function and class decorator, context manager,
start()/stop(), nesting and repetition, a file store, every way of making a client."""
import os
import unittest

import boto3
import botocore
import botocore.exceptions
import botocore.session
import pytest

import deploys
from conftest import new_stack
from opsworks_deployments import mock_opsworks
from opsworks_deployments.bridge import DATA_PATH
from opsworks_deployments.mock import FAKE_CREDENTIALS

BOTOCORE = tuple(int(p) for p in botocore.__version__.split(".")[:3])


def complete_all(deployment, status="successful"):
    opsworks = boto3.client("opsworks")
    for command in opsworks.describe_commands(DeploymentId=deployment)["Commands"]:
        opsworks.complete_command(CommandId=command["CommandId"], Status=status,
                                  ExitCode=0 if status == "successful" else 1)


@mock_opsworks
def test_decorated_function_deploys_and_waits():
    stack, app = deploys.create_web_stack("shop", instances=2)
    deployment = deploys.deploy(stack, app)
    assert deploys.deployment_status(deployment) == "running"
    complete_all(deployment)
    boto3.client("opsworks").get_waiter("deployment_successful").wait(
        DeploymentIds=[deployment], WaiterConfig={"Delay": 0})
    assert deploys.deployment_status(deployment) == "successful"


@mock_opsworks
def test_each_activation_starts_empty_first():
    assert deploys.stack_names() == []
    deploys.create_web_stack("kept-in-this-activation-only")
    assert deploys.stack_names() == ["kept-in-this-activation-only"]


@mock_opsworks
def test_each_activation_starts_empty_second():
    assert deploys.stack_names() == []


@mock_opsworks()
def test_decorator_with_parentheses_and_errors():
    opsworks = boto3.client("opsworks")
    with pytest.raises(opsworks.exceptions.ResourceNotFoundException) as raised:
        opsworks.describe_deployments(StackId="6ffa4c28-0000-4000-8000-000000000000")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(opsworks.exceptions.ValidationException):
        opsworks.create_deployment(StackId=new_stack(opsworks), Command={"Name": "configure"})


@mock_opsworks
def test_every_way_to_make_a_client_shares_the_store():
    stack = new_stack(boto3.client("opsworks"), name="one")
    clients = [boto3.client("opsworks", region_name="eu-west-1"),
               boto3.session.Session().client("opsworks"),
               boto3.session.Session(region_name="ap-southeast-2").client("opsworks"),
               botocore.session.get_session().create_client("opsworks"),
               botocore.session.Session().create_client("opsworks", region_name="us-west-2")]
    for opsworks in clients:
        assert [s["StackId"] for s in opsworks.describe_stacks()["Stacks"]] == [stack]
    # boto3's resource-less default session is a new one for the activation, as moto makes it.
    assert boto3.DEFAULT_SESSION is not None


@mock_opsworks
def test_model_from_the_package_with_owd_operations():
    opsworks = boto3.client("opsworks")
    loader = opsworks._loader if hasattr(opsworks, "_loader") else None
    assert opsworks.meta.service_model.service_name == "opsworks"
    # owd's own operations are in the model the client was built from.
    assert "CompleteCommand" in opsworks.meta.service_model.operation_names
    assert "AcknowledgeCommand" in opsworks.meta.service_model.operation_names
    assert loader is None or loader.search_paths[0] == DATA_PATH


def test_context_manager():
    with mock_opsworks() as mock:
        stack, app = deploys.create_web_stack("ctx")
        assert deploys.stack_names() == ["ctx"]
        # The owd Client answering is there too (e.g. to look at the store directly).
        assert [s["StackId"] for s in mock.client.describe_stacks()["Stacks"]] == [stack]
    assert mock.client is None
    with mock_opsworks():
        assert deploys.stack_names() == []


def test_start_stop():
    mock = mock_opsworks()
    mock.start()
    try:
        deploys.create_web_stack("started")
        assert deploys.stack_names() == ["started"]
    finally:
        mock.stop()
    mock.start()               # repeated: empty again
    try:
        assert deploys.stack_names() == []
    finally:
        mock.stop()
    with pytest.raises(RuntimeError, match="before start"):
        mock.stop()


def test_nested_activations_share_the_outer_store():
    with mock_opsworks():
        deploys.create_web_stack("outer")
        with mock_opsworks():
            assert deploys.stack_names() == ["outer"]
            deploys.create_web_stack("inner")

        @mock_opsworks
        def inner_decorated():
            return deploys.stack_names()

        assert inner_decorated() == ["inner", "outer"]
        assert deploys.stack_names() == ["inner", "outer"]     # the inner stop() kept everything
    with mock_opsworks():
        assert deploys.stack_names() == []


def test_path_keeps_a_file_store(tmp_path):
    path = str(tmp_path / "deployments.owd")
    with mock_opsworks(path=path):
        deploys.create_web_stack("on-disk")
    assert os.path.getsize(path) > 0
    with mock_opsworks(path=path):
        assert deploys.stack_names() == ["on-disk"]
    with mock_opsworks():
        assert deploys.stack_names() == []


def test_empty_path_refused():
    with pytest.raises(ValueError):
        mock_opsworks(path="")


def test_everything_restored_after_stop():
    from botocore import handlers
    builtin = list(handlers.BUILTIN_HANDLERS)
    default = boto3.DEFAULT_SESSION
    with mock_opsworks():
        assert os.environ["AWS_DATA_PATH"].split(os.pathsep)[0] == DATA_PATH
        assert len(handlers.BUILTIN_HANDLERS) == len(builtin) + 1
    assert handlers.BUILTIN_HANDLERS == builtin
    assert boto3.DEFAULT_SESSION is default
    assert "AWS_DATA_PATH" not in os.environ
    session = botocore.session.get_session()
    assert DATA_PATH not in session.get_component("data_loader").search_paths
    # Outside an activation, nothing gives credentials: given here (else botocore would look
    # for them on the instance metadata service, which the socket guard refuses).
    keys = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "y"}
    if BOTOCORE >= (1, 40, 19):
        # botocore without OpsWorks: outside an activation the service is unknown again.
        with pytest.raises(botocore.exceptions.UnknownServiceError):
            session.create_client("opsworks", **keys)
    else:
        # botocore 1.39 has its own model; the client has no owd operations and no handler.
        client = session.create_client("opsworks", **keys)
        assert "CompleteCommand" not in client.meta.service_model.operation_names


def test_an_existing_data_path_is_kept_after_the_package_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    with mock_opsworks():
        assert os.environ["AWS_DATA_PATH"] == os.pathsep.join([DATA_PATH, str(tmp_path)])
        assert deploys.stack_names() == []
    assert os.environ["AWS_DATA_PATH"] == str(tmp_path)


def test_fake_credentials_and_region_when_none_present(tmp_path, monkeypatch):
    # A credentials file with other keys: never read while fake ones are in the environment.
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAFROMTHEFILE00000\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_DEFAULT_REGION" not in os.environ
    with mock_opsworks():
        assert {k: os.environ[k] for k in FAKE_CREDENTIALS} == FAKE_CREDENTIALS
        opsworks = boto3.client("opsworks")
        assert opsworks.meta.region_name == "us-east-1"
        assert opsworks._request_signer._credentials.access_key == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        opsworks.describe_stacks()
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_SECRET_ACCESS_KEY" not in os.environ
    assert "AWS_DEFAULT_REGION" not in os.environ


def test_credentials_and_region_present_are_kept(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAGIVENBYTHEUSER00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "given")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with mock_opsworks():
        opsworks = boto3.client("opsworks")
        assert opsworks.meta.region_name == "eu-central-1"
        assert opsworks._request_signer._credentials.access_key == "AKIAGIVENBYTHEUSER00"
        assert opsworks.describe_stacks()["Stacks"] == []
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAGIVENBYTHEUSER00"
    assert os.environ["AWS_SESSION_TOKEN"] == "token"


def test_half_a_pair_is_replaced_for_the_duration(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHALFAPAIR0000000")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stale")
    with mock_opsworks():
        assert os.environ["AWS_ACCESS_KEY_ID"] == FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        assert "AWS_SESSION_TOKEN" not in os.environ
        assert boto3.client("opsworks").describe_stacks()["Stacks"] == []
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAHALFAPAIR0000000"
    assert os.environ["AWS_SESSION_TOKEN"] == "stale"
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ


# moto's class semantics.
STORES_SEEN = []


@mock_opsworks
class TestWithoutSetUp(unittest.TestCase):
    """No setUp: each test method is its own activation, from an empty store."""

    def test_a_creates(self):
        self.assertEqual(deploys.stack_names(), [])
        deploys.create_web_stack("a")
        self.assertEqual(deploys.stack_names(), ["a"])

    def test_b_starts_empty(self):
        self.assertEqual(deploys.stack_names(), [])
        deploys.create_web_stack("b")

    def helper_is_patched_too(self):
        return deploys.stack_names()

    def test_c_other_methods_run_inside(self):
        self.assertEqual(self.helper_is_patched_too(), [])

    @staticmethod
    def static_not_patched():
        return "static"

    def test_d_static_method_untouched(self):
        self.assertEqual(type(self).__dict__["static_not_patched"].__class__, staticmethod)


@mock_opsworks
class TestWithSetUp(unittest.TestCase):
    """setUp runs inside the activation, from an empty store that the test method keeps."""

    def setUp(self):
        self.stack, self.app = deploys.create_web_stack("from-setup")

    def tearDown(self):
        STORES_SEEN.append(deploys.stack_names())

    def test_sees_setup(self):
        self.assertEqual(deploys.stack_names(), ["from-setup"])
        deployment = deploys.deploy(self.stack, self.app)
        self.assertEqual(deploys.deployment_status(deployment), "running")

    def test_again_fresh(self):
        self.assertEqual(deploys.stack_names(), ["from-setup"])

    def test_teardown_saw_one_stack_each_time(self):
        for names in STORES_SEEN:
            self.assertEqual(names, ["from-setup"])


@mock_opsworks
class TestPytestStyle:
    def setup_method(self, method):
        self.stack, _ = deploys.create_web_stack("pytest-style")

    def test_one(self):
        assert deploys.stack_names() == ["pytest-style"]

    def test_two(self):
        assert deploys.stack_names() == ["pytest-style"]
        assert [s["StackId"] for s in boto3.client("opsworks").describe_stacks()["Stacks"]] == [self.stack]


@mock_opsworks
def test_boto3_client_of_an_explicit_store_answers_alone():
    from opsworks_deployments import Client, boto3_client
    with Client() as explicit:
        bridged = boto3_client(explicit)
        new_stack(bridged, name="explicit")
        assert [s["Name"] for s in explicit.describe_stacks()["Stacks"]] == ["explicit"]
        assert deploys.stack_names() == []          # the activation's store saw nothing


def test_coroutine_function():
    import asyncio

    @mock_opsworks
    async def listed():
        await asyncio.sleep(0)
        return deploys.stack_names()

    assert asyncio.run(listed()) == []
    from botocore import handlers
    assert not [e for e in handlers.BUILTIN_HANDLERS if getattr(e[1], "__module__", "") == "opsworks_deployments.mock"]
