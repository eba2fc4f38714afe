"""`owd agent` (issue 16, behaviour.md section 14) end to end: a real `owd serve` on
loopback, real agent processes with their own hooks folders and state folders, deployments
created through the aws CLI and boto3. Every wait is a poll against a deadline."""
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import OWD, OWNER, REGION, Server, boto3_client, first_line, model_dir, stack

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
PASSWORD = "agent-app-PASSWORD-51c0de"
SECURE_VALUE = "secure-env-VALUE-77aa01"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def stop_promptly(server, within=5):
    """SIGTERM, exit 0 within `within` seconds (its waiting polls answered at once, not at the
    end of their 20 s, and kept connections closed), the stop lines in its log."""
    started = time.monotonic()
    assert server.stop(signal.SIGTERM, timeout=30) == 0, server.read_log()
    took = time.monotonic() - started
    assert took < within, f"owd serve took {took:.1f} s to stop"
    log = server.read_log()
    assert "SIGTERM: stopped accepting connections" in log and "store closed; exiting" in log, log
    assert "still in flight after 10 s" not in log
    return took


def polls_waiting(server):
    from test_metrics import scrape, value
    return value(scrape(server)[0], "owd_polls_waiting")


def connections(pid, port):
    """The local ports of process pid's established TCP connections to 127.0.0.1:port."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if inode in inodes and state == "01" and remote == f"0100007F:{port:04X}":
                ports.add(int(local.split(":")[1], 16))
    return ports


def until(what, check, timeout=60, every=0.05):
    """check() until it returns something true; its value. Fails naming what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


def agent_env(credential=OWNER, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=credential["AccessKeyId"], AWS_SECRET_ACCESS_KEY=credential["SecretAccessKey"])
    env.update(extra)
    return env


class Agent:
    """One `owd agent` process; its hooks are written into its own folder."""

    def __init__(self, folder, server, stack_id, hostname, hooks=None, args=(), env=None, start=True):
        self.folder = folder
        self.hooks = folder / f"hooks-{hostname}"
        self.state = folder / f"state-{hostname}"
        self.hooks.mkdir(exist_ok=True)
        for name, text in (hooks or {}).items():
            self.hook(name, text)
        self.command = [OWD, "agent", "--endpoint", server.url, "--stack-id", stack_id, "--hooks", str(self.hooks),
                        "--state-dir", str(self.state), "--hostname", hostname, "--region", REGION, *args]
        self.env = env or agent_env()
        self.log_path = folder / f"agent-{hostname}.log"
        self.process = None
        if start:
            self.start()

    def hook(self, name, text, mode=0o755):
        path = self.hooks / name
        path.write_text("#!/bin/sh\n" + text)
        path.chmod(mode)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        line = self.first_line(30)
        assert line.startswith("owd agent: instance "), f"first line {line!r}; log: {self.read_log()}"
        self.instance = line.split()[3]
        return self.instance

    def first_line(self, timeout):
        return first_line(self.process, timeout, "owd agent", self.read_log)

    def read_log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self.process.stdout.close()
            self.log.close()


@pytest.fixture
def server(tmp_path):
    """owd serve for agents, stopped with SIGTERM at the end (after the agents fixture's
    teardown): promptly, although polls of agents already gone may still be waiting."""
    s = Server(tmp_path)
    yield s
    if s.process.poll() is None:
        stop_promptly(s)


@pytest.fixture
def agents():
    started = []
    yield started
    for a in started:
        if a.process and a.process.poll() is None:
            a.stop(signal.SIGKILL)


def finished(client, deployment, timeout=60):
    def done():
        [d] = client.describe_deployments(DeploymentIds=[deployment])["Deployments"]
        return d if d["Status"] != "running" else None
    return until(f"deployment {deployment} finishes", done, timeout)


def commands_by_instance(client, deployment):
    return {c["InstanceId"]: c for c in client.describe_commands(DeploymentId=deployment)["Commands"]}


def site(client, s):
    return client.create_app(StackId=s, Name="site", Type="other")["AppId"]


def deploy(client, s, app, **more):
    return client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"}, **more)["DeploymentId"]


def cli_env(home, server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=OWNER["AccessKeyId"], AWS_SECRET_ACCESS_KEY=OWNER["SecretAccessKey"],
               AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL_OPSWORKS=server.url, AWS_MAX_ATTEMPTS="1", AWS_PAGER="",
               AWS_DATA_PATH=model_dir())
    return env


def aws(env, *args):
    p = subprocess.run([AWS, "opsworks", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"aws opsworks {' '.join(args)}: {p.returncode}\n{p.stderr}"
    return json.loads(p.stdout) if p.stdout.strip() else None


HOOK_REPORTING = """echo "deploy on $(hostname_given) out"
echo "to stderr" >&2
echo "command=$OWD_COMMAND id=$OWD_COMMAND_ID deployment=$OWD_DEPLOYMENT_ID stack=$OWD_STACK_ID instance=$OWD_INSTANCE_ID app=${OWD_APP_ID:-none}"
echo "cwd=$(pwd)"
echo "stdin=$(readlink /proc/self/fd/0)"
echo "secret-key=${AWS_SECRET_ACCESS_KEY:-unset}"
"""


def test_three_agents_run_a_cli_deployment_and_report_exit_codes_and_logs(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    for host in "abc":
        hook = HOOK_REPORTING.replace("$(hostname_given)", host)
        agents.append(Agent(tmp_path, server, s, host, {"deploy": hook}))
    ids = {a.instance: a for a in agents}
    app = site(client, s)
    described = client.describe_instances(StackId=s)["Instances"]
    assert sorted(i["Hostname"] for i in described) == ["a", "b", "c"]
    assert all(i["Status"] == "online" for i in described)

    env = cli_env(tmp_path, server)
    d = aws(env, "create-deployment", "--stack-id", s, "--app-id", app, "--command", "Name=deploy")["DeploymentId"]
    aws(env, "wait", "deployment-successful", "--deployment-ids", d)
    commands = aws(env, "describe-commands", "--deployment-id", d)["Commands"]
    assert len(commands) == 3
    for c in commands:
        assert c["Status"] == "successful" and c["ExitCode"] == 0 and c["Type"] == "deploy", c
        assert c["AcknowledgedAt"] and c["CompletedAt"]
        a = ids[c["InstanceId"]]
        status, page = get(c["LogUrl"])   # no credentials
        assert status == 200
        host = a.command[a.command.index("--hostname") + 1]
        assert f"deploy on {host} out\n" in page and "to stderr\n" in page
        assert (f"command=deploy id={c['CommandId']} deployment={d} stack={s} instance={c['InstanceId']} app={app}"
                in page)
        work = str(a.state / "commands") + "/"
        assert f"cwd={work}{c['CommandId']}\n" in page
        assert "stdin=/dev/null\n" in page
        assert "secret-key=unset\n" in page, "the hook must not get the agent's credentials"
        assert os.listdir(a.state / "commands") == [], "the working folder and context file are removed"
        assert f"deploy {d} {c['CommandId']}: successful, exit 0," in a.read_log()

    # A hook that exits 3 on one instance: the deployment failed, that command ExitCode 3,
    # and the agent goes on (the next deployment runs everywhere).
    agents[1].hook("deploy", "echo failing; exit 3\n")
    d2 = deploy(client, s, app)
    assert finished(client, d2)["Status"] == "failed"
    by = commands_by_instance(client, d2)
    assert by[agents[1].instance]["Status"] == "failed" and by[agents[1].instance]["ExitCode"] == 3
    assert get(by[agents[1].instance]["LogUrl"])[1] == "failing\n"
    for a in (agents[0], agents[2]):
        assert by[a.instance]["Status"] == "successful" and by[a.instance]["ExitCode"] == 0
    agents[1].hook("deploy", "echo fixed\n")
    d3 = deploy(client, s, app)
    assert finished(client, d3)["Status"] == "successful"

    # No executable hook for the command: skipped (a non-executable file is not a hook).
    agents[0].hook("configure", "echo never\n", mode=0o644)
    d4 = client.create_deployment(StackId=s, Command={"Name": "configure"})["DeploymentId"]
    assert finished(client, d4)["Status"] == "successful"
    assert {c["Status"] for c in commands_by_instance(client, d4).values()} == {"skipped"}

    # SIGTERM with nothing running: exit 0, a stop line.
    for a in agents:
        assert a.stop() == 0
        assert "SIGTERM: stopped" in a.read_log()


def test_a_hook_past_the_command_timeout_is_killed_with_what_it_started_and_failed(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    marker = tmp_path / "child.pid"
    # The hook ignores SIGTERM, and leaves a grandchild that would outlive it.
    hook = f"""sleep 300 &
echo $! > {marker}
trap '' TERM
echo started
sleep 300
"""
    a = Agent(tmp_path, server, s, "slow", {"deploy": hook}, args=("--command-timeout", "1", "--kill-grace", "1"))
    agents.append(a)
    d = deploy(client, s, app)
    assert finished(client, d)["Status"] == "failed"
    [c] = client.describe_commands(DeploymentId=d)["Commands"]
    assert c["Status"] == "failed" and c["ExitCode"] == 128 + signal.SIGKILL
    log = get(c["LogUrl"])[1]
    assert log.startswith("started\n") and "the 1 s timeout" in log and "SIGKILL" in log
    grandchild = int(marker.read_text())
    until("the hook's grandchild is killed too", lambda: not os.path.exists(f"/proc/{grandchild}")
          or open(f"/proc/{grandchild}/stat").read().split()[2] == "Z", 10)

    # The agent goes on.
    a.hook("deploy", "echo quick\n")
    d2 = deploy(client, s, app)
    assert finished(client, d2)["Status"] == "successful"


def test_an_agent_killed_while_its_hook_runs_fails_that_command_when_it_starts_again(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    pidfile = tmp_path / "hook.pid"
    a = Agent(tmp_path, server, s, "crashy", {"deploy": f"echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 300\n"})
    agents.append(a)
    first = a.instance
    d = deploy(client, s, app)
    hook_pid = int(until("the hook runs", lambda: pidfile.exists() and pidfile.read_text().strip()))
    try:
        assert a.stop(signal.SIGKILL) == -signal.SIGKILL
        [c] = client.describe_commands(DeploymentId=d)["Commands"]
        assert c["Status"] == "pending" and c["AcknowledgedAt"]
        a.hook("deploy", "echo after the restart\n")
        assert a.start() == first, "a restart reuses the instance ID of the state folder"
        assert finished(client, d)["Status"] == "failed"
        [c] = client.describe_commands(DeploymentId=d)["Commands"]
        assert c["Status"] == "failed"
        assert "cannot know how far" in get(c["LogUrl"])[1]
        assert f"{c['CommandId']}: failed, interrupted by the agent's restart" in a.read_log()
        assert os.listdir(a.state / "commands") == []
        # The old hook, left running by the killed agent, does not run beside the next one.
        until("the orphaned hook is killed", lambda: not os.path.exists(f"/proc/{hook_pid}")
              or open(f"/proc/{hook_pid}/stat").read().split()[2] == "Z", 10)
        assert f"killed process group {hook_pid}" in a.read_log()
        d2 = deploy(client, s, app)
        assert finished(client, d2)["Status"] == "successful"
        [c2] = client.describe_commands(DeploymentId=d2)["Commands"]
        assert get(c2["LogUrl"])[1] == "after the restart\n"
        assert len(client.describe_instances(StackId=s)["Instances"]) == 1
    finally:
        try:
            os.kill(hook_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigterm_finishes_the_running_hook_and_the_instance_shows_connection_lost_only_once_the_agent_is_gone(tmp_path, agents):
    server = Server(tmp_path, "--connection-lost-after", "2")
    try:
        client = boto3_client(server)
        s = stack(client)
        app = site(client, s)
        started = tmp_path / "started"
        a = Agent(tmp_path, server, s, "lasting", {"deploy": f"touch {started}; sleep 5; echo finished\n"})
        agents.append(a)

        def status():
            return client.describe_instances(InstanceIds=[a.instance])["Instances"][0]["Status"]

        d = deploy(client, s, app)
        until("the hook starts", started.exists)
        a.process.send_signal(signal.SIGTERM)
        # The hook runs 5 s, more than twice the interval: the agent keeps polling.
        while a.process.poll() is None:
            assert status() == "online"
            time.sleep(0.2)
        assert a.stop() == 0
        [c] = client.describe_commands(DeploymentId=d)["Commands"]
        assert c["Status"] == "successful" and get(c["LogUrl"])[1] == "finished\n"
        log = a.read_log()
        assert "SIGTERM: finishing the running command" in log and "SIGTERM: stopped" in log
        assert log.index(f"{c['CommandId']}: successful") < log.index("SIGTERM: stopped")
        # Gone for good: its last poll counted for up to its 20 s wait, then the 2 s.
        until("connection_lost", lambda: status() == "connection_lost", 40, every=0.5)
    finally:
        stop_promptly(server)


def test_the_hook_gets_the_apps_secrets_through_its_context_file_and_nothing_else_shows_them(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    app = client.create_app(StackId=s, Name="shop", Type="other",
                            AppSource={"Type": "git", "Url": "git@example.com:shop.git", "Password": PASSWORD},
                            Environment=[{"Key": "TOKEN", "Value": SECURE_VALUE, "Secure": True},
                                         {"Key": "PLAIN", "Value": "visible"}])["AppId"]
    out = tmp_path / "seen"
    out.mkdir()
    hook = f"""echo "$OWD_CONTEXT" > {out}/path
stat -c %a "$OWD_CONTEXT" > {out}/mode
cp "$OWD_CONTEXT" {out}/context.json
echo "app=$OWD_APP_ID"
"""
    a = Agent(tmp_path, server, s, "web", {"deploy": hook})
    agents.append(a)
    d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy", "Args": {"tag": ["v1", "v2"]}},
                                 CustomJson='{"shop": {"mode": "fast"}}')["DeploymentId"]
    assert finished(client, d)["Status"] == "successful"
    context = json.loads((out / "context.json").read_text())
    assert context["App"]["AppSource"]["Password"] == PASSWORD
    assert {"Key": "TOKEN", "Value": SECURE_VALUE, "Secure": True} in context["App"]["Environment"]
    assert context["Args"] == {"tag": ["v1", "v2"]} and json.loads(context["CustomJson"]) == {"shop": {"mode": "fast"}}
    assert context["AppId"] == app and context["DeploymentId"] == d
    assert (out / "mode").read_text().strip() == "600"
    path = (out / "path").read_text().strip()
    assert not os.path.exists(path), "the context file is removed when the hook ends"

    [c] = client.describe_commands(DeploymentId=d)["Commands"]
    status, page = get(c["LogUrl"])
    assert status == 200 and page == f"app={app}\n"
    answers = json.dumps([client.describe_apps(StackId=s), client.describe_commands(DeploymentId=d),
                          client.describe_deployments(StackId=s), client.describe_instances(StackId=s)], default=str)
    for secret in (PASSWORD, SECURE_VALUE):
        assert secret not in answers and secret not in c["LogUrl"] and secret not in page
        assert secret not in a.read_log() and secret not in server.read_log()


def test_credentials_from_a_profile_of_a_private_shared_credentials_file_only(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n"
                     f"[profile agent]\naws_access_key_id = {OWNER['AccessKeyId']}\n"
                     f"aws_secret_access_key = {OWNER['SecretAccessKey']}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_PROFILE="agent", AWS_SHARED_CREDENTIALS_FILE=str(creds),
               AWS_ACCESS_KEY_ID="ignored-with-a-profile", AWS_SECRET_ACCESS_KEY="ignored")

    creds.chmod(0o644)
    a = Agent(tmp_path, server, s, "p", env=env, start=False)
    p = subprocess.run(a.command, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "are too open" in p.stderr and "chmod 600" in p.stderr
    assert not (a.state / "instance.json").exists()

    creds.chmod(0o600)
    a.start()
    agents.append(a)
    assert client.describe_instances(InstanceIds=[a.instance])["Instances"][0]["Hostname"] == "p"
    assert "credentials from profile agent of" in a.read_log()
    assert oct(stat.S_IMODE(os.stat(a.state).st_mode)) == "0o700"
    assert oct(stat.S_IMODE(os.stat(a.state / "instance.json").st_mode)) == "0o600"

    # A wrong secret is no transient failure: the agent says why and exits 1.
    bad = {"AccessKeyId": OWNER["AccessKeyId"], "SecretAccessKey": "wrong"}
    b = Agent(tmp_path, server, s, "bad", env=agent_env(bad), start=False)
    p = subprocess.run(b.command, env=b.env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "RegisterInstance failed: InvalidSignatureException" in p.stderr
    assert "wrong" not in p.stderr


def test_transport_errors_are_retried_with_backoff_until_the_server_is_back(tmp_path, agents):
    server = Server(tmp_path)
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    a = Agent(tmp_path, server, s, "patient", {"deploy": "echo ok\n"})
    agents.append(a)
    store, port = server.store, server.port
    # A graceful stop with the agent polling on its kept connection: prompt (the waiting
    # poll answered, the connection closed after it), and the agent sees the server gone.
    until("the agent's poll waits", lambda: polls_waiting(server) == 1, 20)
    stop_promptly(server)
    until("a failed poll is logged", lambda: "PollCommands failed:" in a.read_log(), 30)
    again = Server(tmp_path, "--port", str(port), store=store)
    try:
        client = boto3_client(again)
        d = deploy(client, s, app)
        assert finished(client, d, 90)["Status"] == "successful"
        assert "PollCommands works again" in a.read_log()
        assert a.process.poll() is None
    finally:
        stop_promptly(again)


def test_a_second_sigterm_stops_the_running_hook_now_and_reports_it_failed(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    started = tmp_path / "started"
    a = Agent(tmp_path, server, s, "impatient", {"deploy": f"touch {started}; exec sleep 300\n"})
    agents.append(a)
    d = deploy(client, s, app)
    until("the hook starts", started.exists)
    a.process.send_signal(signal.SIGTERM)
    until("the first signal is taken", lambda: "SIGTERM: finishing the running command" in a.read_log(), 10)
    assert a.process.poll() is None, "the first SIGTERM lets the hook run"
    a.process.send_signal(signal.SIGTERM)
    assert a.stop() == 0
    [c] = client.describe_commands(DeploymentId=d)["Commands"]
    assert c["Status"] == "failed" and c["ExitCode"] == 128 + signal.SIGTERM
    assert "stopped twice" in get(c["LogUrl"])[1]


def test_a_long_output_keeps_its_end_and_says_what_was_cut(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    a = Agent(tmp_path, server, s, "chatty", {"deploy": "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo THE END\n"})
    agents.append(a)
    d = deploy(client, s, app)
    assert finished(client, d)["Status"] == "successful"
    [c] = client.describe_commands(DeploymentId=d)["Commands"]
    log = get(c["LogUrl"])[1]
    assert log.endswith("x\nTHE END\n") and len(log.encode()) <= 1 << 20
    first, rest = log.split("\n", 1)
    assert first.startswith("owd agent: ") and "bytes of output cut" in first
    assert set(rest[:-len("\nTHE END\n")]) == {"x"}


class TLSProxy:
    """https://127.0.0.1:PORT in front of owd serve (which speaks plain HTTP here): a
    certificate made for the test, requests passed on as they came (Host included, so the
    agent's signature still holds)."""

    def __init__(self, folder, target_port):
        import http.client
        import http.server
        import ssl
        import threading
        self.cert, key = str(folder / "proxy.pem"), str(folder / "proxy.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", self.cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                upstream.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in ("connection", "content-length"):
                        upstream.putheader(name, value)
                upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "content-length", "transfer-encoding", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        # A poll in flight when the test ends loses its upstream: not worth a traceback.
        self.httpd.handle_error = lambda request, address: None
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Through:
    """What Agent needs of a server: its URL."""

    def __init__(self, url):
        self.url = url


def test_an_https_endpoint_is_trusted_through_ca_file_or_insecure_skip_verify_and_refused_otherwise(tmp_path, server, agents):
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    proxy = TLSProxy(tmp_path, server.port)
    try:
        untrusted = Agent(tmp_path, Through(proxy.url), s, "untrusted", start=False)
        untrusted.log = open(untrusted.log_path, "ab")
        untrusted.process = subprocess.Popen(untrusted.command, stdout=subprocess.PIPE, stderr=untrusted.log, env=untrusted.env)
        agents.append(untrusted)
        until("the certificate is refused", lambda: "RegisterInstance failed:" in untrusted.read_log()
              and "certificate" in untrusted.read_log(), 30)
        assert not (untrusted.state / "instance.json").exists()
        # Issue 20: refused, not retried: the agent exits 1 (a unit's Restart= tries again).
        assert untrusted.process.wait(30) == 1
        untrusted.stop()

        trusted = Agent(tmp_path, Through(proxy.url), s, "trusted", {"deploy": "echo over tls\n"},
                        args=("--ca-file", proxy.cert))
        agents.append(trusted)
        skipping = Agent(tmp_path, Through(proxy.url), s, "skipping", {"deploy": "echo unchecked\n"},
                         args=("--insecure-skip-verify",))
        agents.append(skipping)
        assert "WARNING: --insecure-skip-verify" in skipping.read_log()
        assert "WARNING" not in trusted.read_log()
        d = deploy(client, s, app, InstanceIds=[trusted.instance, skipping.instance])
        assert finished(client, d)["Status"] == "successful"
        logs = {c["InstanceId"]: get(c["LogUrl"])[1] for c in client.describe_commands(DeploymentId=d)["Commands"]}
        assert logs == {trusted.instance: "over tls\n", skipping.instance: "unchecked\n"}
        for a in (trusted, skipping):
            assert a.stop() == 0
    finally:
        proxy.close()


def test_an_agent_keeps_its_connections_across_polls_and_reports(tmp_path, server, agents):
    """Keep-alive by default: one connection for the polls, one for the reports, the same
    ones deployment after deployment (a waiting poll holds no server thread, so nothing
    waits behind it); a second agent's deployments are not slowed by the first's poll."""
    client = boto3_client(server)
    s = stack(client)
    app = site(client, s)
    a = Agent(tmp_path, server, s, "kept", {"deploy": "echo kept\n"})
    b = Agent(tmp_path, server, s, "other", {"deploy": "echo other\n"})
    agents.extend([a, b])
    samples = []
    for i in range(4):
        d = deploy(client, s, app, InstanceIds=[(a, b)[i % 2].instance])
        started = time.monotonic()
        assert finished(client, d)["Status"] == "successful"
        assert time.monotonic() - started < 10
        samples.append(connections(a.process.pid, server.port))
    # After its first command: the polls' connection and the reports'; the same two after
    # every later poll and report.
    assert len(samples[0]) == 2 and all(x == samples[0] for x in samples), f"agent connections: {samples}"
    # --no-keep-alive (diagnosis): a new connection per request, still working.
    c = Agent(tmp_path, server, s, "fresh", {"deploy": "echo fresh\n"}, args=["--no-keep-alive"])
    agents.append(c)
    until("its poll waits", lambda: connections(c.process.pid, server.port), 10)
    before = connections(c.process.pid, server.port)
    d = deploy(client, s, app, InstanceIds=[c.instance])
    assert finished(client, d)["Status"] == "successful"
    after = until("its next poll", lambda: connections(c.process.pid, server.port), 10)
    assert len(before) == len(after) == 1 and not before & after, (before, after)
    for x in (a, b, c):
        assert x.stop() == 0


def test_kept_connections_outlive_the_servers_idle_timeout(tmp_path, agents):
    """--idle-timeout 1: the reports' kept connection is closed by the server between
    commands and opened again by the next report; a waiting poll (suspended, up to 20 s) is
    not cut by the idle timeout. No request fails on the way."""
    server = Server(tmp_path, "--idle-timeout", "1")
    try:
        client = boto3_client(server)
        s = stack(client)
        app = site(client, s)
        a = Agent(tmp_path, server, s, "idle", {"deploy": "echo idle\n"})
        agents.append(a)
        for _ in range(2):
            assert finished(client, deploy(client, s, app))["Status"] == "successful"
            until("the poll waits", lambda: polls_waiting(server) == 1, 10)
            time.sleep(3)   # past the idle timeout, with the poll waiting
            assert polls_waiting(server) == 1, "the waiting poll was cut"
            client = boto3_client(server)   # this test's own kept connection is closed too
        log = a.read_log()
        assert "failed" not in log and log.count(": successful, exit 0") == 2, log
        assert a.stop() == 0
    finally:
        stop_promptly(server)
