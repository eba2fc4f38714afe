"""PEP 561 type information: the installed package carries py.typed and client.pyi (generated
from the operation table by tools/gen_shapes.py), so mypy checks calls and answers."""
import os
import subprocess
import sys

import pytest

import opsworks_deployments
from opsworks_deployments import OPERATIONS
from opsworks_deployments.client import snake_case

PACKAGE = os.path.dirname(opsworks_deployments.__file__)

RIGHT = '''
from opsworks_deployments import Client

with Client() as opsworks:
    stack: str = opsworks.create_stack(Name="s", Region="us-east-1", ServiceRoleArn="r",
                                       DefaultInstanceProfileArn="p")["StackId"]
    answer = opsworks.describe_deployments(StackId=stack)
    ids = [d["DeploymentId"] for d in answer["Deployments"]]
    names = [d["Command"]["Name"] for d in answer["Deployments"]]
    created = opsworks.create_deployment(StackId=stack, Command={"Name": "deploy", "Args": {"migrate": ["true"]}})
    print(ids, names, created["DeploymentId"].upper())
'''

WRONG = '''
from opsworks_deployments import Client

opsworks = Client()
opsworks.describe_deployments(StackId=42)
opsworks.create_deployment(StackId="s", Command={"Name": "deploy-now"})
opsworks.describe_stacks(StackIdz=["x"])
'''


def mypy(tmp_path, source):
    script = tmp_path / "sample.py"
    script.write_text(source)
    # From the test folder's parent's parent: the installed package, not the source tree.
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--strict-optional",
                           "--cache-dir", str(tmp_path / "cache"), str(script)],
                          capture_output=True, text=True, cwd=str(tmp_path))


def test_the_package_ships_py_typed_and_the_stub():
    assert os.path.isfile(os.path.join(PACKAGE, "py.typed"))
    stub = open(os.path.join(PACKAGE, "client.pyi"), encoding="utf-8").read()
    for operation in OPERATIONS:
        assert "    def %s(" % snake_case(operation) in stub, operation


def test_mypy_accepts_a_right_call(tmp_path):
    result = mypy(tmp_path, RIGHT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_a_wrong_call(tmp_path):
    result = mypy(tmp_path, WRONG)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert 'Argument "StackId" to "describe_deployments" of "Client" has incompatible type "int"' in out, out
    assert "Literal['deploy-now']" in out and 'TypedDict item "Name"' in out, out
    assert 'Unexpected keyword argument "StackIdz"' in out, out
