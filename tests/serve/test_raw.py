"""Raw HTTP against owd serve: each refusal and bound of behaviour.md section 13, with the
store unchanged after each, requests signed by real botocore (SigV4Auth) with its clock
moved where a test needs it."""
import datetime
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
from unittest import mock

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import (DEPLOY, OWD, OWNER, REGION, SHOW, Server, boto3_client, online_stack, stack,
                      write_credentials, CREDENTIALS)

TARGET = "OpsWorks_20130218."
CREATE_STACK = json.dumps({"Name": "raw", "Region": REGION, "ServiceRoleArn": "arn:aws:iam::123456789012:role/r",
                           "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/p"})


def signed(server, operation, body, credential=OWNER, secret=None, region=REGION, service="opsworks", at=None,
           headers=None):
    """The headers botocore's SigV4Auth gives a POST / (at `at`, a UTC datetime, if given)."""
    request = AWSRequest(method="POST", url=server.url + "/", data=body.encode() if isinstance(body, str) else body,
                         headers={"X-Amz-Target": TARGET + operation,
                                  "Content-Type": "application/x-amz-json-1.1", **(headers or {})})
    auth = botocore.auth.SigV4Auth(Credentials(credential["AccessKeyId"], secret or credential["SecretAccessKey"]),
                                   service, region)
    if at is None:
        auth.add_auth(request)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: at.replace(tzinfo=None)):
            auth.add_auth(request)
    return dict(request.headers.items())


def post(server, headers, body, path="/", method="POST"):
    c = http.client.HTTPConnection(server.host, server.port, timeout=30)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    c.close()
    return out


def error_of(data):
    e = json.loads(data)
    assert set(e) == {"__type", "message"}
    return e["__type"], e["message"]


def snapshot(server):
    """Everything the store holds that a refused request could have changed."""
    c = boto3_client(server, OWNER)
    out = {}
    for op, key in (("describe_stacks", "Stacks"), ("describe_deployments", "Deployments"),
                    ("describe_user_profiles", "UserProfiles"), ("describe_permissions", "Permissions")):
        out[key] = getattr(c, op)()[key]
    for s in out["Stacks"]:
        out[s["StackId"]] = c.describe_commands(DeploymentId=d["DeploymentId"]) if False else \
            [d["DeploymentId"] for d in c.describe_deployments(StackId=s["StackId"])["Deployments"]]
    return out


@pytest.fixture
def seeded(server):
    client = boto3_client(server, OWNER)
    online_stack(client)
    return server


def refused(server, status, code, headers, body, message=None):
    before = snapshot(server)
    got, h, data = post(server, headers, body)
    assert got == status, data
    t, m = error_of(data)
    assert t == code and h["x-amzn-errortype"] == code
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", h["x-amzn-requestid"])
    assert h["content-type"] == "application/x-amz-json-1.1"
    if message is not None:
        assert re.fullmatch(message, m), m
    assert snapshot(server) == before
    return m


def test_a_signed_request_is_answered(seeded):
    status, h, data = post(seeded, signed(seeded, "CreateStack", CREATE_STACK), CREATE_STACK)
    assert status == 200 and "StackId" in json.loads(data)
    assert h["content-type"] == "application/x-amz-json-1.1"


def test_unknown_access_key_is_unrecognized_client(seeded):
    stranger = {"AccessKeyId": "AKIAOWDSTRANGER0001", "SecretAccessKey": "x" * 40}
    refused(seeded, 400, "UnrecognizedClientException", signed(seeded, "CreateStack", CREATE_STACK, stranger),
            CREATE_STACK, "The security token included in the request is invalid.")


def test_wrong_signature_is_invalid_signature_and_leaks_no_expected_signature(seeded):
    now = datetime.datetime.now(datetime.timezone.utc)
    wrong = signed(seeded, "CreateStack", CREATE_STACK, secret="not-the-secret" * 3, at=now)
    right = signed(seeded, "CreateStack", CREATE_STACK, at=now)
    expected = right["Authorization"].rsplit("Signature=", 1)[1]
    m = refused(seeded, 400, "InvalidSignatureException", wrong, CREATE_STACK,
                "The request signature we calculated does not match the signature you provided.*")
    assert expected not in m and expected[:8] not in m
    # A body changed after signing is refused the same way.
    refused(seeded, 400, "InvalidSignatureException", right, CREATE_STACK.replace("raw", "RAW"))


def test_wrong_region_is_invalid_signature(seeded):
    refused(seeded, 400, "InvalidSignatureException", signed(seeded, "CreateStack", CREATE_STACK, region="eu-west-1"),
            CREATE_STACK, r"Credential should be scoped to a valid region, not 'eu-west-1'\. ")


def test_wrong_service_is_invalid_signature(seeded):
    refused(seeded, 400, "InvalidSignatureException", signed(seeded, "CreateStack", CREATE_STACK, service="codedeploy"),
            CREATE_STACK, r"Credential should be scoped to correct service: 'opsworks'\. ")


def test_clock_skew_over_5_minutes_is_invalid_signature(seeded):
    now = datetime.datetime.now(datetime.timezone.utc)
    refused(seeded, 400, "InvalidSignatureException",
            signed(seeded, "CreateStack", CREATE_STACK, at=now - datetime.timedelta(minutes=6)), CREATE_STACK,
            r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)")
    refused(seeded, 400, "InvalidSignatureException",
            signed(seeded, "CreateStack", CREATE_STACK, at=now + datetime.timedelta(minutes=6)), CREATE_STACK,
            r"Signature not yet current: .*")
    # Within the bound: accepted.
    status, _, _ = post(seeded, signed(seeded, "DescribeStacks", "{}", at=now - datetime.timedelta(minutes=4)), "{}")
    assert status == 200


def test_no_authorization_is_403_missing_authentication_token(seeded):
    headers = {"X-Amz-Target": TARGET + "CreateStack", "Content-Type": "application/x-amz-json-1.1"}
    refused(seeded, 403, "MissingAuthenticationTokenException", headers, CREATE_STACK, "Missing Authentication Token")


def test_malformed_authorization_is_incomplete_signature(seeded):
    headers = signed(seeded, "CreateStack", CREATE_STACK)
    headers["Authorization"] = headers["Authorization"].split(", Signature=")[0]
    refused(seeded, 400, "IncompleteSignatureException", headers, CREATE_STACK,
            "Authorization header requires 'Signature' parameter.")
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIAOWDOWNER0000001/x, SignedHeaders=host, Signature=00"
    refused(seeded, 400, "IncompleteSignatureException", headers, CREATE_STACK)


def test_unknown_target_is_unknown_operation(seeded):
    refused(seeded, 400, "UnknownOperationException", signed(seeded, "NoSuchOperation", "{}"), "{}",
            "Unknown operation NoSuchOperation")
    headers = signed(seeded, "DescribeStacks", "{}")
    headers["X-Amz-Target"] = "CodeDeploy_20141006.GetDeployment"
    # The target header is signed: changing it breaks the signature first.
    refused(seeded, 400, "InvalidSignatureException", headers, "{}")
    refused(seeded, 400, "UnknownOperationException",
            signed(seeded, "x", "{}", headers={"X-Amz-Target": "CodeDeploy_20141006.GetDeployment"}), "{}")
    refused(seeded, 400, "UnsupportedOperationException", signed(seeded, "RegisterVolume", "{}"), "{}",
            r"RegisterVolume is not supported: owd manages no AWS resources .*")


def test_body_that_is_not_a_json_object_is_serialization_exception(seeded):
    for body in ("{not json", "[1, 2]", '"text"', "\xff\xfe"):
        raw = body.encode("latin-1")
        refused(seeded, 400, "SerializationException", signed(seeded, "CreateStack", raw), raw,
                "The request body is not a JSON object.*")
    # An empty body is {}.
    status, _, data = post(seeded, signed(seeded, "DescribeStacks", ""), "")
    assert status == 200 and "Stacks" in json.loads(data)


def exchange(server, head, body, limit=None):
    """Sends a request head and as much of the body as the server takes; the answer."""
    s = socket.create_connection((server.host, server.port))
    s.settimeout(30)
    try:
        s.sendall(head)
        for i in range(0, len(body), 1 << 20):
            s.sendall(body[i:i + (1 << 20)])
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    while True:
        try:
            part = s.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        answer += part
        if b"\r\n\r\n" in answer and answer.endswith(b"}"):
            break
    s.close()
    return answer


def test_body_over_16_mib_is_413_by_content_length(seeded):
    before = snapshot(seeded)
    body = b"{" + b" " * (17 * 1024 * 1024) + CREATE_STACK[1:].encode()
    headers = signed(seeded, "CreateStack", body)
    head = "POST / HTTP/1.1\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    started = time.monotonic()
    answer = exchange(seeded, head.encode(), body)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"x-amzn-RequestId: " in answer and b'"__type":"RequestEntityTooLarge"' in answer
    assert time.monotonic() - started < 20
    assert snapshot(seeded) == before


def test_body_over_16_mib_is_413_by_counting_a_chunked_upload(seeded):
    before = snapshot(seeded)
    s = socket.create_connection((seeded.host, seeded.port))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Amz-Target: OpsWorks_20130218.CreateStack\r\n\r\n")
    chunk = b" " * (1024 * 1024)
    try:
        for _ in range(17):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.settimeout(30)
    answer = b""
    while True:
        try:
            part = s.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        answer += part
        if b"}" in answer:
            break
    s.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"RequestEntityTooLarge" in answer
    assert snapshot(seeded) == before


def test_16_mib_body_is_within_the_bound(seeded):
    pad = " " * (16 * 1024 * 1024 - len(CREATE_STACK) - 2)
    body = "{" + pad + CREATE_STACK[1:-1] + "}"
    assert len(body) == 16 * 1024 * 1024 - 2
    status, _, data = post(seeded, signed(seeded, "CreateStack", body), body)
    assert status == 200, data


def test_headers_over_64_kib_are_431(seeded):
    headers = signed(seeded, "CreateStack", CREATE_STACK)
    headers["X-Padding"] = "p" * (65 * 1024)
    refused(seeded, 431, "RequestHeaderFieldsTooLarge", headers, CREATE_STACK)
    # Far over: refused by libmicrohttpd's own memory bound before any owd code runs.
    before = snapshot(seeded)
    headers["X-Padding"] = "p" * (1024 * 1024)
    try:
        status, _, _ = post(seeded, headers, CREATE_STACK)
        assert status == 431
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        pass
    assert snapshot(seeded) == before


def test_a_client_that_stalls_is_disconnected_and_costs_nothing_else(tmp_path):
    server = Server(tmp_path, "--idle-timeout", "2")
    try:
        before = snapshot(server)
        stalled = socket.create_connection((server.host, server.port))
        stalled.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")   # and then nothing
        silent = socket.create_connection((server.host, server.port))               # sends nothing at all
        started = time.monotonic()
        # Others are served meanwhile.
        status, _, _ = post(server, signed(server, "DescribeStacks", "{}"), "{}")
        assert status == 200
        for s in (stalled, silent):
            s.settimeout(15)
            assert s.recv(100) == b""      # closed by the server
            s.close()
        assert 1.5 <= time.monotonic() - started < 10
        assert snapshot(server) == before
    finally:
        assert server.stop() == 0


def test_health_needs_no_authentication_and_other_paths_are_404_or_405(server):
    status, h, data = post(server, {}, None, path="/health", method="GET")
    assert (status, data) == (200, b"ok\n") and h["x-amzn-requestid"]
    status, h, data = post(server, {}, None, path="/other", method="GET")
    assert status == 404 and h["x-amzn-requestid"] and error_of(data)[0] == "NotFound"
    status, _, data = post(server, {}, None, path="/", method="GET")
    assert status == 405
    status, _, data = post(server, {}, b"x", path="/health", method="POST")
    assert status == 405


def test_every_answer_carries_a_new_request_id(server):
    ids = set()
    for path, method, headers, body in (("/health", "GET", {}, None), ("/", "POST", {}, b"{}"),
                                        ("/", "POST", signed(server, "DescribeStacks", "{}"), b"{}")):
        for _ in range(3):
            _, h, _ = post(server, headers, body, path=path, method=method)
            ids.add(h["x-amzn-requestid"])
    assert len(ids) == 9


def test_application_json_is_accepted_and_other_content_types_refused(server):
    headers = signed(server, "DescribeStacks", "{}", headers={"Content-Type": "application/json"})
    assert post(server, headers, "{}")[0] == 200
    refused(server, 400, "SerializationException",
            signed(server, "DescribeStacks", "{}", headers={"Content-Type": "text/plain"}), "{}")


def test_the_log_has_one_line_per_request_and_no_secret_signature_or_body(tmp_path):
    server = Server(tmp_path)
    marker = "body-marker-" + "q" * 20
    sent = []
    for credential in CREDENTIALS:
        body = json.dumps({"StackIds": [marker]})
        headers = signed(server, "DescribeStacks", body, credential)
        sent.append(headers["Authorization"].rsplit("Signature=", 1)[1])
        post(server, headers, body)
    bad = signed(server, "DescribeStacks", "{}", secret="wrong" * 8)
    sent.append(bad["Authorization"].rsplit("Signature=", 1)[1])
    post(server, bad, "{}")
    assert server.stop() == 0
    log = server.read_log()
    lines = [l for l in log.splitlines() if not l.startswith("owd: ")]
    assert len(lines) == 4, log
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ DescribeStacks \d{3}( \w+)? \d+\.\d{3}ms "
                            r"[0-9a-f-]{36} \S+", line), line
    assert "InvalidSignatureException" in lines[3]
    for secret in [c["SecretAccessKey"] for c in CREDENTIALS] + sent + [marker, "wrong" * 8]:
        assert secret not in log


def test_quiet_logs_no_request(tmp_path):
    server = Server(tmp_path, "--quiet")
    post(server, signed(server, "DescribeStacks", "{}"), "{}")
    assert server.stop() == 0
    assert [l for l in server.read_log().splitlines() if not l.startswith("owd: ")] == []


def test_no_auth_says_so_and_acts_as_the_owner(tmp_path):
    server = Server(tmp_path, auth=False)
    status, _, data = post(server, {"X-Amz-Target": TARGET + "DescribeUserProfiles"}, b"")
    assert status == 200 and json.loads(data) == {"UserProfiles": []}
    assert server.stop() == 0
    assert "--no-auth" in server.read_log().splitlines()[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_request_in_flight_closes_the_store_and_exits_0(tmp_path, sig):
    server = Server(tmp_path)
    body = ("{" + " " * (8 * 1024 * 1024) + CREATE_STACK[1:]).encode()
    headers = signed(server, "CreateStack", body)
    s = socket.create_connection((server.host, server.port))
    head = "POST / HTTP/1.1\r\nHost: %s:%d\r\n" % (server.host, server.port)
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
    head += f"Content-Length: {len(body)}\r\n\r\n"
    s.sendall(head.encode() + body[:1024])
    time.sleep(0.3)     # the request is in flight, half sent: now the signal
    server.process.send_signal(sig)
    time.sleep(0.3)
    assert server.process.poll() is None
    # No new connection is accepted meanwhile.
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).recv(1) or (_ for _ in ()).throw(OSError())
    s.sendall(body[1024:])
    s.settimeout(20)
    answer = b""
    while b"}" not in answer:
        part = s.recv(65536)
        if not part:
            break
        answer += part
    s.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert server.process.wait(15) == 0
    server.log.close()
    # The store was closed cleanly and holds the stack created while stopping.
    again = Server(tmp_path, store=server.store)
    try:
        assert [st["Name"] for st in boto3_client(again, OWNER).describe_stacks()["Stacks"]] == ["raw"]
    finally:
        assert again.stop() == 0


def test_credentials_that_others_can_read_are_refused_like_ssh(tmp_path):
    path = write_credentials(str(tmp_path / "open.json"), mode=0o644)
    p = subprocess.run([OWD, "serve", "--store", str(tmp_path / "s.owd"), "--port", "0", "--credentials", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == ""
    assert "permissions 0644" in p.stderr and "too open" in p.stderr
    for c in CREDENTIALS:
        assert c["SecretAccessKey"] not in p.stderr
    os.chmod(path, 0o640)
    p = subprocess.run([OWD, "serve", "--store", str(tmp_path / "s.owd"), "--port", "0", "--credentials", path],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "too open" in p.stderr


def test_bad_command_lines_are_refused_with_a_reason(tmp_path):
    store = str(tmp_path / "s.owd")
    for args, reason in ((["--store", store], "exactly one of --credentials FILE and --no-auth"),
                         (["--store", store, "--no-auth", "--credentials", "x"], "exactly one of"),
                         (["--store", store, "--no-auth", "--port", "70000"], "--port")):
        p = subprocess.run([OWD, "serve", *args], capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and reason in p.stderr, p.stderr
    help_text = subprocess.run([OWD, "serve", "--help"], capture_output=True, text=True).stdout
    for option in ("--store", "--host", "--port", "--region", "--credentials", "--no-auth", "--quiet"):
        assert option in help_text


def test_a_store_that_cannot_be_opened_is_refused_with_the_reason(tmp_path):
    p = subprocess.run([OWD, "serve", "--store", str(tmp_path / "missing" / "s.owd"), "--port", "0", "--no-auth"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("owd: cannot open store ") and "No such file or directory" in p.stderr


def test_a_port_in_use_is_refused_with_the_reason(tmp_path, server):
    p = subprocess.run([OWD, "serve", "--store", str(tmp_path / "other.owd"), "--port", str(server.port), "--no-auth"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "cannot listen on 127.0.0.1 port %d" % server.port in p.stderr
