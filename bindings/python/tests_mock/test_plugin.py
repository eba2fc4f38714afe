"""The pytest plugin (entry point pytest11, no conftest import): the `opsworks` fixture
and the `mock_opsworks` marker."""
import boto3
import pytest

import deploys
from conftest import new_stack


def test_fixture_is_a_real_botocore_client(opsworks):
    from botocore.client import BaseClient
    assert isinstance(opsworks, BaseClient)
    assert opsworks.meta.service_model.service_name == "opsworks"
    stack = new_stack(opsworks)
    # Code under test building its own client sees the same store.
    assert deploys.stack_names() == ["shop"]
    assert opsworks.describe_stacks(StackIds=[stack])["Stacks"][0]["Name"] == "shop"


def test_fixture_starts_empty(opsworks):
    assert opsworks.describe_stacks()["Stacks"] == []


@pytest.fixture
def web_stack():
    """A fixture of the user's own, set up inside the marker's activation."""
    return deploys.create_web_stack("from-fixture")


@pytest.mark.mock_opsworks
def test_marker_covers_fixtures(web_stack):
    stack, app = web_stack
    assert deploys.stack_names() == ["from-fixture"]
    assert deploys.deployment_status(deploys.deploy(stack, app)) == "running"


@pytest.mark.mock_opsworks
def test_marker_starts_empty():
    assert deploys.stack_names() == []


@pytest.mark.mock_opsworks
def test_marker_and_fixture_share_the_store(opsworks):
    deploys.create_web_stack("shared")
    assert [s["Name"] for s in opsworks.describe_stacks()["Stacks"]] == ["shared"]


@pytest.mark.mock_opsworks(path=None)
def test_marker_arguments():
    assert boto3.client("opsworks").describe_stacks()["Stacks"] == []


def test_unmarked_test_is_not_patched():
    from botocore import handlers
    assert not [e for e in handlers.BUILTIN_HANDLERS if getattr(e[1], "__module__", "") == "opsworks_deployments.mock"]


def test_marker_is_registered(pytestconfig):
    assert any(line.startswith("mock_opsworks") for line in pytestconfig.getini("markers"))


def test_plugin_loaded_through_its_entry_point(pytestconfig):
    plugin = pytestconfig.pluginmanager.get_plugin("opsworks_deployments")
    assert plugin is not None and plugin.__name__ == "opsworks_deployments.pytest_plugin"
