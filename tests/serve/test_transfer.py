"""`owd export` and `owd import` (behaviour.md section 16) as a user runs them: the real
program, AWS's published describe outputs (Tests/OwdCoreTests/Fixtures/awscli), and boto3
reading the imported store back through `owd serve`."""
import json
import os
import pty
import subprocess

from conftest import OWD, OWNER, Server, boto3_client

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "OwdCoreTests", "Fixtures", "awscli")
EXAMPLES = [os.path.join(FIXTURES, n + ".json") for n in
            ("stacks", "layers", "apps", "instances", "user-profiles", "permissions", "deployments", "commands")]
STACK = "38ee91e2-abdc-4208-a107-0b7168b3cc7a"


def parents(folder):
    """The parents AWS's examples name without holding (they come from several stacks)."""
    stacks = [{"StackId": s, "Name": "p" + s[:4], "Region": "us-east-1", "CreatedAt": "2013-07-01T00:00:00+00:00"}
              for s in (STACK, "71c7ca72-55ae-4b6a-8ee1-a8dcded3fa0f", "d72553d4-8727-448c-9b00-f024f0ba1b06")]
    layers = [{"LayerId": "26cf1d32-6876-42fa-bbf1-9cadc0bff938", "StackId": "71c7ca72-55ae-4b6a-8ee1-a8dcded3fa0f",
               "Name": "web", "Shortname": "web", "Type": "custom", "CreatedAt": "2013-07-01T00:00:00+00:00"}]
    instances = [{"InstanceId": i, "StackId": STACK, "Status": "online", "CreatedAt": "2013-07-01T00:00:00+00:00"}
                 for i in ("8c2673b9-3fe5-420d-9cfa-78d875ee7687", "9e588a25-35b2-4804-bd43-488f85ebe5b7")]
    out = []
    for name, key, items in (("stacks", "Stacks", stacks), ("layers", "Layers", layers), ("instances", "Instances", instances)):
        path = os.path.join(folder, f"parent-{name}.json")
        with open(path, "w") as f:
            json.dump({key: items}, f)
        out.append(path)
    return out


def owd(*args):
    return subprocess.run([OWD, *args], capture_output=True, text=True)


def load(path):
    with open(path) as f:
        return json.load(f)


def test_help_names_both_subcommands():
    top = owd("--help")
    assert "import" in top.stdout and "export" in top.stdout
    assert "--with-secrets" in owd("export", "--help").stdout
    assert "one transaction" in owd("import", "--help").stdout


def test_aws_outputs_import_and_boto3_reads_them_back(tmp_path):
    store = str(tmp_path / "s.owd")
    p = owd("import", "--store", store, *parents(tmp_path), *EXAMPLES)
    assert p.returncode == 0, p.stderr
    assert "imported 20 records (0 already present and equal, skipped)" in p.stdout
    server = Server(tmp_path, store=store)
    try:
        client = boto3_client(server, OWNER)
        got = client.describe_deployments(StackId=STACK)["Deployments"]
        assert got == load(EXAMPLES[6])["Deployments"]
        got = client.describe_commands(DeploymentId="6ed0df4c-9ef7-4812-8dac-d54a05be1029")["Commands"]
        assert got == [c for c in load(EXAMPLES[7])["Commands"] if c["DeploymentId"] == "6ed0df4c-9ef7-4812-8dac-d54a05be1029"]
        stacks = load(EXAMPLES[0])["Stacks"]
        assert client.describe_stacks(StackIds=[s["StackId"] for s in stacks])["Stacks"] == stacks
    finally:
        server.stop()


def test_again_skips_everything(tmp_path):
    store = str(tmp_path / "s.owd")
    files = parents(tmp_path) + EXAMPLES
    assert owd("import", "--store", store, *files).returncode == 0
    p = owd("import", "--store", store, *files)
    assert p.returncode == 0, p.stderr
    assert "imported 0 records (20 already present and equal, skipped)" in p.stdout


def snapshot(store, folder):
    assert owd("export", "--store", store, "--with-secrets", str(folder)).returncode == 0
    return {n: open(os.path.join(folder, n)).read() for n in sorted(os.listdir(folder))}


def test_refusal_exits_1_names_file_and_record_and_changes_nothing(tmp_path):
    store = str(tmp_path / "s.owd")
    assert owd("import", "--store", store, *parents(tmp_path), *EXAMPLES).returncode == 0
    before = snapshot(store, tmp_path / "before")
    changed = load(EXAMPLES[6])
    changed["Deployments"][0]["Status"] = "failed"
    bad = tmp_path / "changed.json"
    bad.write_text(json.dumps(changed))
    truncated = tmp_path / "truncated.json"
    truncated.write_text(open(EXAMPLES[0]).read()[:200])
    for path, words in ((bad, ["Deployment 6ed0df4c-9ef7-4812-8dac-d54a05be1029", "conflicts"]),
                        (truncated, ["truncated"])):
        p = owd("import", "--store", store, EXAMPLES[1], str(path))
        assert p.returncode == 1
        assert str(path) in p.stderr and all(w in p.stderr for w in words), p.stderr
        assert "the store is unchanged" in p.stderr
        assert p.stdout == ""
    assert snapshot(store, tmp_path / "after") == before


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    p = owd("import", "--store", str(tmp_path / "s.owd"), *parents(tmp_path), *EXAMPLES)
    lines = [l for l in p.stderr.splitlines() if l.startswith("owd: import: ")]
    assert lines and "100%" in lines[-1] and "records/s" in lines[-1] and "left" in lines[-1], p.stderr
    assert "\r" not in p.stderr
    assert owd("import", "--quiet", "--store", str(tmp_path / "q.owd"), *parents(tmp_path), *EXAMPLES).stderr == ""


def test_progress_bar_on_a_terminal(tmp_path):
    master, slave = pty.openpty()
    p = subprocess.run([OWD, "import", "--store", str(tmp_path / "s.owd"), *parents(tmp_path), *EXAMPLES],
                       stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    shown = os.read(master, 65536).decode()
    os.close(master)
    assert p.returncode == 0
    assert "\r[" in shown and "100%" in shown and "/s" in shown and "left" in shown, repr(shown)


def test_export_filters_secrets_unless_asked_then_imports_identically(tmp_path):
    store = str(tmp_path / "s.owd")
    server = Server(tmp_path, store=store)
    try:
        client = boto3_client(server, OWNER)
        stack = client.create_stack(Name="s", Region="us-east-1", ServiceRoleArn="arn:aws:iam::123456789012:role/r",
                                    DefaultInstanceProfileArn="arn:aws:iam::123456789012:instance-profile/p")["StackId"]
        client.create_app(StackId=stack, Name="a", Type="other",
                          AppSource={"Type": "git", "Url": "u", "Password": "hunter2-" + "x" * 8})
        layer = client.create_layer(StackId=stack, Type="custom", Name="web", Shortname="web")["LayerId"]
        instance = client.create_instance(StackId=stack, LayerIds=[layer], InstanceType="t3.small")["InstanceId"]
        client.start_instance(InstanceId=instance)
        client.create_deployment(StackId=stack, Command={"Name": "configure"})
    finally:
        server.stop()
    plain, secret = tmp_path / "plain", tmp_path / "secret"
    p = owd("export", "--store", store, str(plain))
    assert p.returncode == 0 and "exported" in p.stdout
    assert "hunter2" not in (plain / "apps.json").read_text() and "*****FILTERED*****" in (plain / "apps.json").read_text()
    assert owd("export", "--store", store, "--with-secrets", str(secret)).returncode == 0
    assert "hunter2" in (secret / "apps.json").read_text()
    assert os.stat(secret / "apps.json").st_mode & 0o077 == 0
    copy = str(tmp_path / "copy.owd")
    files = sorted(str(secret / n) for n in os.listdir(secret))
    assert owd("import", "--store", copy, *files).returncode == 0
    assert snapshot(copy, tmp_path / "copy-export") == snapshot(store, tmp_path / "orig-export")


def test_missing_store_and_missing_file(tmp_path):
    p = owd("export", "--store", str(tmp_path / "none.owd"), str(tmp_path / "out"))
    assert p.returncode == 1 and "none.owd" in p.stderr
    p = owd("import", "--store", str(tmp_path / "s.owd"), str(tmp_path / "missing.json"))
    assert p.returncode == 1 and "missing.json" in p.stderr
    assert owd("import", "--store", str(tmp_path / "s.owd")).returncode == 64
