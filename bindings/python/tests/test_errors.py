"""Every error class: AWS's three as ClientError subclasses, and the library's own."""
import os
import shutil
import pickle
import subprocess
import sys
import tempfile

import pytest

import opsworks_deployments as owd
from opsworks_deployments import Client

from conftest import BOB, new_stack


def test_client_exceptions_are_client_error_subclasses(client):
    for name in ("ValidationException", "ResourceNotFoundException", "AccessDeniedException"):
        cls = getattr(client.exceptions, name)
        assert issubclass(cls, owd.ClientError) and cls is getattr(owd, name)
        assert client.exceptions.from_code(name) is cls
    assert client.exceptions.ClientError is owd.ClientError


def test_client_error_is_botocores_when_installed():
    botocore_exceptions = pytest.importorskip("botocore.exceptions")
    assert issubclass(owd.ClientError, botocore_exceptions.ClientError)
    assert issubclass(owd.WaiterError, botocore_exceptions.WaiterError)


def test_validation_exception(client):
    with pytest.raises(client.exceptions.ValidationException) as e:
        client.describe_deployments(StackId="a", AppId="b")
    assert e.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Please provide either one or more deployment IDs or one stack ID or one app ID"}
    assert e.value.operation_name == "DescribeDeployments"
    assert str(e.value) == ("An error occurred (ValidationException) when calling the DescribeDeployments "
                            "operation: Please provide either one or more deployment IDs or one stack ID or one app ID")


def test_unknown_and_mistyped_members_are_validation_errors(client):
    with pytest.raises(client.exceptions.ValidationException, match="Bogus"):
        client.describe_deployments(Bogus=1)
    with pytest.raises(client.exceptions.ValidationException, match="StackId"):
        client.describe_deployments(StackId=5)
    with pytest.raises(client.exceptions.ValidationException, match="Command"):
        client.create_deployment(StackId="x")


def test_resource_not_found_exception(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as e:
        client.describe_deployments(DeploymentIds=["nope"])
    assert e.value.response["Error"]["Message"] == "Unable to find deployment with ID nope"
    assert e.value.operation_name == "DescribeDeployments"


def test_access_denied_exception(client):
    stack = new_stack(client)
    with pytest.raises(client.exceptions.AccessDeniedException) as e:
        client.as_user(BOB).describe_stacks(StackIds=[stack])
    assert e.value.response["Error"]["Message"] == (
        "User: %s is not authorized to perform: opsworks:DescribeStacks on resource: "
        "arn:aws:opsworks:us-east-1:123456789012:stack/%s/" % (BOB, stack))


def test_client_error_catches_all_three(client):
    with pytest.raises(owd.ClientError):
        client.describe_stacks(StackIds=["nope"])


def test_client_error_pickles(client):
    with pytest.raises(owd.ClientError) as e:
        client.describe_stacks(StackIds=["nope"])
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is owd.ResourceNotFoundException and again.response == e.value.response


def test_library_errors_are_not_client_errors():
    for cls in (owd.InvalidArgumentError, owd.StoreBusyError, owd.StoreError,
                owd.OutOfMemoryError, owd.InternalError, owd.ClientClosedError):
        assert issubclass(cls, owd.OwdError) and not issubclass(cls, owd.ClientError)


def test_unreadable_store_is_a_store_error(tmp_path):
    path = tmp_path / "not-a-store"
    path.write_bytes(b"hello, I am not SQLite" * 100)
    with pytest.raises(owd.StoreError) as e:
        Client(str(path))
    assert e.value.code == -6 and e.value.type == "StoreError" and str(path) in e.value.message
    assert path.read_bytes() == b"hello, I am not SQLite" * 100  # left untouched


def test_unreadable_file_is_a_store_error():
    """A store file its user cannot read is a StoreError. Root reads any file through its
    capabilities, so as root (CI) the open is tried by root without any capability
    (setpriv): the permission bits of the file then apply to it as to anyone, while the
    interpreter, the venv and the package stay readable wherever the clone is (a 0700
    folder included, which `nobody` could not enter)."""
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "locked.owd")
    Client(path).close()
    os.chmod(path, 0)
    if os.geteuid() != 0:
        with pytest.raises(owd.StoreError):
            Client(path)
        return
    probe = ("import sys, opsworks_deployments as o\n"
             "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff:')]\n"
             "assert caps == ['CapEff:\\t0000000000000000\\n'], caps\n"
             "try:\n    o.Client(sys.argv[1])\n"
             "except o.StoreError as e:\n    print(e.message)\n    sys.exit(0)\n"
             "sys.exit(1)\n")
    result = subprocess.run(["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all",
                             "--", sys.executable, "-c", probe, path], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path in result.stdout
    # The control: with its capabilities, root opens the same file.
    with Client(path):
        pass
    shutil.rmtree(folder)


def test_directory_is_a_store_error(tmp_path):
    with pytest.raises(owd.StoreError):
        Client(str(tmp_path))


def test_unknown_operation_is_invalid_argument(client):
    # A name the model lacks: UnknownOperationException, owd's InvalidArgument (-4).
    with pytest.raises(owd.InvalidArgumentError) as e:
        client.call("DeleteEverything", {})
    assert e.value.code == -4 and e.value.type == "UnknownOperationException"


def test_unsupported_operation_is_a_client_error(client):
    # An operation of the model that owd does not serve: AWS-shaped, code -9 in C.
    with pytest.raises(owd.UnsupportedOperationException) as e:
        client.call("AssignVolume", {"VolumeId": "v"})
    assert isinstance(e.value, owd.ClientError)
    assert e.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "owd manages no AWS resources" in e.value.response["Error"]["Message"]
    assert client.exceptions.from_code("UnsupportedOperationException") is owd.UnsupportedOperationException


def test_bad_options_are_rejected():
    with pytest.raises(owd.InvalidArgumentError):
        Client(busy_timeout_ms=-1)
    with pytest.raises(ValueError):
        Client(durability="sometimes")
    with pytest.raises(TypeError):
        Client(clock=5)


def test_values_json_cannot_carry_are_rejected_before_the_call(client):
    with pytest.raises(TypeError, match="set"):
        client.describe_deployments(DeploymentIds={"a"})


def test_closed_client_raises(clock):
    c = Client(clock=clock)
    c.close()
    c.close()  # idempotent
    assert c.closed
    with pytest.raises(owd.ClientClosedError):
        c.describe_stacks()
    with pytest.raises(owd.ClientClosedError):
        c.as_user(BOB)


def test_clock_failure_is_raised(client):
    def broken():
        raise RuntimeError("clock broke")
    with Client(clock=broken) as c:
        with pytest.raises(RuntimeError, match="clock broke"):
            new_stack(c)


def test_the_clock_callback_stays_alive_with_the_client():
    import gc
    c = Client(clock=lambda: 1374778654)
    gc.collect()
    stack = new_stack(c)
    child = c.as_user(None)
    del c
    gc.collect()
    assert child.describe_stacks(StackIds=[stack])["Stacks"][0]["CreatedAt"] == "2013-07-25T18:57:34+00:00"
    new_stack(child)  # calls the clock through the child alone
    child.close()
