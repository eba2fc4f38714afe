"""Load: 64 concurrent keep-alive connections for 10 s mixing DescribeDeployments and
CreateDeployment. No unexpected error, every acknowledged create present afterwards, the
server's memory bounded (RSS before and after), every connection kept alive throughout."""
import collections
import http.client
import json
import threading
import time

from conftest import OWNER, Server, boto3_client, online_stack
from test_raw import signed

CONNECTIONS = 64
SECONDS = 10


def test_64_keep_alive_connections_for_10_s(tmp_path):
    server = Server(tmp_path, "--quiet")
    try:
        owner = boto3_client(server, OWNER)
        stack, _, _, app = online_stack(owner)
        describe = json.dumps({"StackId": stack})
        create = json.dumps({"StackId": stack, "AppId": app, "Command": {"Name": "deploy"}})
        # A signed request may be replayed while its X-Amz-Date is within 5 minutes.
        requests = [("DescribeDeployments", describe, signed(server, "DescribeDeployments", describe)),
                    ("CreateDeployment", create, signed(server, "CreateDeployment", create))]
        # Warm up (the first requests grow the caches), then the baseline.
        for _ in range(200):
            c = http.client.HTTPConnection(server.host, server.port)
            c.request("POST", "/", body=describe, headers=requests[0][2])
            c.getresponse().read()
            c.close()
        rss_before = server.rss_kib()

        created, errors, counts, sockets = [], collections.Counter(), collections.Counter(), set()
        lock = threading.Lock()
        start = threading.Barrier(CONNECTIONS)
        deadline = [0.0]

        def worker(n):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
            conn.connect()
            mine_created, mine_counts, mine_errors, mine_sockets = [], collections.Counter(), collections.Counter(), set()
            start.wait()
            i = n
            while time.monotonic() < deadline[0]:
                op, body, headers = requests[1 if i % 5 == 0 else 0]
                i += 1
                try:
                    conn.request("POST", "/", body=body, headers=headers)
                    mine_sockets.add(id(conn.sock))
                    r = conn.getresponse()
                    data = r.read()
                except Exception as e:    # noqa: BLE001  (counted: the test fails on any)
                    mine_errors[f"{op}: {type(e).__name__}: {e}"] += 1
                    conn.close()
                    continue
                mine_counts[op] += 1
                if r.status != 200:
                    mine_errors[f"{op}: {r.status} {data[:200]!r}"] += 1
                elif op == "CreateDeployment":
                    mine_created.append(json.loads(data)["DeploymentId"])
            conn.close()
            with lock:
                created.extend(mine_created)
                counts.update(mine_counts)
                errors.update(mine_errors)
                sockets.update((n, s) for s in mine_sockets)

        deadline[0] = time.monotonic() + SECONDS + 1
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 60)
        rss_after = server.rss_kib()

        assert not errors, dict(errors)
        assert counts["DescribeDeployments"] > 1000 and counts["CreateDeployment"] > 200, dict(counts)
        # Each connection used one socket from start to end: kept alive, never reconnected.
        assert len(sockets) == CONNECTIONS
        listed = {d["DeploymentId"] for d in owner.describe_deployments(StackId=stack)["Deployments"]}
        assert set(created) <= listed and len(created) == len(set(created))
        assert len(listed) == len(created)
        # Bounded: the requests' memory is returned; what grows is the cache of the new
        # deployments (about a kilobyte each).
        grown = rss_after - rss_before
        print(f"load: {dict(counts)} in {SECONDS} s over {CONNECTIONS} connections; "
              f"RSS {rss_before} KiB -> {rss_after} KiB")
        assert grown < 64 * 1024 + 2 * len(created), (rss_before, rss_after, len(created))
    finally:
        assert server.stop() == 0
