"""Issue 20: `owd serve --tls-cert --tls-key` (HTTPS only, libmicrohttpd's GnuTLS) with a CA
and server certificate this test makes with Debian's openssl; the aws CLI and boto3 trusting
it through AWS_CA_BUNDLE; plain HTTP not served on a TLS port; every wrong key or certificate
refused at start with its reason; and section 14's rule that secrets cross the network only
encrypted: a plain-HTTP PollCommands from a peer that is not this machine gets
`*****FILTERED*****` and `SecretsWithheld`. The non-loopback peer is a second address on the
loopback interface (added by the test, root only), used as the client's source address: the
server still listens on 127.0.0.1 only."""
import http.client
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from conftest import OWD, OWNER, PROFILE, REGION, ROLE, Server, boto3_client, model_dir, stack
from test_raw import signed

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
PASSWORD = "tls-app-PASSWORD-71c0e2"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----tls-ssh-key-b5a9-----END OPENSSH PRIVATE KEY-----"
SECURE_VALUE = "tls-secure-env-VALUE-44d1"
FILTERED = "*****FILTERED*****"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate it signed for 127.0.0.1 and localhost, a key of nobody's
    certificate, a CA nobody trusts, and an encrypted key: files mode 0600 (keys)."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=owd test CA", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext", cwd=d)
    openssl("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key", cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "stranger.key", "-out", "stranger.pem", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:owd-test", "-out", "encrypted.key", cwd=d)
    for key in ("ca.key", "server.key", "other.key", "stranger.key", "encrypted.key"):
        os.chmod(d / key, 0o600)
    return d


def tls_server(folder, pki, *args, cert="server.pem", key="server.key", **kw):
    return Server(folder, "--tls-cert", str(pki / cert), "--tls-key", str(pki / key), *args, **kw)


@pytest.fixture
def https(tmp_path, pki):
    s = tls_server(tmp_path, pki)
    yield s
    if s.process.poll() is None:
        s.stop()


def refused_start(tmp_path, *args):
    """owd serve with these arguments: it must exit 1 before listening; its stderr."""
    p = subprocess.run([OWD, "serve", "--store", str(tmp_path / "s.owd"), "--no-auth", "--port", "0", *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "listening" not in p.stdout, (p.returncode, p.stdout, p.stderr)
    return p.stderr


def cli_env(home, server, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=OWNER["AccessKeyId"], AWS_SECRET_ACCESS_KEY=OWNER["SecretAccessKey"],
               AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL_OPSWORKS=server.url, AWS_MAX_ATTEMPTS="1",
               AWS_PAGER="", AWS_DATA_PATH=model_dir(), **extra)
    return env


def aws(env, *args):
    return subprocess.run([AWS, "opsworks", *args, "--output", "json"], env=env, capture_output=True, text=True,
                          timeout=60)


# --- HTTPS ---------------------------------------------------------------------------------

def test_the_aws_cli_reaches_the_tls_server_with_AWS_CA_BUNDLE_and_refuses_it_without(tmp_path, https, pki):
    assert https.url.startswith("https://127.0.0.1:")
    env = cli_env(tmp_path, https, AWS_CA_BUNDLE=str(pki / "ca.pem"))
    request = {"Name": "tls", "Region": REGION, "ServiceRoleArn": ROLE, "DefaultInstanceProfileArn": PROFILE}
    p = aws(env, "create-stack", "--cli-input-json", json.dumps(request))
    assert p.returncode == 0, p.stderr
    stack_id = json.loads(p.stdout)["StackId"]
    p = aws(env, "describe-stacks")
    assert p.returncode == 0, p.stderr
    assert [s["StackId"] for s in json.loads(p.stdout)["Stacks"]] == [stack_id]
    # The system's trust store does not hold the test's CA: verification fails, nothing is sent.
    p = aws(cli_env(tmp_path, https), "describe-stacks")
    assert p.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in p.stderr, p.stderr


def test_boto3_with_AWS_CA_BUNDLE_and_a_log_url_that_is_https(tmp_path, https, pki, monkeypatch):
    import botocore.exceptions
    monkeypatch.setenv("AWS_CA_BUNDLE", str(pki / "ca.pem"))
    client = boto3_client(https)
    s = stack(client)
    box = client.register_instance(StackId=s, Hostname="tls-box")["InstanceId"]
    app = client.create_app(StackId=s, Name="shop", Type="other",
                            AppSource={"Type": "git", "Url": "git@example.com:shop.git", "Password": PASSWORD})["AppId"]
    d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"}, InstanceIds=[box])["DeploymentId"]
    answer = client.poll_commands(InstanceId=box)
    [c] = answer["Commands"]
    assert c["App"]["AppSource"]["Password"] == PASSWORD and "SecretsWithheld" not in answer   # TLS: handed out
    client.acknowledge_command(CommandId=c["CommandId"])
    client.complete_command(CommandId=c["CommandId"], Status="successful", ExitCode=0, Log="done over TLS\n")
    [described] = client.describe_commands(DeploymentId=d)["Commands"]
    assert described["LogUrl"].startswith(f"https://127.0.0.1:{https.port}/logs/{c['CommandId']}?Expires=")
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    import urllib.request
    with urllib.request.urlopen(described["LogUrl"], context=context, timeout=10) as r:
        assert r.status == 200 and r.read() == b"done over TLS\n"
    # A CA that did not sign the server's certificate: refused by the client.
    monkeypatch.setenv("AWS_CA_BUNDLE", str(pki / "stranger.pem"))
    with pytest.raises(botocore.exceptions.SSLError):
        boto3_client(https).describe_stacks()


def test_plain_http_is_not_served_on_a_tls_port(https):
    with socket.create_connection((https.host, https.port), timeout=10) as c:
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert b"HTTP/1." not in data and b"ok" not in data, data
    # The server goes on serving TLS.
    context = ssl.create_default_context(cafile=None)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection(https.host, https.port, timeout=10, context=context)
    c.request("GET", "/health")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"ok\n"
    c.close()
    assert "TLS: HTTPS only" in https.read_log()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_can_read_is_refused(tmp_path, pki, mode):
    key = tmp_path / "open.key"
    key.write_bytes((pki / "server.key").read_bytes())
    os.chmod(key, mode)
    err = refused_start(tmp_path, "--tls-cert", str(pki / "server.pem"), "--tls-key", str(key))
    assert f"permissions 0{mode:o} for TLS key file" in err and "too open" in err and "chmod 600" in err, err
    assert "BEGIN" not in err   # nothing of the key is quoted


def test_wrong_certificates_and_keys_are_refused_with_their_reason(tmp_path, pki):
    cert, key = str(pki / "server.pem"), str(pki / "server.key")
    cases = [
        (["--tls-cert", cert, "--tls-key", str(pki / "other.key")], "does not match the certificate"),
        (["--tls-cert", cert, "--tls-key", str(pki / "encrypted.key")], "encrypted private key"),
        (["--tls-cert", str(pki / "server.csr"), "--tls-key", key], "no PEM certificate"),
        (["--tls-cert", cert, "--tls-key", str(tmp_path / "missing.key")], "cannot open TLS key file"),
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", key], "cannot open TLS certificate file"),
        (["--tls-cert", cert], "give both --tls-cert FILE and --tls-key FILE"),
        (["--tls-key", key], "give both --tls-cert FILE and --tls-key FILE"),
        (["--tls-cert", cert, "--tls-key", key, "--public-url", "http://owd.example"], "must be https://"),
    ]
    swapped = tmp_path / "swapped.key"
    swapped.write_bytes((pki / "server.pem").read_bytes())
    os.chmod(swapped, 0o600)
    cases.append((["--tls-cert", cert, "--tls-key", str(swapped)], "swapped"))
    for args, reason in cases:
        err = refused_start(tmp_path, *args)
        assert reason in err, (args, err)
        assert "PRIVATE KEY-----" not in err.replace("-----BEGIN PRIVATE KEY-----)", "")


# --- Secrets only over TLS or loopback (section 14) ------------------------------------------

@pytest.fixture(scope="module")
def outside_address():
    """A non-loopback address of this machine on the loopback interface, for the client's
    source address. Adding it needs root (CAP_NET_ADMIN); removed at the end."""
    if not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        pytest.skip("no ip(8) (iproute2) on this machine: the non-loopback peer cannot be made; "
                    "the rule itself is tested in OwdServerTests (secretsWithheld)")
    address = f"10.{random.randint(200, 250)}.{random.randint(1, 254)}.{random.randint(1, 254)}"
    p = subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot add {address} to lo ({p.stderr.strip()}; needs root): no non-loopback peer here; "
                    "the rule itself is tested in OwdServerTests (secretsWithheld)")
    yield address
    subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True)


def poll_from(server, source, instance_id, context=None, wait=0):
    body = json.dumps({"InstanceId": instance_id, "WaitTimeSeconds": wait})
    headers = signed(server, "PollCommands", body)
    if server.scheme == "https":
        c = http.client.HTTPSConnection(server.host, server.port, timeout=30, source_address=(source, 0),
                                        context=context)
    else:
        c = http.client.HTTPConnection(server.host, server.port, timeout=30, source_address=(source, 0))
    c.request("POST", "/", body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 200, data
    return json.loads(data)


def app_with_secrets(client, deploy=True):
    s = stack(client)
    box = client.register_instance(StackId=s, Hostname="far-box")["InstanceId"]
    app = client.create_app(StackId=s, Name="shop", Type="other",
                            AppSource={"Type": "git", "Url": "git@example.com:shop.git", "Password": PASSWORD,
                                       "SshKey": SSH_KEY},
                            Environment=[{"Key": "TOKEN", "Value": SECURE_VALUE, "Secure": True},
                                         {"Key": "MODE", "Value": "plain-visible", "Secure": False}])["AppId"]
    if not deploy:
        return box, lambda: client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"}, InstanceIds=[box])
    client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"}, InstanceIds=[box])
    return box


def waiting_poll(server, source, box, deploy, context=None):
    """A PollCommands with WaitTimeSeconds 20 from `source`, seen waiting in the server
    (its connection suspended: /metrics' owd_polls_waiting), then answered by the
    deployment `deploy()` creates: its answer, how long that took, and the metrics after."""
    from test_metrics import scrape, value
    got = {}
    t = threading.Thread(target=lambda: got.update(answer=poll_from(server, source, box, context=context, wait=20)))
    t.start()
    deadline = time.monotonic() + 15
    while value(scrape(server, context)[0], "owd_polls_waiting") != 1:
        assert time.monotonic() < deadline and t.is_alive(), "the poll never waited"
        time.sleep(0.02)
    started = time.monotonic()
    deploy()
    t.join(25)
    assert not t.is_alive() and "answer" in got
    return got["answer"], time.monotonic() - started, scrape(server, context)[0]


def test_a_waiting_plain_http_poll_from_another_machine_gets_no_secret_and_is_counted(tmp_path, outside_address):
    """The deferred answer (given later, from the poll waiter's thread) is filtered like an
    immediate one, logged with its reason, and counted in /metrics."""
    from test_metrics import requests, value
    server = Server(tmp_path)
    try:
        box, deploy = app_with_secrets(boto3_client(server), deploy=False)
        far, took, after = waiting_poll(server, outside_address, box, deploy)
        assert took < 5, f"the waiting poll answered {took:.1f} s after the deployment"
        [c] = far["Commands"]
        assert c["App"]["AppSource"]["Password"] == FILTERED and c["App"]["AppSource"]["SshKey"] == FILTERED
        assert {e["Key"]: e["Value"] for e in c["App"]["Environment"]}["TOKEN"] == FILTERED
        assert "plain HTTP" in far["SecretsWithheld"] and outside_address in far["SecretsWithheld"]
        text = json.dumps(far)
        assert PASSWORD not in text and SSH_KEY not in text and SECURE_VALUE not in text
        assert value(after, "owd_poll_secrets_withheld_total") == 1
        assert requests(after, "PollCommands", 200) == 1
        assert value(after, "owd_polls_waiting") == 0
        log = server.read_log()
        assert f"(secrets withheld: plain HTTP from {outside_address})" in log
        assert PASSWORD not in log and SECURE_VALUE not in log
    finally:
        assert server.stop() == 0


def test_a_waiting_poll_over_https_is_suspended_and_answered_with_the_secrets(tmp_path, pki, outside_address):
    """TLS and suspend/resume together: a waiting poll over https (from another address)
    holds no thread (other https requests are served meanwhile) and gets its command."""
    server = tls_server(tmp_path, pki, "--threads", "1")
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    try:
        client = boto3_client(server, verify=str(pki / "ca.pem"))
        box, deploy = app_with_secrets(client, deploy=False)

        def deploy_after_other_requests():
            # The only pool thread is free: these are answered while the poll waits.
            for _ in range(3):
                assert client.describe_instances(InstanceIds=[box])["Instances"]
            deploy()
        far, took, after = waiting_poll(server, outside_address, box, deploy_after_other_requests, context=context)
        assert took < 5, f"the waiting poll answered {took:.1f} s after the deployment"
        [c] = far["Commands"]
        assert c["App"]["AppSource"]["Password"] == PASSWORD and "SecretsWithheld" not in far
        from test_metrics import requests, value
        assert requests(after, "PollCommands", 200) == 1 and value(after, "owd_poll_secrets_withheld_total") == 0
    finally:
        assert server.stop() == 0


def test_a_plain_http_poll_from_another_machine_gets_no_secret_and_says_why(tmp_path, outside_address):
    server = Server(tmp_path)
    try:
        client = boto3_client(server)
        box = app_with_secrets(client)
        far = poll_from(server, outside_address, box)
        [c] = far["Commands"]
        assert c["App"]["AppSource"]["Password"] == FILTERED and c["App"]["AppSource"]["SshKey"] == FILTERED
        env = {e["Key"]: e["Value"] for e in c["App"]["Environment"]}
        assert env == {"TOKEN": FILTERED, "MODE": "plain-visible"}
        assert "plain HTTP" in far["SecretsWithheld"] and outside_address in far["SecretsWithheld"]
        assert "--tls-cert" in far["SecretsWithheld"]
        text = json.dumps(far)
        assert PASSWORD not in text and SSH_KEY not in text and SECURE_VALUE not in text
        # The SDK sees the reason too (the model's PollCommandsResult has it).
        # From this machine (loopback) the same poll hands the secrets out, without a reason.
        near = client.poll_commands(InstanceId=box)
        assert near["Commands"][0]["App"]["AppSource"]["Password"] == PASSWORD and "SecretsWithheld" not in near
        log = server.read_log()
        assert f"PollCommands 200" in log and f"(secrets withheld: plain HTTP from {outside_address})" in log
        assert PASSWORD not in log and SECURE_VALUE not in log
    finally:
        server.stop()


def test_a_tls_poll_from_another_machine_gets_the_secrets(tmp_path, pki, outside_address):
    server = tls_server(tmp_path, pki)
    try:
        client = boto3_client(server, verify=str(pki / "ca.pem"))
        box = app_with_secrets(client)
        far = poll_from(server, outside_address, box, context=ssl.create_default_context(cafile=str(pki / "ca.pem")))
        [c] = far["Commands"]
        assert c["App"]["AppSource"]["Password"] == PASSWORD and "SecretsWithheld" not in far
        assert {e["Key"]: e["Value"] for e in c["App"]["Environment"]}["TOKEN"] == SECURE_VALUE
    finally:
        server.stop()


def test_the_sdk_shows_secrets_withheld(tmp_path, outside_address):
    """boto3 parses SecretsWithheld (it is in the installed model), as an agent on boto3 logs it."""
    import botocore.httpsession
    server = Server(tmp_path)
    try:
        client = boto3_client(server)
        box = app_with_secrets(client)
        original = botocore.httpsession.URLLib3Session._get_connection_manager

        def from_outside(self, url, proxy_config=None):
            manager = original(self, url, proxy_config)
            manager.connection_pool_kw["source_address"] = (outside_address, 0)
            return manager
        botocore.httpsession.URLLib3Session._get_connection_manager = from_outside
        try:
            far = boto3_client(server).poll_commands(InstanceId=box)
        finally:
            botocore.httpsession.URLLib3Session._get_connection_manager = original
        assert far["Commands"][0]["App"]["AppSource"]["Password"] == FILTERED
        assert "plain HTTP" in far["SecretsWithheld"]
    finally:
        server.stop()
