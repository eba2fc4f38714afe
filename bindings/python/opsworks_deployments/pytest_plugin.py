"""The pytest plugin (entry point pytest11): the `opsworks` fixture and the
`mock_opsworks` marker, both opsworks_deployments.mock_opsworks.

    def test_stacks(opsworks):                      # a real botocore client, answered by owd
        opsworks.create_stack(...)

    @pytest.mark.mock_opsworks                      # or mock_opsworks(path="x.owd")
    def test_deploy():
        boto3.client("opsworks").describe_stacks()

A marked test is inside the activation from before its first fixture is set up until
after its last one is torn down; the fixture opens its own activation (nested inside the
marker's when both are used, so they share the store).
"""
import pytest

from .mock import MockOpsWorks

_ACTIVE = pytest.StashKey()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "mock_opsworks(path=None): every OpsWorks client created during the test is answered "
        "in-process by owd (opsworks_deployments.mock_opsworks), from an empty store or the file at path")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    marker = item.get_closest_marker("mock_opsworks")
    if marker is not None:
        mock = MockOpsWorks(*marker.args, **marker.kwargs)
        mock.start()
        item.stash[_ACTIVE] = mock
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    mock = item.stash.get(_ACTIVE, None)
    if mock is not None:
        del item.stash[_ACTIVE]
        mock.stop()


@pytest.fixture
def opsworks():
    """A real botocore OpsWorks client (boto3's when boto3 is installed) answered by owd,
    inside an activation of mock_opsworks for the test's duration."""
    with MockOpsWorks():
        try:
            import boto3
        except ImportError:
            import botocore.session
            yield botocore.session.get_session().create_client("opsworks")
        else:
            yield boto3.client("opsworks")
