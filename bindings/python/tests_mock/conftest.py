"""The sample suite of mock_opsworks, written as a moto user writes tests: the code under
test builds its own clients with boto3.client("opsworks"). make test runs it on botocore
1.39.17 and on the current botocore, with no AWS variable set and an empty HOME.

No request may leave the process: while the suite runs, every DNS lookup and socket
connection fails the test that made it (socket.getaddrinfo, socket.create_connection,
socket.socket.connect/connect_ex are refused and recorded)."""
import os
import socket

import pytest

ROLE = "arn:aws:iam::123456789012:role/aws-opsworks-service-role"
PROFILE = "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"

ATTEMPTS = []


class NetworkUsed(AssertionError):
    pass


def _refuse(what):
    def refused(*args, **kwargs):
        ATTEMPTS.append((what, args[1:] if what.startswith("socket.connect") else args))
        raise NetworkUsed("a request tried to leave the process: %s%r" % (what, args))
    return refused


@pytest.fixture(scope="session", autouse=True)
def no_network():
    saved = (socket.getaddrinfo, socket.create_connection, socket.socket.connect, socket.socket.connect_ex)
    socket.getaddrinfo = _refuse("getaddrinfo")
    socket.create_connection = _refuse("create_connection")
    socket.socket.connect = _refuse("socket.connect")
    socket.socket.connect_ex = _refuse("socket.connect_ex")
    yield ATTEMPTS
    socket.getaddrinfo, socket.create_connection, socket.socket.connect, socket.socket.connect_ex = saved


def _aws_environment():
    return {name: value for name, value in os.environ.items() if name.startswith("AWS_")}


@pytest.fixture(autouse=True)
def isolated(no_network):
    """Each test: no network use, and the AWS environment as it was before it (every
    activation restores what it changed)."""
    before = _aws_environment()
    yield
    attempts, ATTEMPTS[:] = list(ATTEMPTS), []
    assert not attempts, "requests left the process: %r" % attempts
    assert _aws_environment() == before


def new_stack(opsworks, name="shop"):
    return opsworks.create_stack(Name=name, Region="us-east-1", ServiceRoleArn=ROLE,
                                 DefaultInstanceProfileArn=PROFILE)["StackId"]
