"""Issue 20: packaging/owd.service and packaging/owd-agent@.service. systemd-analyze verify
(Debian's systemd, on this machine) on both with the built program in ExecStart's place:
it prints a line per unknown key or bad value and exits 0 regardless, so any output fails.
Then owd.service's own ExecStart line, its specifiers and variables filled in as systemd
fills them, is run: it must serve HTTPS."""
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import OWD, write_credentials
from test_tls import pki  # noqa: F401  (the fixture)

PACKAGING = os.path.join(os.path.dirname(__file__), "..", "..", "packaging")
UNITS = ["owd.service", "owd-agent@.service"]


def unit(name):
    with open(os.path.join(PACKAGING, name)) as f:
        return f.read()


def directives(text):
    """[(section, key, value)] with continuation lines joined."""
    out, section = [], None
    text = re.sub(r"\\\n\s*", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key, value))
    return out


def staged(tmp_path):
    """The units with the built program in /usr/local/bin/owd's place."""
    for name in UNITS:
        (tmp_path / name).write_text(unit(name).replace("/usr/local/bin/owd", os.path.abspath(OWD)))
    return tmp_path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="no systemd-analyze on this machine: the units get only the syntax and content checks below")
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    d = staged(tmp_path)
    p = subprocess.run(["systemd-analyze", "verify", "owd.service", "owd-agent@stack1.service"], cwd=d,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "" and p.stderr.strip() == "", p.stdout + p.stderr
    # The check can fail: a unit with a mistake is reported.
    (d / "broken.service").write_text("[Service]\nExecStart=/bin/true\nRestart=sometimes\n")
    p = subprocess.run(["systemd-analyze", "verify", "broken.service"], cwd=d, capture_output=True, text=True)
    assert "restart" in (p.stdout + p.stderr).lower()


def test_the_server_unit_has_what_the_issue_asks():
    got = directives(unit("owd.service"))
    keys = {(s, k): v for s, k, v in got}
    assert [s for s in dict.fromkeys(s for s, _, _ in got)] == ["Unit", "Service", "Install"]
    assert keys[("Service", "DynamicUser")] == "yes"
    assert keys[("Service", "StateDirectory")] == "owd"
    assert keys[("Service", "ProtectSystem")] == "strict"
    assert keys[("Service", "Restart")] == "on-failure"
    assert keys[("Service", "KillSignal")] == "SIGTERM"
    assert "%S/owd/store.owd" in keys[("Service", "ExecStart")]


def test_the_agent_unit_takes_its_instance_and_credentials_from_an_environment_file():
    got = directives(unit("owd-agent@.service"))
    keys = {(s, k): v for s, k, v in got}
    assert keys[("Service", "EnvironmentFile")] == "/etc/owd/agent/%i.env"
    assert keys[("Service", "KillSignal")] == "SIGTERM" and keys[("Service", "Restart")] == "on-failure"
    start = shlex.split(keys[("Service", "ExecStart")])
    assert start[:2] == ["/usr/local/bin/owd", "agent"]
    assert "--ca-file" in start and "--endpoint" in start and "%S/owd-agent/%i" in start


def test_the_server_units_command_line_serves_https(tmp_path, pki):  # noqa: F811
    """ExecStart as systemd runs it: %S the state root, %d the credentials folder (its files
    0400, the service user's), ${...} from Environment=."""
    keys = {(s, k): v for s, k, v in directives(unit("owd.service"))}
    env = dict(kv.split("=", 1) for kv in keys[("Service", "Environment")].split())
    state, creds = tmp_path / "state", tmp_path / "credentials"
    (state / "owd").mkdir(parents=True)
    creds.mkdir(mode=0o700)
    write_credentials(creds / "credentials.json", mode=0o400)
    shutil.copy(pki / "server.key", creds / "server.key")
    os.chmod(creds / "server.key", 0o400)
    env.update(OWD_HOST="127.0.0.1", OWD_PORT="0", OWD_TLS_CERT=str(pki / "server.pem"))
    line = keys[("Service", "ExecStart")].replace("%S", str(state)).replace("%d", str(creds))
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    argv = shlex.split(line)
    assert argv[0] == "/usr/local/bin/owd"
    p = subprocess.Popen([OWD] + argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        assert re.fullmatch(r"owd: listening on https://127\.0\.0\.1:\d+\n", first), (first, p.stderr.read() if p.poll() is not None else "")
        assert os.path.exists(state / "owd" / "store.owd")
    finally:
        p.terminate()
        assert p.wait(20) == 0


@pytest.mark.parametrize("name,command", [("owd.service", "serve"), ("owd-agent@.service", "agent")])
def test_every_option_of_the_units_command_line_is_one_the_program_has(name, command):
    keys = {(s, k): v for s, k, v in directives(unit(name))}
    start = shlex.split(keys[("Service", "ExecStart")])
    assert start[1] == command
    given = [a for a in start if a.startswith("--")]
    assert given
    helped = subprocess.run([OWD, command, "--help"], capture_output=True, text=True, check=True).stdout
    for option in given:
        assert re.search(r"(^|\s)%s\b" % re.escape(option), helped), f"{name}: {option} is not an option of owd {command}"
