"""Section 14 through owd serve: PollCommands' long-poll over HTTP, the logs and their
signed URLs (fetched with no credentials; tampered ones 403), connection_lost after the
server's configured interval, an expired URL (the server's lifetime shortened; the hour
itself: OwdServerTests' LogURLTests, with a clock the test moves), waiting polls that hold
no thread, and log URLs that outlive a restart."""
import http.client
import json
import threading
import time
import urllib.error
import urllib.request

from conftest import OWNER, PROFILE, ROLE, Server, boto3_client, stack

PASSWORD = "app-source-PASSWORD-9f3c1d"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def registered(client):
    s = stack(client)
    box = client.register_instance(StackId=s, Hostname="a")["InstanceId"]
    app = client.create_app(StackId=s, Name="shop", Type="other",
                            AppSource={"Type": "git", "Url": "git@example.com:shop.git", "Password": PASSWORD})["AppId"]
    return s, box, app


def test_a_waiting_poll_returns_the_new_command_with_the_app_and_its_log_url_works_without_credentials(server):
    agent, other = boto3_client(server, OWNER), boto3_client(server, OWNER)
    s, box, app = registered(agent)
    got = {}

    def poll():
        started = time.monotonic()
        got["commands"] = agent.poll_commands(InstanceId=box, WaitTimeSeconds=20)["Commands"]
        got["took"] = time.monotonic() - started

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)   # the poll waits in the server
    created = time.monotonic()
    d = other.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"}, InstanceIds=[box])["DeploymentId"]
    waiting.join(25)
    assert not waiting.is_alive()
    assert time.monotonic() - created < 5, "the poll waited for its whole 20 s"
    [c] = got["commands"]
    assert c["DeploymentId"] == d and c["Type"] == "deploy" and c["AppId"] == app
    assert c["App"]["AppSource"]["Password"] == PASSWORD   # only the agent protocol hands it out

    agent.acknowledge_command(CommandId=c["CommandId"])
    assert agent.poll_commands(InstanceId=box)["Commands"] == []
    log = "fetching shop\nall done\n"
    agent.complete_command(CommandId=c["CommandId"], Status="successful", ExitCode=0, Log=log)
    [described] = other.describe_commands(DeploymentId=d)["Commands"]
    assert described["Status"] == "successful" and described["ExitCode"] == 0
    url = described["LogUrl"]
    assert url.startswith(f"{server.url}/logs/{c['CommandId']}?Expires=")
    assert get(url) == (200, log)
    assert agent.get_command_log(CommandId=c["CommandId"])["Log"] == log

    # Tampered: the signature, the expiry, the command; each 403 with the same body.
    last = url[-1]
    expires = url.split("Expires=")[1].split("&")[0]
    for bad in (url[:-1] + ("0" if last != "0" else "1"),
                url.replace(f"Expires={expires}", f"Expires={int(expires) + 3600}"),
                url.replace(c["CommandId"], d),
                url.split("&Signature=")[0]):
        assert get(bad) == (403, "Forbidden\n"), bad

    # No Describe answer and no line of the server's log holds the secret or a signature.
    answers = str(other.describe_apps(StackId=s)) + str(other.describe_commands(DeploymentId=d)) \
        + str(other.describe_deployments(StackId=s))
    assert PASSWORD not in answers
    text = server.read_log()
    assert PASSWORD not in text and "Signature=" not in text


def test_an_agent_that_stops_polling_shows_connection_lost_after_the_configured_interval(tmp_path):
    server = Server(tmp_path, "--connection-lost-after", "2")
    try:
        client = boto3_client(server, OWNER)
        _, box, _ = registered(client)

        def status():
            return client.describe_instances(InstanceIds=[box])["Instances"][0]["Status"]

        assert status() == "online"
        client.poll_commands(InstanceId=box, WaitTimeSeconds=0)
        assert status() == "online"
        time.sleep(3.2)
        assert status() == "connection_lost"
        client.poll_commands(InstanceId=box)
        assert status() == "online"
    finally:
        server.stop()


def raw_call(conn, operation, **request):
    """One JSON 1.1 call on a keep-alive http.client connection to a --no-auth server."""
    conn.request("POST", "/", body=json.dumps(request),
                 headers={"X-Amz-Target": "OpsWorks_20130218." + operation, "Content-Type": "application/x-amz-json-1.1"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, (operation, r.status, body)
    return json.loads(body)


def test_waiting_polls_hold_no_thread_other_requests_are_served_meanwhile_and_each_poll_gets_its_command(tmp_path):
    """More waiting polls (40) than the server has threads (2): each waits with its
    connection suspended, so requests on other connections are answered at once, and one
    CreateDeployment to all instances answers every poll long before its 20 s. (Before
    suspension, a request on a pool thread that held a waiting poll waited for that poll.)"""
    s = Server(tmp_path, "--threads", "2", auth=False)
    try:
        def conn():
            return http.client.HTTPConnection(s.host, s.port, timeout=30)

        main = conn()
        st = raw_call(main, "CreateStack", Name="many", Region="us-east-1", ServiceRoleArn=ROLE,
                      DefaultInstanceProfileArn=PROFILE)["StackId"]
        boxes = [raw_call(main, "RegisterInstance", StackId=st, Hostname=f"h{i}")["InstanceId"] for i in range(40)]
        got, took = {}, {}

        def poll(box):
            c = conn()
            started = time.monotonic()
            got[box] = raw_call(c, "PollCommands", InstanceId=box, WaitTimeSeconds=20)["Commands"]
            took[box] = time.monotonic() - started
            c.close()

        threads = [threading.Thread(target=poll, args=(b,)) for b in boxes]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while "PollCommands" not in s.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)   # every poll in the server, waiting
        assert not got, "a poll answered before any command existed"
        # 20 requests, on their own connections and on one kept alive, while 40 polls wait.
        for i in range(20):
            started = time.monotonic()
            c = conn() if i % 2 else main
            assert raw_call(c, "DescribeStacks", StackIds=[st])["Stacks"][0]["StackId"] == st
            assert time.monotonic() - started < 5, "a request waited behind the waiting polls"
            if i % 2:
                c.close()
        assert not got
        created = time.monotonic()
        d = raw_call(main, "CreateDeployment", StackId=st, Command={"Name": "configure"})["DeploymentId"]
        for t in threads:
            t.join(25)
        assert not any(t.is_alive() for t in threads)
        assert time.monotonic() - created < 10, "the polls waited for their whole 20 s"
        for b in boxes:
            [c] = got[b]
            assert c["DeploymentId"] == d and c["Type"] == "configure"
            assert took[b] < 15
    finally:
        s.stop()


def test_sigterm_answers_waiting_polls_at_once_and_the_server_exits_0(tmp_path):
    """A stopping server closes no waiting poll unanswered and does not wait for their 20 s."""
    s = Server(tmp_path, auth=False)
    main = http.client.HTTPConnection(s.host, s.port, timeout=30)
    st = raw_call(main, "CreateStack", Name="stop", Region="us-east-1", ServiceRoleArn=ROLE,
                  DefaultInstanceProfileArn=PROFILE)["StackId"]
    boxes = [raw_call(main, "RegisterInstance", StackId=st, Hostname=f"h{i}")["InstanceId"] for i in range(5)]
    got = {}

    def poll(box):
        c = http.client.HTTPConnection(s.host, s.port, timeout=30)
        got[box] = raw_call(c, "PollCommands", InstanceId=box, WaitTimeSeconds=20)["Commands"]

    threads = [threading.Thread(target=poll, args=(b,)) for b in boxes]
    for t in threads:
        t.start()
    time.sleep(1)
    assert not got
    started = time.monotonic()
    assert s.stop() == 0
    for t in threads:
        t.join(10)
    assert time.monotonic() - started < 10, "the server waited for the polls' 20 s"
    assert got == {b: [] for b in boxes}
    assert "still in flight after 10 s" not in s.read_log()


def test_a_log_url_works_after_the_server_restarts_and_its_key_is_in_no_answer_or_log(tmp_path):
    """The signing key is the store's, made once: a restarted server (or a second one on the
    same store) accepts the URLs the first one made; a forged one stays 403."""
    first = Server(tmp_path, auth=False)
    main = http.client.HTTPConnection(first.host, first.port, timeout=30)
    st = raw_call(main, "CreateStack", Name="logs", Region="us-east-1", ServiceRoleArn=ROLE,
                  DefaultInstanceProfileArn=PROFILE)["StackId"]
    box = raw_call(main, "RegisterInstance", StackId=st, Hostname="a")["InstanceId"]
    d = raw_call(main, "CreateDeployment", StackId=st, Command={"Name": "configure"})["DeploymentId"]
    [c] = raw_call(main, "PollCommands", InstanceId=box)["Commands"]
    raw_call(main, "AcknowledgeCommand", CommandId=c["CommandId"])
    raw_call(main, "CompleteCommand", CommandId=c["CommandId"], Status="successful", ExitCode=0, Log="kept\n")
    [described] = raw_call(main, "DescribeCommands", DeploymentId=d)["Commands"]
    url = described["LogUrl"]
    assert get(url) == (200, "kept\n")
    main.close()
    assert first.stop() == 0

    second = Server(tmp_path, auth=False, store=first.store)
    again = http.client.HTTPConnection(second.host, second.port, timeout=30)
    try:
        moved = url.replace(f":{first.port}/", f":{second.port}/")
        assert get(moved) == (200, "kept\n")
        assert get(moved[:-1] + ("0" if moved[-1] != "0" else "1")) == (403, "Forbidden\n")
        # The URL the restarted server gives is signed with the same key: same signature for the same expiry.
        [now] = raw_call(again, "DescribeCommands", DeploymentId=d)["Commands"]
        assert get(now["LogUrl"]) == (200, "kept\n")
    finally:
        again.close()
        assert second.stop() == 0
    # The key is in the store only: not in a log line of either server.
    import sqlite3
    # Four 64-bit words, big-endian within each (meta holds integers on every backend).
    words = sqlite3.connect(first.store).execute(
        "SELECT key, value FROM meta WHERE key LIKE 'log_url_key.%' ORDER BY key").fetchall()
    assert [k for k, _ in words] == [f"log_url_key.{i}" for i in range(4)], words
    assert all(isinstance(v, int) for _, v in words)
    key = b"".join((v & (2**64 - 1)).to_bytes(8, "big") for _, v in words)
    assert len(key) == 32 and key != bytes(32)
    for text in (first.read_log(), second.read_log()):
        assert key.hex() not in text and key.hex().upper() not in text


def test_a_log_url_past_its_expiry_is_403_like_a_forged_one(tmp_path):
    # --log-url-lifetime (hidden, for this test) shortens section 14's hour to 3 s.
    server = Server(tmp_path, "--log-url-lifetime", "3")
    try:
        client = boto3_client(server, OWNER)
        s, box, app = registered(client)
        d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"}, InstanceIds=[box])["DeploymentId"]
        [c] = client.poll_commands(InstanceId=box)["Commands"]
        client.complete_command(CommandId=c["CommandId"], Status="successful", ExitCode=0, Log="done\n")
        [described] = client.describe_commands(DeploymentId=d)["Commands"]
        url = described["LogUrl"]
        assert get(url) == (200, "done\n")
        deadline = time.monotonic() + 15
        while get(url) != (403, "Forbidden\n"):
            assert time.monotonic() < deadline, "the URL still works past its expiry"
            time.sleep(0.2)
        # A new answer gives a new URL that works.
        [again] = client.describe_commands(DeploymentId=d)["Commands"]
        assert get(again["LogUrl"]) == (200, "done\n")
    finally:
        server.stop()
