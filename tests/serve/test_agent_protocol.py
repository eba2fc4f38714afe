"""Section 14 through owd serve: PollCommands' long-poll over HTTP, the logs and their
signed URLs (fetched with no credentials; tampered ones 403), connection_lost after the
server's configured interval, an expired URL (the server's lifetime shortened; the hour
itself: OwdServerTests' LogURLTests, with a clock the test moves)."""
import threading
import time
import urllib.error
import urllib.request

from conftest import OWNER, Server, boto3_client, stack

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
