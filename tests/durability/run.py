#!/usr/bin/env python3
"""Durability tests of section 8 of behaviour.md (issue 5), against real store files.

Each test starts owd-durability processes (tests/durability/owd_durability.c) on a file
in a fresh temporary directory and checks the file with Python's sqlite3 module.
Run by `make test-durability`; exits 1 when any test fails.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

# The schema version this library writes (Engine.schemaVersion in Sources/OwdCore/Schema.swift).
SCHEMA_VERSION = 6

TOOL = None
# Root ignores permission bits: the read-only cases run as nobody (as the caller when
# not root, whose own permission bits apply).
NOBODY = 65534 if os.geteuid() == 0 else None
# What nobody runs: a copy of the tool and of libowd.so.0 in a world-readable folder, since
# nobody cannot enter a clone in a 0700 folder (home directories, mktemp -d), where the
# tool and the library its rpath names live. Made by main().
NOBODY_TOOL = None
NOBODY_ENV = None
RUNNING, SUCCESSFUL, FAILED = 0, 1, 2


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


class Repl:
    """One owd-durability repl process: its own owd_store on `path`."""

    def __init__(self, path, busy_ms=5000, durability=0, as_user=None):
        argv = [TOOL, "repl", path, str(busy_ms), str(durability)]
        env = None
        if as_user is not None:
            argv[0], env = (NOBODY_TOOL, NOBODY_ENV) if as_user == NOBODY else (TOOL, None)
            argv = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups"] + argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.open_line = self.p.stdout.readline().strip()
        self.ok = self.open_line == "OPEN OK"

    def call(self, operation, request=None):
        """Returns (True, response dict) or (False, (code, type, message))."""
        self.p.stdin.write(f"{operation} {json.dumps(request or {})}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().rstrip("\n")
        if line.startswith("OK "):
            return True, json.loads(line[3:])
        check(line.startswith("ERR "), f"repl answered {line!r}")
        code, type_, message = line[4:].split(" ", 2)
        return False, (int(code), type_, message)

    def must(self, operation, request=None):
        ok, value = self.call(operation, request)
        check(ok, f"{operation} {request}: {value}")
        return value

    def close(self):
        if self.p.stdin:
            self.p.stdin.close()
        self.p.wait(timeout=30)
        self.p.stdout.close()


def make_stack(r, instances=2):
    stack = r.must("CreateStack", {
        "Name": "durability", "Region": "us-east-1",
        "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
        "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"})["StackId"]
    layer = r.must("CreateLayer", {"StackId": stack, "Type": "custom", "Name": "web", "Shortname": "web"})["LayerId"]
    for _ in range(instances):
        i = r.must("CreateInstance", {"StackId": stack, "LayerIds": [layer], "InstanceType": "t3.small"})["InstanceId"]
        r.must("StartInstance", {"InstanceId": i})
    return stack


def sql(path, query, args=()):
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def integrity(path):
    rows = sql(path, "PRAGMA integrity_check")
    check(rows == [("ok",)], f"integrity_check: {rows}")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def no_sidecars(path):
    for suffix in ("-wal", "-shm", "-journal"):
        check(not os.path.exists(path + suffix), f"{os.path.basename(path)}{suffix} was left behind")


def running_but_finished(path):
    """Deployments still running although none of their commands is pending."""
    return sql(path, """SELECT id FROM deployments d WHERE status = ? AND NOT EXISTS
                        (SELECT 1 FROM commands c WHERE c.deployment_seq = d.seq AND c.status = 'pending')""",
               (RUNNING,))


# ------------------------------------------------------------------------------------

def test_crash(tmp, kills=25, threads=1):
    """SIGKILL the crash child at random moments; nothing acknowledged is ever lost."""
    path = os.path.join(tmp, "crash.owd")
    deployments, commands = set(), {}
    rng = random.Random(os.getpid())
    for k in range(kills):
        child = subprocess.Popen([TOOL, "crash", path, str(threads)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The first run also covers a kill while the new store is being created.
        time.sleep(rng.uniform(0.0, 0.05) if k == 0 else rng.uniform(0.05, 0.45))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        check(child.returncode == -signal.SIGKILL, f"child ended by itself ({child.returncode}): {err.decode()}")
        # Only whole lines: a line cut by the kill was not acknowledged.
        for line in out.decode().split("\n")[:-1]:
            kind, *rest = line.split()
            if kind == "D":
                deployments.add(rest[0])
            elif kind == "C":
                commands[rest[0]] = rest[1]
        if not os.path.exists(path) or os.path.getsize(path) == 0 and not deployments:
            continue
        # The store reopens through owd, and answers every acknowledged deployment.
        r = Repl(path)
        check(r.ok, f"reopen after kill {k + 1}: {r.open_line}")
        ids = sorted(deployments)
        for i in range(0, len(ids), 100):
            got = r.must("DescribeDeployments", {"DeploymentIds": ids[i:i + 100]})["Deployments"]
            check(len(got) == len(ids[i:i + 100]), "an acknowledged deployment is missing")
        r.close()
        integrity(path)
        have = set(x for (x,) in sql(path, "SELECT id FROM deployments"))
        check(deployments <= have, f"lost deployments: {sorted(deployments - have)[:3]}")
        status = dict(sql(path, "SELECT id, status FROM commands"))
        lost = [c for c, s in commands.items() if status.get(c) != s]
        check(not lost, f"lost command results: {lost[:3]}")
        stuck = running_but_finished(path)
        check(not stuck, f"deployments running with every command finished: {stuck[:3]}")
        bad = sql(path, """SELECT id FROM deployments d WHERE pending !=
                           (SELECT count(*) FROM commands c WHERE c.deployment_seq = d.seq AND c.status = 'pending')""")
        check(not bad, f"pending counts that disagree with the commands: {bad[:3]}")
    check(len(deployments) >= 10 * threads, f"only {len(deployments)} deployments acknowledged in {kills} runs")
    if threads > 1:
        return (f"{kills} kills of {threads} writer threads on one handle (group commit): {len(deployments)} "
                f"deployments and {len(commands)} command results acknowledged, all present, integrity ok")
    # Kills while a new store is being made (the child needs ~70 ms or more to its first
    # create): whatever the moment, the file reopens as a store.
    states = {}
    for k in range(1, 11):
        fresh = os.path.join(tmp, f"fresh{k}.owd")
        child = subprocess.Popen([TOOL, "crash", fresh], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(0.015 * k)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        state = ("no file" if not os.path.exists(fresh) else
                 "after a create" if out else
                 "with a -wal" if os.path.exists(fresh + "-wal") else "empty file")
        states[state] = states.get(state, 0) + 1
        r = Repl(fresh)
        check(r.ok, f"a store killed {15 * k} ms into its creation does not reopen: {r.open_line}")
        make_stack(r, 1)
        r.close()
        integrity(fresh)
    early = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    return (f"{kills} kills, {len(deployments)} deployments and {len(commands)} command results acknowledged, "
            f"all present; 10 kills 15-150 ms into a new store ({early}), each reopened")


def test_crash_threads(tmp):
    """The same SIGKILL loop with 32 writer threads sharing commits: nothing acknowledged is lost."""
    return test_crash(tmp, kills=15, threads=32)


def test_processes(tmp, procs=4, each=500):
    """4 processes on one new file at once, each creating and describing its own."""
    path = os.path.join(tmp, "procs.owd")
    children = [subprocess.Popen([TOOL, "writer", path, str(each)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(procs)]
    stacks = []
    for c in children:
        out, err = c.communicate(timeout=120)
        check(c.returncode == 0, f"writer failed: {err.strip()}")
        stacks.append(out.split()[1])
    integrity(path)
    total = sql(path, "SELECT count(*) FROM deployments")[0][0]
    check(total == procs * each, f"{total} deployments, expected {procs * each}")
    r = Repl(path)
    check(r.ok, r.open_line)
    for s in stacks:
        n = len(r.must("DescribeDeployments", {"StackId": s})["Deployments"])
        check(n == each, f"stack {s}: {n} deployments, expected {each}")
    n = len(r.must("DescribeDeployments")["Deployments"])
    r.close()
    check(n == procs * each, f"DescribeDeployments: {n}")
    return f"{procs} processes x {each} creates: {total} present, no error"


def test_threads(tmp, threads=8, ops=40):
    """8 threads on one handle: creates, completes, describes; invariants hold."""
    path = os.path.join(tmp, "threads.owd")
    p = subprocess.run([TOOL, "threads", path, str(threads), str(ops)], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"threads: {p.stderr.strip()}")
    integrity(path)
    stuck = running_but_finished(path)
    check(not stuck, f"running with every command finished: {stuck[:3]}")
    wrong = sql(path, """SELECT id FROM deployments d WHERE status = ? AND EXISTS
                         (SELECT 1 FROM commands c WHERE c.deployment_seq = d.seq AND c.status = 'failed')""",
                (SUCCESSFUL,))
    check(not wrong, f"successful deployments with a failed command: {wrong[:3]}")
    return f"{threads} threads x {ops} ops: " + p.stdout.strip().split(" ", 2)[2]


def expect_refused(path, words, as_user=None):
    """Opening `path` fails with OWD_ESTORE and a message holding one of `words`."""
    r = Repl(path, as_user=as_user)
    r.close()
    check(not r.ok, f"{path} was opened: {r.open_line}")
    _, _, code, type_, message = r.open_line.split(" ", 4)
    check(code == "-6" and type_ == "StoreError", f"{r.open_line}")
    check(any(w in message for w in words), f"unclear message: {message!r} (expected one of {words})")
    return message


def writable_as_nobody(path):
    if NOBODY is None:
        return os.access(path, os.W_OK)
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           "test", "-w", path]).returncode == 0


def chown(path, uid):
    if NOBODY is not None:
        os.chown(path, uid, uid)


def test_refusal(tmp):
    """Files that are not owd stores, or that owd cannot write, are refused and untouched."""
    good = os.path.join(tmp, "good.owd")
    r = Repl(good)
    stack = make_stack(r)
    for _ in range(40):
        r.must("CreateDeployment", {"StackId": stack, "Command": {"Name": "configure"}, "CustomJson": json.dumps({"x": "y" * 500})})
    r.close()
    no_sidecars(good)   # a cleanly closed store is one file
    with open(good, "rb") as f:
        store_bytes = f.read()
    check(len(store_bytes) >= 8 * 4096, f"the sample store is only {len(store_bytes)} bytes")

    cases = {}
    def case(name, data, words):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        cases[name] = (p, words)
        return p

    newer = case("newer.owd", store_bytes, ["newer"])
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    case("random.owd", os.urandom(16384), ["not an SQLite database", "not an owd store"])
    case("truncated-odd.owd", store_bytes[:len(store_bytes) // 2 + 1000], ["truncated"])
    case("truncated-pages.owd", store_bytes[:2 * 4096], ["truncated"])
    case("truncated-header.owd", store_bytes[:60], ["truncated", "not an SQLite database"])
    foreign = case("foreign.db", b"", ["not an owd store"])
    db = sqlite3.connect(foreign)
    db.executescript("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES('mine');")
    db.close()
    foreign_wal = case("foreign-wal.db", b"", ["not an owd store"])
    db = sqlite3.connect(foreign_wal)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes(text) VALUES('mine');")
    db.close()
    other_app = case("other-app.db", store_bytes, ["not an owd store"])
    db = sqlite3.connect(other_app)
    db.execute("PRAGMA application_id=1234")
    db.close()
    messages = []
    for name, (p, words) in sorted(cases.items()):
        before = sha(p)
        no_sidecars(p)
        message = expect_refused(p, words)
        check(sha(p) == before, f"{name} was modified")
        no_sidecars(p)
        messages.append(f"{name}: {message.split(': ', 1)[-1]}")

    # A newer schema committed by a process that still has the store open: the version
    # is only in the -wal, the file's header still says SCHEMA_VERSION. Refused all the same.
    live = os.path.join(tmp, "newer-in-wal.owd")
    with open(live, "wb") as f:
        f.write(store_bytes)
    holder = sqlite3.connect(live, isolation_level=None)
    holder.execute("PRAGMA wal_autocheckpoint=0")
    holder.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    check(os.path.getsize(live + "-wal") > 0, "user_version did not go to the -wal")
    before = sha(live)
    message = expect_refused(live, ["newer"])
    check(sha(live) == before, "newer-in-wal.owd was modified")
    holder.close()
    messages.append(f"newer-in-wal.owd: {message.split(': ', 1)[-1]}")

    # Read-only cases, as an unprivileged user (root ignores permission bits).
    ro = os.path.join(tmp, "ro")
    os.mkdir(ro)
    os.chmod(tmp, 0o755)
    ro_file = os.path.join(ro, "readonly.owd")
    with open(ro_file, "wb") as f:
        f.write(store_bytes)
    chown(ro, NOBODY)
    chown(ro_file, NOBODY)
    # Control: writable, the same user opens it, so the refusals below are due to the
    # permission bits alone.
    ctl = Repl(ro_file, as_user=NOBODY)
    check(ctl.ok, f"as nobody, a writable store does not open: {ctl.open_line}")
    ctl.close()
    no_sidecars(ro_file)
    os.chmod(ro_file, 0o400)
    check(not writable_as_nobody(ro_file), "the read-only file is writable by nobody")
    before = sha(ro_file)
    message = expect_refused(ro_file, ["read-only"], as_user=NOBODY)
    check(sha(ro_file) == before, "the read-only file was modified")
    no_sidecars(ro_file)
    messages.append(f"read-only file: {message.split(': ', 1)[-1]}")

    os.chmod(ro_file, 0o600)
    chown(ro, 0)
    os.chmod(ro, 0o555)
    try:
        check(not writable_as_nobody(ro), "the directory is writable by nobody")
        before = sha(ro_file)
        message = expect_refused(ro_file, ["directory"], as_user=NOBODY)
        check(sha(ro_file) == before, "the store in a read-only directory was modified")
        no_sidecars(ro_file)
        messages.append(f"read-only directory: {message.split(': ', 1)[-1]}")
        new_file = os.path.join(ro, "new.owd")
        message = expect_refused(new_file, ["directory", "Permission denied"], as_user=NOBODY)
        check(not os.path.exists(new_file), "a store was created in a read-only directory")
        messages.append(f"new store in a read-only directory: {message.split(': ', 1)[-1]}")
    finally:
        os.chmod(ro, 0o755)
    return "refused and unchanged:\n      " + "\n      ".join(messages)


# The first schema exactly as owd 0.1 wrote it (Engine.schema); frozen history.
SCHEMA_V1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES('change_seq', 0);
CREATE TABLE stacks(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, region TEXT NOT NULL,
    created_at INTEGER NOT NULL, body TEXT NOT NULL, change_seq INTEGER NOT NULL);
CREATE TABLE layers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX layers_stack ON layers(stack_id, seq);
CREATE TABLE apps(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, body TEXT NOT NULL, change_seq INTEGER NOT NULL);
CREATE INDEX apps_stack ON apps(stack_id, seq);
CREATE TABLE instances(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, status TEXT NOT NULL, layer_ids TEXT NOT NULL, os TEXT,
    body TEXT NOT NULL);
CREATE INDEX instances_stack ON instances(stack_id, seq);
CREATE TABLE deployments(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
    app_id TEXT, created_at INTEGER NOT NULL, completed_at INTEGER, status INTEGER NOT NULL,
    command INTEGER NOT NULL, args BLOB NOT NULL, instance_ids TEXT NOT NULL, iam_user_arn TEXT,
    comment TEXT, custom_json TEXT, pending INTEGER NOT NULL, change_seq INTEGER NOT NULL);
CREATE INDEX deployments_change ON deployments(change_seq);
CREATE TABLE commands(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, deployment_seq INTEGER NOT NULL,
    deployment_id TEXT NOT NULL, stack_id TEXT NOT NULL, instance_id TEXT NOT NULL,
    created_at INTEGER NOT NULL, acknowledged_at INTEGER, completed_at INTEGER, status TEXT NOT NULL,
    exit_code INTEGER, log_url TEXT, type TEXT NOT NULL);
CREATE INDEX commands_deployment ON commands(deployment_seq, seq);
CREATE INDEX commands_instance ON commands(instance_id, deployment_seq);
CREATE TABLE user_profiles(seq INTEGER PRIMARY KEY, iam_user_arn TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE permissions(seq INTEGER PRIMARY KEY, stack_id TEXT NOT NULL, iam_user_arn TEXT NOT NULL,
    level TEXT NOT NULL, allow_ssh INTEGER NOT NULL, allow_sudo INTEGER NOT NULL,
    change_seq INTEGER NOT NULL, UNIQUE(stack_id, iam_user_arn));
CREATE INDEX permissions_change ON permissions(change_seq);
"""


def test_upgrade(tmp):
    """A schema-1 store opens, becomes schema 2, and keeps and serves its data."""
    # Rows as owd writes them, made by today's library, copied into a v1 file by hand.
    src = os.path.join(tmp, "source.owd")
    r = Repl(src)
    stack = make_stack(r)
    app = r.must("CreateApp", {"StackId": stack, "Name": "shop", "Type": "other"})["AppId"]
    dep = r.must("CreateDeployment", {"StackId": stack, "AppId": app, "Command": {"Name": "deploy"},
                                      "Comment": "from v1"})["DeploymentId"]
    r.close()
    old = os.path.join(tmp, "v1.owd")
    db = sqlite3.connect(old)
    db.executescript(SCHEMA_V1)
    db.execute("ATTACH ? AS src", (src,))
    for table in ("stacks", "layers", "apps", "instances", "deployments", "commands", "meta"):
        cols = [row[1] for row in db.execute(f"PRAGMA main.table_info({table})")]
        db.execute(f"INSERT OR REPLACE INTO main.{table}({','.join(cols)}) SELECT {','.join(cols)} FROM src.{table}")
    db.commit()
    db.execute("DETACH src")
    db.execute("PRAGMA application_id=1870095409")
    db.execute("PRAGMA user_version=1")
    db.close()
    check(sql(old, "PRAGMA user_version") == [(1,)], "fixture is not version 1")

    r = Repl(old)
    check(r.ok, f"the v1 store does not open: {r.open_line}")
    apps = r.must("DescribeApps", {"AppIds": [app]})["Apps"]
    check(len(apps) == 1 and apps[0]["Name"] == "shop", f"DescribeApps: {apps}")
    ds = r.must("DescribeDeployments", {"AppId": app})["Deployments"]
    check(len(ds) == 1 and ds[0]["DeploymentId"] == dep and ds[0]["Comment"] == "from v1", f"DescribeDeployments: {ds}")
    r.must("UpdateApp", {"AppId": app, "Name": "shop2"})
    apps = r.must("DescribeApps", {"StackId": stack})["Apps"]
    check([a["Name"] for a in apps] == ["shop2"], f"after UpdateApp: {apps}")
    dep2 = r.must("CreateDeployment", {"StackId": stack, "AppId": app, "Command": {"Name": "deploy"}})["DeploymentId"]
    check(len(r.must("DescribeDeployments", {"AppId": app})["Deployments"]) == 2, "second deployment missing")
    r.close()
    integrity(old)
    check(sql(old, "PRAGMA user_version") == [(SCHEMA_VERSION,)], f"not upgraded to version {SCHEMA_VERSION}")
    check(sql(old, "PRAGMA journal_mode") == [("wal",)], "the upgraded store is not in WAL mode")
    versions = sql(old, "SELECT count(*) FROM app_versions WHERE app_id = ?", (app,))[0][0]
    check(versions == 2, f"{versions} app versions")
    return f"v1 store upgraded to {SCHEMA_VERSION}; app, deployment {dep[:8]}.. served; UpdateApp and a new deployment {dep2[:8]}.. work"


def test_new_file_mode(tmp):
    """A new store and its -wal/-shm are 0600, whatever the umask."""
    path = os.path.join(tmp, "new.owd")
    old = os.umask(0)
    try:
        r = Repl(path)
        check(r.ok, r.open_line)
        make_stack(r, 1)
        modes = {s: oct(os.stat(path + s).st_mode & 0o777) for s in ("", "-wal", "-shm")}
        r.close()
    finally:
        os.umask(old)
    check(all(m == "0o600" for m in modes.values()), f"modes: {modes}")
    return f"modes with umask 0: {modes}"


def test_visibility(tmp):
    """Process B, opened before A wrote, sees A's creates and completions on its next call."""
    path = os.path.join(tmp, "visible.owd")
    a = Repl(path)
    stack = make_stack(a)
    b = Repl(path)
    check(b.ok, b.open_line)
    check(b.must("DescribeDeployments", {"StackId": stack})["Deployments"] == [], "B sees a deployment")
    seen = []
    for n in range(1, 6):
        dep = a.must("CreateDeployment", {"StackId": stack, "Command": {"Name": "configure"}})["DeploymentId"]
        got = b.must("DescribeDeployments", {"DeploymentIds": [dep]})["Deployments"]
        check(got[0]["Status"] == "running", f"B sees {got}")
        check(len(b.must("DescribeDeployments", {"StackId": stack})["Deployments"]) == n, "B's stack count is stale")
        for c in a.must("DescribeCommands", {"DeploymentId": dep})["Commands"]:
            check(b.must("DescribeDeployments", {"DeploymentIds": [dep]})["Deployments"][0]["Status"] == "running",
                  "finished too early")
            a.must("CompleteCommand", {"CommandId": c["CommandId"], "Status": "successful"})
        got = b.must("DescribeDeployments", {"DeploymentIds": [dep]})["Deployments"][0]
        check(got["Status"] == "successful" and "CompletedAt" in got, f"B sees {got}")
        seen.append(got["Status"])
    # And the other way round.
    dep = b.must("CreateDeployment", {"StackId": stack, "Command": {"Name": "configure"}})["DeploymentId"]
    check(len(a.must("DescribeDeployments", {"DeploymentIds": [dep]})["Deployments"]) == 1, "A misses B's deployment")
    a.close()
    b.close()
    return f"B saw each of A's 5 deployments running, then successful; A saw B's"


def test_busy(tmp):
    """Another process holds the write lock past a tiny busy timeout: StoreBusy, nothing changed."""
    path = os.path.join(tmp, "busy.owd")
    r = Repl(path, busy_ms=100)
    stack = make_stack(r)
    r.must("CreateDeployment", {"StackId": stack, "Command": {"Name": "configure"}})
    lock = sqlite3.connect(path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    t0 = time.monotonic()
    ok, err = r.call("CreateDeployment", {"StackId": stack, "Command": {"Name": "configure"}})
    waited = time.monotonic() - t0
    check(not ok and err[0] == -5 and err[1] == "StoreBusy", f"expected StoreBusy, got {ok} {err}")
    check("try again" in err[2] and "nothing was changed" in err[2], f"message: {err[2]}")
    check(0.09 <= waited < 3, f"waited {waited:.3f} s with a 100 ms busy timeout")
    # Readers are not blocked by the writer (WAL).
    check(len(r.must("DescribeDeployments", {"StackId": stack})["Deployments"]) == 1, "reads blocked or changed")
    lock.execute("ROLLBACK")
    lock.close()
    check(sql(path, "SELECT count(*) FROM deployments")[0][0] == 1, "the failed create left a deployment")
    r.must("CreateDeployment", {"StackId": stack, "Command": {"Name": "configure"}})
    check(len(r.must("DescribeDeployments", {"StackId": stack})["Deployments"]) == 2, "retry did not create")
    r.close()
    return f"StoreBusy after {waited * 1000:.0f} ms (timeout 100 ms), nothing changed; the retry succeeded"


def test_fsync(tmp, creates=50, threads=32, each=10):
    """FULL syncs the WAL at every commit, NORMAL does not; 32 threads on one handle share
    syncs (group commit): far fewer syncs than creates (strace counts)."""
    import shutil
    if not shutil.which("strace"):
        return "skipped: strace is not installed"
    counts = {}
    for mode, name, argv in ((0, "FULL", [str(creates), "0"]), (1, "NORMAL", [str(creates), "1"]),
                             (0, "FULL32", [str(each), "0", str(threads)])):
        trace = os.path.join(tmp, f"strace.{name}")
        p = subprocess.run(["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", trace,
                            TOOL, "bench", os.path.join(tmp, f"{name}.owd")] + argv,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0 and "ptrace" in p.stderr:
            return f"skipped: strace cannot trace here ({p.stderr.strip()})"
        check(p.returncode == 0, f"bench {name}: {p.stderr.strip()}")
        with open(trace) as f:
            counts[name] = sum(int(line.split()[3]) for line in f
                               if line.split()[-1:] in (["fsync"], ["fdatasync"]))
    check(counts["FULL"] >= creates, f"FULL: {counts['FULL']} syncs for {creates} creates")
    check(counts["NORMAL"] < creates // 2, f"NORMAL: {counts['NORMAL']} syncs for {creates} creates")
    grouped = threads * each
    check(counts["FULL32"] < grouped // 2, f"FULL, {threads} threads: {counts['FULL32']} syncs for {grouped} creates")
    return (f"{creates} creates: {counts['FULL']} syncs with FULL, {counts['NORMAL']} with NORMAL; "
            f"{grouped} creates from {threads} threads, FULL: {counts['FULL32']} syncs (setup included)")


TESTS = [test_new_file_mode, test_fsync, test_refusal, test_upgrade, test_visibility, test_busy, test_threads,
         test_processes, test_crash, test_crash_threads]


def copy_for_nobody(folder):
    """Copies the tool and the libowd.so.0 it loads into `folder` (world-readable) and
    checks that nobody can run the copy."""
    global NOBODY_TOOL, NOBODY_ENV
    ldd = subprocess.run(["ldd", TOOL], capture_output=True, text=True, check=True).stdout
    libs = [line.split("=>")[1].split("(")[0].strip() for line in ldd.splitlines()
            if line.strip().startswith("libowd.so")]
    check(len(libs) == 1 and os.path.isfile(libs[0]), f"ldd {TOOL} names no libowd.so: {ldd}")
    os.chmod(folder, 0o755)
    NOBODY_TOOL = os.path.join(folder, os.path.basename(TOOL))
    shutil.copy(TOOL, NOBODY_TOOL)
    shutil.copy(libs[0], os.path.join(folder, "libowd.so.0"))   # the SONAME the tool needs
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o755)
    NOBODY_ENV = dict(os.environ, LD_LIBRARY_PATH=folder)
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            NOBODY_TOOL, "repl", ":memory:", "0", "2"], input="", env=NOBODY_ENV,
                           capture_output=True, text=True)
    check(probe.stdout.startswith("OPEN OK"), f"nobody cannot run {NOBODY_TOOL}: {probe.stdout}{probe.stderr}")


def main():
    global TOOL
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("-k", help="run only tests whose name contains this")
    args = ap.parse_args()
    TOOL = os.path.abspath(args.tool)
    failed = 0
    t_all = time.monotonic()
    if NOBODY is not None:
        nobody_dir = tempfile.TemporaryDirectory(prefix="owd-durability-nobody-")
        try:
            copy_for_nobody(nobody_dir.name)
        except Exception as e:
            print(f"FAIL setup: {e}", flush=True)
            return 1
    for test in TESTS:
        if args.k and args.k not in test.__name__:
            continue
        with tempfile.TemporaryDirectory(prefix="owd-durability-") as tmp:
            t0 = time.monotonic()
            try:
                summary = test(tmp)
                print(f"ok   {test.__name__} ({time.monotonic() - t0:.1f} s): {summary}", flush=True)
            except Exception as e:   # a failure, or a crash of the test itself
                failed += 1
                print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f} s): {type(e).__name__}: {e}", flush=True)
    print(f"durability: {'all passed' if not failed else f'{failed} failed'} in {time.monotonic() - t_all:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
