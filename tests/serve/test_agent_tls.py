"""Issue 20 with the real `owd agent`: against the TLS server with --ca-file (the test's own
CA), refusing a server it cannot verify without it, --insecure-skip-verify warning and
working; and a plain-HTTP agent whose address is not a loopback one (the server listens on
a second address of the loopback interface, made by the test) gets no secret, and its log
says why."""
import json
import signal
import subprocess

import pytest

from conftest import Server, boto3_client, stack
from test_agent import Agent, finished, stop_promptly
from test_tls import FILTERED, PASSWORD, SECURE_VALUE, outside_address, pki, tls_server  # noqa: F401 (fixtures)

# The hook copies what the agent handed it (OWD_CONTEXT: the command with its app) into its log.
HOOK_CONTEXT = 'echo "context:"; cat "$OWD_CONTEXT"; echo\n'


@pytest.fixture
def agents():
    started = []
    yield started
    for a in started:
        if a.process and a.process.poll() is None:
            a.stop(signal.SIGKILL)


def app_with_secrets(client, s):
    return client.create_app(StackId=s, Name="shop", Type="other",
                             AppSource={"Type": "git", "Url": "git@example.com:shop.git", "Password": PASSWORD},
                             Environment=[{"Key": "TOKEN", "Value": SECURE_VALUE, "Secure": True}])["AppId"]


def tls_client(server, pki):  # noqa: F811
    """boto3 trusting the test's CA."""
    return boto3_client(server, verify=str(pki / "ca.pem"))


def stack_of(client):
    return stack(client)


def context_of(client, deployment):
    [c] = client.describe_commands(DeploymentId=deployment)["Commands"]
    assert c["Status"] == "successful", c
    return c


def log_text(client, command, pki=None):  # noqa: F811
    import ssl
    import urllib.request
    context = ssl.create_default_context(cafile=str(pki / "ca.pem")) if pki else None
    with urllib.request.urlopen(command["LogUrl"], context=context, timeout=10) as r:
        return r.read().decode()


def test_an_agent_with_ca_file_runs_a_deployment_over_tls_and_gets_the_secrets(tmp_path, pki, agents):  # noqa: F811
    server = tls_server(tmp_path, pki)
    try:
        client = tls_client(server, pki)
        s = stack_of(client)
        app = app_with_secrets(client, s)
        agents.append(Agent(tmp_path, server, s, "tls-box", {"deploy": HOOK_CONTEXT}, args=["--ca-file", str(pki / "ca.pem")]))
        d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"})["DeploymentId"]
        assert finished(client, d)["Status"] == "successful"
        c = context_of(client, d)
        assert c["LogUrl"].startswith(f"https://127.0.0.1:{server.port}/logs/")
        text = log_text(client, c, pki)
        assert PASSWORD in text and SECURE_VALUE in text and FILTERED not in text
        assert "WARNING" not in agents[0].read_log() and "withheld" not in agents[0].read_log()
    finally:
        stop_promptly(server)


def test_an_agent_refuses_a_server_it_cannot_verify(tmp_path, pki, agents):  # noqa: F811
    server = tls_server(tmp_path, pki)
    try:
        client = tls_client(server, pki)
        s = stack_of(client)
        # The system's trust store does not hold the test's CA; nor does a CA file of another CA.
        for extra in ([], ["--ca-file", str(pki / "stranger.pem")]):
            a = Agent(tmp_path, server, s, f"refused{len(extra)}", args=extra, start=False)
            p = subprocess.run(a.command, env=a.env, capture_output=True, text=True, timeout=60)
            assert p.returncode != 0, (p.stdout, p.stderr)
            assert "owd agent: instance" not in p.stdout
            assert "certificate" in p.stderr.lower(), p.stderr
        assert client.describe_instances(StackId=s)["Instances"] == [], "nothing was registered"
    finally:
        stop_promptly(server)


def test_insecure_skip_verify_warns_and_works(tmp_path, pki, agents):  # noqa: F811
    server = tls_server(tmp_path, pki)
    try:
        client = tls_client(server, pki)
        s = stack_of(client)
        app = app_with_secrets(client, s)
        a = Agent(tmp_path, server, s, "insecure-box", {"deploy": HOOK_CONTEXT}, args=["--insecure-skip-verify"])
        agents.append(a)
        d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"})["DeploymentId"]
        assert finished(client, d)["Status"] == "successful"
        assert "WARNING: --insecure-skip-verify" in a.read_log()
        # At every start.
        a.stop()
        a.start()
        assert a.read_log().count("WARNING: --insecure-skip-verify") == 2
    finally:
        stop_promptly(server)


def test_a_plain_http_agent_from_another_address_gets_no_secret_and_logs_why(tmp_path, outside_address, agents):  # noqa: F811
    # The server listens on the test's second address of lo: the agent's connection comes
    # from that address, which is not a loopback one.
    server = Server(tmp_path, "--host", outside_address)
    try:
        assert server.url.startswith(f"http://{outside_address}:")
        client = boto3_client(server)
        s = stack_of(client)
        app = app_with_secrets(client, s)
        a = Agent(tmp_path, server, s, "far-box", {"deploy": HOOK_CONTEXT})
        agents.append(a)
        d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"})["DeploymentId"]
        assert finished(client, d)["Status"] == "successful"
        text = log_text(client, context_of(client, d))
        assert PASSWORD not in text and SECURE_VALUE not in text
        context = json.loads(text.split("context:\n", 1)[1])
        assert context["App"]["AppSource"]["Password"] == FILTERED
        log = a.read_log()
        assert "withheld the secrets" in log and f"plain HTTP from {outside_address}" in log, log
        assert "secrets withheld: plain HTTP from" in server.read_log()
    finally:
        stop_promptly(server)
