"""The socket guard of conftest.py can fail a test: a connection is refused and recorded,
and a client used after its activation stopped is no longer answered in-process (its
request tries to leave, and the guard stops it). Every other test of the suite ends with
no attempt recorded (conftest.isolated)."""
import socket

import boto3
import botocore.config
import pytest

from conftest import ATTEMPTS, NetworkUsed
from opsworks_deployments import mock_opsworks


def take_attempts():
    attempts, ATTEMPTS[:] = list(ATTEMPTS), []
    return attempts


def test_guard_refuses_and_records():
    with pytest.raises(NetworkUsed):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkUsed):
        socket.getaddrinfo("opsworks.us-east-1.amazonaws.com", 443)
    with socket.socket() as s, pytest.raises(NetworkUsed):
        s.connect(("127.0.0.1", 9))
    assert [what for what, _ in take_attempts()] == ["create_connection", "getaddrinfo", "socket.connect"]


def test_a_client_used_after_stop_is_not_answered():
    with mock_opsworks():
        opsworks = boto3.client("opsworks", config=botocore.config.Config(retries={"total_max_attempts": 1}))
        assert opsworks.describe_stacks()["Stacks"] == []
        assert ATTEMPTS == []
    with pytest.raises(Exception) as raised:
        opsworks.describe_stacks()
    assert "a request tried to leave the process" in str(raised.value)
    attempts = take_attempts()
    assert attempts and attempts[0][0] == "getaddrinfo"
    assert attempts[0][1][0] == "opsworks.us-east-1.amazonaws.com"
