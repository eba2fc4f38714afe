"""Issue 20: `GET /metrics` in Prometheus' text format, read with prometheus_client's own
parser: without authentication (like /health), off with --no-metrics, its counters moving by
exactly the requests the test made, its store gauges following the store."""
import http.client
import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, boto3_client, online_stack, stack
from test_raw import post, signed


def scrape(server, context=None):
    if server.scheme == "https":
        c = http.client.HTTPSConnection(server.host, server.port, timeout=10, context=context)
    else:
        c = http.client.HTTPConnection(server.host, server.port, timeout=10)
    c.request("GET", "/metrics")   # no Authorization: none needed
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    assert r.status == 200, body
    assert r.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    types = {}
    for family in text_string_to_metric_families(body):
        types[family.name] = family.type
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"{key} twice"
            samples[key] = s.value
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def requests(samples, operation, status):
    return value(samples, "owd_http_requests_total", operation=operation, status=str(status))


def test_metrics_parse_and_the_request_counters_move_by_the_requests_made(tmp_path):
    server = Server(tmp_path)
    try:
        client = boto3_client(server)
        before, types = scrape(server)
        assert types["owd_http_requests"] == "counter" and types["owd_http_request_duration_seconds"] == "histogram"
        assert types["owd_deployments"] == "gauge" and types["owd_store_size_bytes"] == "gauge"
        stacks = [stack(client, f"m{i}") for i in range(2)]
        for _ in range(3):
            client.describe_stacks()
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.describe_stacks(StackIds=["00000000-0000-4000-8000-000000000000"])
        # An unsigned call, a refused one, an unknown path: counted under their own labels.
        status, _, _ = post(server, {"X-Amz-Target": "OpsWorks_20130218.DescribeStacks"}, "{}")
        assert status == 403
        status, _, _ = post(server, {}, "", path="/nowhere", method="GET")
        assert status == 404
        # A client-chosen operation name never becomes a label.
        status, _, _ = post(server, signed(server, "Made-Up-Name", "{}"), "{}")
        assert status == 400
        after, _ = scrape(server)
        assert requests(after, "CreateStack", 200) - requests(before, "CreateStack", 200) == 2
        assert requests(after, "DescribeStacks", 200) - requests(before, "DescribeStacks", 200) == 3
        assert requests(after, "DescribeStacks", 400) - requests(before, "DescribeStacks", 400) == 1
        assert requests(after, "DescribeStacks", 403) - requests(before, "DescribeStacks", 403) == 1
        assert requests(after, "-", 404) - requests(before, "-", 404) == 1
        assert requests(after, "-", 400) - requests(before, "-", 400) == 1
        # The first scrape is counted by the second (each is counted after it is answered).
        assert requests(after, "/metrics", 200) - requests(before, "/metrics", 200) == 1
        labels = {dict(k[1]).get("operation") for k in after if k[0] == "owd_http_requests_total"}
        assert "Made-Up-Name" not in labels
        total = sum(v for (n, l), v in after.items() if n == "owd_http_requests_total")
        total_before = sum(v for (n, l), v in before.items() if n == "owd_http_requests_total")
        assert total - total_before == 2 + 3 + 1 + 1 + 1 + 1 + 1   # every request of this test, the scrape included
        # The histogram: every DescribeStacks in it, buckets cumulative, +Inf = count.
        count = value(after, "owd_http_request_duration_seconds_count", operation="DescribeStacks")
        assert count == 3 + 1 + 1
        assert value(after, "owd_http_request_duration_seconds_bucket", operation="DescribeStacks", le="+Inf") == count
        buckets = sorted((float(dict(l)["le"]), v) for (n, l), v in after.items()
                         if n == "owd_http_request_duration_seconds_bucket" and dict(l)["operation"] == "DescribeStacks")
        assert [v for _, v in buckets] == sorted(v for _, v in buckets)
        assert 0 < value(after, "owd_http_request_duration_seconds_sum", operation="DescribeStacks") < 30
        assert len(stacks) == 2
    finally:
        server.stop()


def test_store_gauges_follow_deployments_commands_and_agents(tmp_path):
    server = Server(tmp_path, "--connection-lost-after", "1")
    try:
        client = boto3_client(server)
        empty, _ = scrape(server)
        assert value(empty, "owd_deployments", status="running") == 0 and value(empty, "owd_commands_pending") == 0
        assert value(empty, "owd_agents_seen") == 0 and value(empty, "owd_store_size_bytes") > 0
        s, layer, instance, app = online_stack(client)
        second = client.create_instance(StackId=s, LayerIds=[layer], InstanceType="t3.micro")["InstanceId"]
        client.start_instance(InstanceId=second)
        d = client.create_deployment(StackId=s, AppId=app, Command={"Name": "deploy"},
                                     InstanceIds=[instance, second])["DeploymentId"]
        running, _ = scrape(server)
        assert value(running, "owd_deployments", status="running") == 1
        assert value(running, "owd_commands_pending") == 2
        assert value(running, "owd_store_last_commit_duration_seconds") > 0
        [c] = client.poll_commands(InstanceId=instance)["Commands"]
        client.acknowledge_command(CommandId=c["CommandId"])
        client.complete_command(CommandId=c["CommandId"], Status="successful", ExitCode=0)
        one, _ = scrape(server)
        assert value(one, "owd_commands_pending") == 1 and value(one, "owd_agents_seen") == 1
        assert value(one, "owd_agents_connection_lost") == 0
        [c2] = client.poll_commands(InstanceId=second)["Commands"]
        client.acknowledge_command(CommandId=c2["CommandId"])
        client.complete_command(CommandId=c2["CommandId"], Status="failed", ExitCode=1)
        time.sleep(2.2)   # past --connection-lost-after 1 without a poll: both agents lost
        done, _ = scrape(server)
        assert value(done, "owd_deployments", status="running") == 0
        assert value(done, "owd_deployments", status="failed") == 1
        assert value(done, "owd_commands_pending") == 0
        assert value(done, "owd_agents_seen") == 2 and value(done, "owd_agents_connection_lost") == 2
        statuses = {i["InstanceId"]: i["Status"] for i in client.describe_instances(StackId=s)["Instances"]}
        assert statuses == {instance: "connection_lost", second: "connection_lost"}
        assert d
    finally:
        server.stop()


def test_no_metrics_turns_the_page_off_and_health_stays(tmp_path):
    server = Server(tmp_path, "--no-metrics")
    try:
        status, _, body = post(server, {}, "", path="/metrics", method="GET")
        assert status == 404 and json.loads(body)["__type"] == "NotFound"
        status, _, body = post(server, {}, "", path="/health", method="GET")
        assert status == 200 and body == b"ok\n"
    finally:
        server.stop()


def test_metrics_is_get_only(tmp_path):
    server = Server(tmp_path)
    try:
        status, _, body = post(server, {}, "x", path="/metrics", method="POST")
        assert status == 405 and "use GET" in json.loads(body)["message"]
    finally:
        server.stop()
