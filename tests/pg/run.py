#!/usr/bin/env python3
"""Section 15 of behaviour.md against a real PostgreSQL cluster (issue 18), with processes:

  two `owd serve` on one database (a create through one is in the other's next answer;
  one SIGKILLed, the other goes on); pg_terminate_backend of a server's sessions mid-run
  (one StoreError, then recovery, nothing lost); the SIGKILL crash loop of
  tests/durability (one writer, then 32 threads sharing commits); four processes
  creating one new store at once; a program without libpq.

Run by `make test-pg`; starts its own cluster (tests/pg/cluster.py); exits 1 when any
test fails.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster  # noqa: E402

TOOL = OWD = CLUSTER = None
ROLE = "arn:aws:iam::123456789012:role/aws-opsworks-service-role"
PROFILE = "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def new_store():
    """A URI of a new, empty store: a new schema of the cluster's database."""
    schema = "r" + uuid.uuid4().hex
    return schema, f"{CLUSTER.uri}?options=-csearch_path%3D{schema}"


def sql(schema, query):
    return CLUSTER.psql(f"SET search_path TO {schema}; {query}")


class Server:
    """One `owd serve --no-auth` on `store`; its port from its first line."""

    def __init__(self, store):
        self.log_path = os.path.join(CLUSTER.root, f"serve-{uuid.uuid4().hex}.log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([OWD, "serve", "--store", store, "--port", "0", "--no-auth", "--quiet"],
                                  stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.p.stdout.readline().strip()
        m = re.fullmatch(r"owd: listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            self.p.kill()
            self.p.wait()
            raise Failure(f"owd serve did not start: {line!r} {open(self.log_path).read()}")
        self.url = f"http://127.0.0.1:{m.group(1)}/"

    def call(self, op, body=None):
        """(HTTP status, answer dict)."""
        req = urllib.request.Request(self.url, data=json.dumps(body or {}).encode(), method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"OpsWorks_20130218.{op}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def must(self, op, body=None):
        status, answer = self.call(op, body)
        check(status == 200, f"{op}: {status} {answer}")
        return answer

    def stack(self, name):
        return self.must("CreateStack", {"Name": name, "Region": "us-east-1", "ServiceRoleArn": ROLE,
                                         "DefaultInstanceProfileArn": PROFILE})["StackId"]

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        self.p.wait(timeout=30)
        self.p.stdout.close()
        self.log.close()


def stack_ids(server):
    return {s["StackId"] for s in server.must("DescribeStacks")["Stacks"]}


# ------------------------------------------------------------------------------------

def test_two_servers():
    """Two owd serve on one database: each create is in the other's next answer; one
    server SIGKILLed mid-run, the other goes on with everything acknowledged."""
    schema, store = new_store()
    a, b = Server(store), Server(store)
    try:
        made = []
        for i in range(20):
            first, second = (a, b) if i % 2 == 0 else (b, a)
            sid = first.stack(f"s{i}")
            made.append(sid)
            got = second.must("DescribeStacks", {"StackIds": [sid]})["Stacks"]
            check([s["StackId"] for s in got] == [sid], f"stack {i} made through one server: not in the other's next answer")
            layer = second.must("CreateLayer", {"StackId": sid, "Type": "custom", "Name": "web", "Shortname": "web"})["LayerId"]
            check([x["LayerId"] for x in first.must("DescribeLayers", {"StackId": sid})["Layers"]] == [layer],
                  "a layer made through the other server is missing")
        # A killed in the middle of a stream of creates through it.
        acked, stop = [], threading.Event()

        def stream():
            while not stop.is_set():
                try:
                    status, answer = a.call("CreateStack", {"Name": "k", "Region": "us-east-1", "ServiceRoleArn": ROLE,
                                                            "DefaultInstanceProfileArn": PROFILE})
                except Exception:
                    return
                if status == 200:
                    acked.append(answer["StackId"])
        t = threading.Thread(target=stream)
        t.start()
        time.sleep(0.5)
        a.stop(signal.SIGKILL)
        stop.set()
        t.join(timeout=30)
        for i in range(10):
            made.append(b.stack(f"after{i}"))
        have = stack_ids(b)
        check(set(made) <= have, f"lost stacks: {sorted(set(made) - have)[:3]}")
        check(set(acked) <= have, f"stacks acknowledged by the killed server are lost: {sorted(set(acked) - have)[:3]}")
        seq = int(sql(schema, "SELECT value FROM meta WHERE key='change_seq'"))
        changes = sorted(int(x) for x in sql(schema, "SELECT change_seq FROM stacks").split())
        check(len(changes) == len(set(changes)), "two stacks share a change number")
        return (f"40 creates alternating between two servers, each seen by the other's next call; one server "
                f"SIGKILLed after {len(acked)} acknowledged creates, the other made 10 more: {len(have)} stacks, "
                f"none lost, change_seq {seq}")
    finally:
        for s in (a, b):
            if s.p.poll() is None:
                s.stop(signal.SIGKILL)


def test_log_url_on_both_servers():
    """Two owd serve on one database sign log URLs with the store's one key: a LogUrl one
    server gave is served by the other too (behind one address either may answer); a
    forged one is 403 on both."""
    schema, store = new_store()
    a, b = Server(store), Server(store)
    try:
        sid = a.stack("logs")
        box = a.must("RegisterInstance", {"StackId": sid, "Hostname": "h"})["InstanceId"]
        d = a.must("CreateDeployment", {"StackId": sid, "Command": {"Name": "configure"}})["DeploymentId"]
        [c] = b.must("PollCommands", {"InstanceId": box})["Commands"]
        b.must("AcknowledgeCommand", {"CommandId": c["CommandId"]})
        b.must("CompleteCommand", {"CommandId": c["CommandId"], "Status": "successful", "ExitCode": 0, "Log": "kept\n"})
        [from_a] = a.must("DescribeCommands", {"DeploymentId": d})["Commands"]
        url = from_a["LogUrl"]
        check(url.startswith(a.url + "logs/"), f"a's LogUrl does not name a: {url}")

        def get(u):
            try:
                with urllib.request.urlopen(u, timeout=30) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()
        on_b = b.url + url[len(a.url):]
        check(get(url) == (200, "kept\n"), f"a does not serve its own log URL: {get(url)}")
        check(get(on_b) == (200, "kept\n"), f"b refuses the log URL a signed: {get(on_b)}")
        forged = on_b[:-1] + ("0" if on_b[-1] != "0" else "1")
        check(get(forged)[0] == 403, "a forged log URL is not 403")
        return "a LogUrl signed by one server is served by the other; a forged one is 403"
    finally:
        for s in (a, b):
            if s.p.poll() is None:
                s.stop(signal.SIGKILL)


def test_metrics():
    """GET /metrics of a server on PostgreSQL: 200, with the store's size and its counts."""
    schema, store = new_store()
    a = Server(store)
    try:
        a.stack("m")
        with urllib.request.urlopen(a.url + "metrics", timeout=30) as r:
            status, text = r.status, r.read().decode()
        check(status == 200, f"/metrics answered {status}")
        sizes = [float(line.split()[-1]) for line in text.splitlines() if line.startswith("owd_store_size_bytes")]
        check(len(sizes) == 1 and sizes[0] > 0, f"no store size in /metrics: {text[:400]}")
        return f"/metrics on PostgreSQL: 200, store size {int(sizes[0])} bytes"
    finally:
        if a.p.poll() is None:
            a.stop(signal.SIGKILL)


def terminate(application_name):
    pids = CLUSTER.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                        f"'{application_name}' AND pid <> pg_backend_pid()").split()
    return len(pids)


def test_terminate_backend():
    """pg_terminate_backend of the server's writer session in a stream of creates: one
    StoreError (500 InternalFailure on the wire), then recovery; every acknowledged create
    is there, the failed one is not. The same for the reader session in a stream of reads."""
    schema, store = new_store()
    s = Server(store)
    try:
        acked, failed = [], []
        terminated = 0
        for i in range(60):
            if i == 20 or i == 40:
                terminated += terminate("owd writer")
            status, answer = s.call("CreateStack", {"Name": f"t{i}", "Region": "us-east-1", "ServiceRoleArn": ROLE,
                                                    "DefaultInstanceProfileArn": PROFILE})
            if status == 200:
                acked.append(answer["StackId"])
            else:
                failed.append((i, status, answer))
        check(terminated == 2, f"terminated {terminated} writer sessions, expected 2")
        check([f[0] for f in failed] == [20, 40], f"failures: {failed}")
        check(all(f[1] == 500 and f[2].get("__type") == "InternalFailure" for f in failed), f"failures: {failed}")
        have = stack_ids(s)
        check(have == set(acked), f"{len(have)} stacks, {len(acked)} acknowledged")
        check(int(sql(schema, "SELECT count(*) FROM stacks")) == len(acked), "a failed create left a row")
        # The reader: a stream of reads.
        bad = []
        for i in range(30):
            if i == 10:
                check(terminate("owd reader") == 1, "no reader session to terminate")
            status, answer = s.call("DescribeStacks")
            if status != 200:
                bad.append(i)
            else:
                check(len(answer["Stacks"]) == len(acked), "a read after recovery misses stacks")
        check(bad == [10], f"reads that failed: {bad}")
        return (f"writer terminated twice in 60 creates: calls 20 and 40 failed (500 InternalFailure), the "
                f"others succeeded, {len(acked)} stacks = those acknowledged; reader terminated once in 30 reads: one failed")
    finally:
        s.stop(signal.SIGKILL)


def repl(store, env=None):
    p = subprocess.Popen([TOOL, "repl", store], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline().strip()
    return p, line


def test_crash(kills=15, threads=1):
    """SIGKILL the crash child (tests/durability) at random moments; nothing acknowledged
    is lost, and the counts the engine keeps agree with the rows."""
    schema, store = new_store()
    deployments, commands = set(), {}
    rng = random.Random(os.getpid())
    for k in range(kills):
        child = subprocess.Popen([TOOL, "crash", store, str(threads)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.0, 0.1) if k == 0 else rng.uniform(0.1, 0.6))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        check(child.returncode == -signal.SIGKILL, f"child ended by itself ({child.returncode}): {err.decode()}")
        for line in out.decode().split("\n")[:-1]:
            kind, *rest = line.split()
            if kind == "D":
                deployments.add(rest[0])
            elif kind == "C":
                commands[rest[0]] = rest[1]
        p, line = repl(store)
        p.stdin.close()
        p.wait(timeout=30)
        check(line == "OPEN OK", f"reopen after kill {k + 1}: {line}")
        if not deployments:
            continue
        have = set(sql(schema, "SELECT id FROM deployments").split())
        check(deployments <= have, f"lost deployments: {sorted(deployments - have)[:3]}")
        status = dict(x.split("|") for x in sql(schema, "SELECT id, status FROM commands").split())
        lost = [c for c, s in commands.items() if status.get(c) != s]
        check(not lost, f"lost command results: {lost[:3]}")
        bad = sql(schema, """SELECT id FROM deployments d WHERE pending !=
                             (SELECT count(*) FROM commands c WHERE c.deployment_seq = d.seq AND c.status = 'pending')""")
        check(not bad, f"pending counts that disagree with the commands: {bad[:200]}")
        seqs = sql(schema, "SELECT count(*) = count(DISTINCT change_seq) FROM deployments")
        check(seqs == "t", "two deployments share a change number")
        top = sql(schema, "SELECT (SELECT value FROM meta WHERE key='change_seq') >= coalesce(max(change_seq), 0) FROM deployments")
        check(top == "t", "a deployment's change number is past the store's")
    check(len(deployments) >= 5 * threads, f"only {len(deployments)} deployments acknowledged in {kills} runs")
    return (f"{kills} SIGKILLs of {threads} writer thread{'s' if threads > 1 else ''} on one handle: "
            f"{len(deployments)} deployments and {len(commands)} command results acknowledged, all present, "
            f"pending counts and change numbers consistent")


def test_crash_threads():
    """The same SIGKILL loop with 32 writer threads sharing commits."""
    return test_crash(kills=10, threads=32)


def test_processes(procs=4, each=100):
    """4 processes on one new store at once (each creates it if missing), each creating and
    describing its own: no error, every create there, change numbers gap-free."""
    schema, store = new_store()
    children = [subprocess.Popen([TOOL, "writer", store, str(each)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(procs)]
    for c in children:
        out, err = c.communicate(timeout=300)
        check(c.returncode == 0, f"writer failed: {err.strip()}")
    total = int(sql(schema, "SELECT count(*) FROM deployments"))
    check(total == procs * each, f"{total} deployments, expected {procs * each}")
    # Every write is one change: the change numbers of the rows that keep theirs are distinct.
    distinct = sql(schema, "SELECT count(*) = count(DISTINCT change_seq) FROM deployments")
    check(distinct == "t", "two deployments share a change number")
    version = sql(schema, "SELECT value FROM meta WHERE key='schema_version'")
    return f"{procs} processes x {each} creates on one new store: {total} present, schema version {version}, no error"


def test_import_export():
    """owd export and owd import with --store postgresql://...: a store written through a
    server, exported, imported into another database schema, answers the same."""
    _, store = new_store()
    s = Server(store)
    try:
        for i in range(3):
            sid = s.stack(f"x{i}")
            s.must("CreateLayer", {"StackId": sid, "Type": "custom", "Name": "web", "Shortname": "web"})
        before = s.must("DescribeStacks")["Stacks"]
    finally:
        s.stop()
    folder = os.path.join(CLUSTER.root, "export-" + uuid.uuid4().hex)
    r = subprocess.run([OWD, "export", "--store", store, folder], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"export: {r.stderr}")
    schema2, store2 = new_store()
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    r = subprocess.run([OWD, "import", "--store", store2, "--quiet", *files], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"import: {r.stderr}")
    t = Server(store2)
    try:
        after = t.must("DescribeStacks")["Stacks"]
    finally:
        t.stop()
    key = lambda x: x["StackId"]
    check(sorted(before, key=key) == sorted(after, key=key), "the imported stacks differ")
    layers = int(sql(schema2, "SELECT count(*) FROM layers"))
    check(layers == 3, f"{layers} layers imported")
    return f"3 stacks and 3 layers exported from one PostgreSQL store and imported into another: {r.stdout.strip()}"


def test_without_libpq():
    """A program that cannot load libpq opens file stores, and refuses a postgresql://
    store with a StoreError naming what is missing."""
    _, store = new_store()
    env = dict(os.environ, OWD_LIBPQ="/nonexistent/libpq.so.5")
    p, line = repl(store, env)
    p.stdin.close()
    p.wait(timeout=30)
    check(line.startswith("OPEN ERR -6 StoreError ") and "libpq" in line and "/nonexistent/libpq.so.5" in line,
          f"without libpq: {line!r}")
    q, ok = repl(":memory:", env)
    q.stdin.close()
    q.wait(timeout=30)
    check(ok == "OPEN OK", f"an in-memory store without libpq: {ok}")
    r = subprocess.run([OWD, "export", "--store", store, os.path.join(CLUSTER.root, "x")], env=env,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 1 and "libpq" in r.stderr, f"owd export without libpq: {r.returncode} {r.stderr!r}")
    return line[len("OPEN ERR -6 StoreError "):]


def test_password_not_logged():
    """A URI's password never appears in the program's messages."""
    uri = f"postgresql://owd:s3cret-word@127.0.0.1:1/postgres?connect_timeout=2"
    r = subprocess.run([OWD, "export", "--store", uri, os.path.join(CLUSTER.root, "y")],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 1, f"exit {r.returncode}")
    check("s3cret-word" not in r.stderr + r.stdout, f"the password is in the message: {r.stderr!r}")
    check("owd:***@127.0.0.1:1" in r.stderr, f"the store is not named: {r.stderr!r}")
    return r.stderr.strip().splitlines()[0]


TESTS = [test_two_servers, test_log_url_on_both_servers, test_metrics, test_terminate_backend, test_crash, test_crash_threads, test_processes,
         test_import_export, test_without_libpq, test_password_not_logged]


def main():
    global TOOL, OWD, CLUSTER
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--owd", required=True)
    ap.add_argument("-k", help="run only tests whose name contains this")
    args = ap.parse_args()
    TOOL, OWD = os.path.abspath(args.tool), os.path.abspath(args.owd)
    failed = 0
    t_all = time.monotonic()
    with Cluster() as CLUSTER:
        print(f"pg: PostgreSQL {CLUSTER.psql('SHOW server_version')} at {CLUSTER.uri}", flush=True)
        for test in TESTS:
            if args.k and args.k not in test.__name__:
                continue
            t0 = time.monotonic()
            try:
                summary = test()
                print(f"ok   {test.__name__} ({time.monotonic() - t0:.1f} s): {summary}", flush=True)
            except Exception as e:
                failed += 1
                print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f} s): {type(e).__name__}: {e}", flush=True)
    print(f"test-pg: {'all passed' if not failed else f'{failed} failed'} in {time.monotonic() - t_all:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
