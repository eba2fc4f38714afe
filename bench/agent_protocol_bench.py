#!/usr/bin/env python3
"""`make bench-agent` (issue 16, section 14): the agent protocol's speed through one owd serve.

- Latency from CreateDeployment to the deployment's `successful`, with 1 and with 10 agents
  and a no-op hook: p50 and p99 over --rounds deployments, made one at a time.
- Commands/s through one server with 10 agents: --burst deployments created back to back,
  until the last of their commands is complete.
- The floor, measured in the same run: the same client making the same four calls back to
  back with nothing to wait for (CreateDeployment to one instance, PollCommands with
  WaitTimeSeconds 0, AcknowledgeCommand, CompleteCommand), so the latency's ratio to it
  is what waiting costs.

Agents: with --real-agents, `owd agent` processes (the --owd program, its default kept
connections, a hook folder whose `configure` is `#!/bin/sh` `exit 0`); a deployment's end is
then the agent's stderr line for its last command (written once CompleteCommand returned),
read as it comes. Otherwise simulated agents, one
process each (no GIL shared between them), each doing what the agent does on one keep-alive
connection with SigV4 (the server checks signatures: a credentials file): PollCommands with
WaitTimeSeconds 20; for each command AcknowledgeCommand, the hook run (a 0600 context file in
a fresh folder, `true` spawned with the OWD_* variables, its output captured), then
CompleteCommand with the exit code and the log. A deployment's end is the moment the last of
its CompleteCommand calls returned (the call that makes it `successful`), reported by the
agents over a pipe with the shared monotonic clock: the creator does not poll (that would load
the server); it checks with one DescribeDeployments that the deployment is `successful`.

    python3 bench/agent_protocol_bench.py --owd .build/release/owd [--rounds 200] [--burst 50] [--real-agents]
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REGION = "us-east-1"
KEY, SECRET = "AKIDBENCHAGENT000001", "bench-agent-secret-key-0000000000000000"
HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- bench-agent: begin (bench/agent_protocol_bench.py writes this section) -->"
END = "<!-- bench-agent: end -->"


class Client:
    """One keep-alive connection to owd serve, requests signed with SigV4 (service opsworks)."""

    def __init__(self, url):
        m = re.match(r"http://([^:/]+):(\d+)", url)
        self.host = "%s:%s" % (m.group(1), m.group(2))
        self.conn = http.client.HTTPConnection(m.group(1), int(m.group(2)))
        self.keys = {}

    def signing_key(self, date):
        if date not in self.keys:
            k = ("AWS4" + SECRET).encode()
            for part in (date, REGION, "opsworks", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self.keys = {date: k}
        return self.keys[date]

    def call(self, operation, **request):
        body = json.dumps(request).encode()
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = "OpsWorks_20130218." + operation
        headers = {"content-type": "application/x-amz-json-1.1", "host": self.host,
                   "x-amz-date": amz, "x-amz-target": target}
        names = sorted(headers)
        canonical = "\n".join(["POST", "/", "", "".join("%s:%s\n" % (n, headers[n]) for n in names),
                               ";".join(names), hashlib.sha256(body).hexdigest()])
        scope = "%s/%s/opsworks/aws4_request" % (amz[:8], REGION)
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.new(self.signing_key(amz[:8]), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
            KEY, scope, ";".join(names), signature)
        del headers["host"]
        self.conn.request("POST", "/", body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("%s: %d %s" % (operation, r.status, data[:200]))
        return json.loads(data)


def run_hook(command, instance, folder):
    """What the agent does around a hook: a fresh folder, the 0600 context file, the hook
    (`true`: a no-op) with the OWD_* variables, its output captured; the folder removed."""
    work = tempfile.mkdtemp(dir=folder)
    context = os.path.join(work, "context.json")
    fd = os.open(context, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, json.dumps({"Args": command.get("Args", {}), "CustomJson": command.get("CustomJson")}).encode())
    os.close(fd)
    env = {"PATH": "/usr/bin:/bin", "OWD_COMMAND": command["Type"], "OWD_COMMAND_ID": command["CommandId"],
           "OWD_DEPLOYMENT_ID": command["DeploymentId"], "OWD_INSTANCE_ID": instance, "OWD_CONTEXT": context}
    p = subprocess.run(["true"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       cwd=work, env=env)
    shutil.rmtree(work)
    return p.returncode, p.stdout.decode(errors="replace")


def agent(url, instance, done, folder):
    """A simulated agent (one process): reports (DeploymentId, monotonic time) after each
    CompleteCommand on `done`."""
    c = Client(url)
    while True:
        for cmd in c.call("PollCommands", InstanceId=instance, WaitTimeSeconds=20)["Commands"]:
            c.call("AcknowledgeCommand", CommandId=cmd["CommandId"])
            code, log = run_hook(cmd, instance, folder)
            c.call("CompleteCommand", CommandId=cmd["CommandId"], Status="successful" if code == 0 else "failed",
                   ExitCode=code, Log=log)
            done.send((cmd["DeploymentId"], time.monotonic()))


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def start_server(owd, folder):
    creds = os.path.join(folder, "credentials.json")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, json.dumps({"Credentials": [{"AccessKeyId": KEY, "SecretAccessKey": SECRET}]}).encode())
    os.close(fd)
    # OWD_BENCH_SERVER_LOG=FILE: the server's request log there (else --quiet).
    log = os.environ.get("OWD_BENCH_SERVER_LOG")
    p = subprocess.Popen([owd, "serve", "--store", os.path.join(folder, "store.owd"), "--port", "0",
                          "--credentials", creds] + ([] if log else ["--quiet"]),
                         stdout=subprocess.PIPE, stderr=open(log, "a") if log else subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    m = re.search(r"http://[\d.]+:\d+", line)
    if not m:
        p.kill()
        sys.exit("bench-agent: owd serve did not start: %r" % line)
    return p, m.group(0)


def stack(c, agents):
    s = c.call("CreateStack", Name="bench", Region=REGION, ServiceRoleArn="arn:aws:iam::1:role/r",
               DefaultInstanceProfileArn="arn:aws:iam::1:instance-profile/p")["StackId"]
    return s, [c.call("RegisterInstance", StackId=s, Hostname="h%d" % i)["InstanceId"] for i in range(agents)]


class Completions:
    """The agents' reports, by deployment: (count, time of the last)."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.seen = {}

    def last(self, deployment, count, timeout=30):
        """The time of the last of `count` completed commands of `deployment`."""
        deadline = time.monotonic() + timeout
        while self.seen.get(deployment, (0, 0))[0] < count:
            left = deadline - time.monotonic()
            if left <= 0 or not self.pipe.poll(left):
                sys.exit("bench-agent: deployment %s: %d of %d commands complete after %d s"
                         % (deployment, self.seen.get(deployment, (0, 0))[0], count, timeout))
            d, t = self.pipe.recv()
            n, last = self.seen.get(d, (0, 0.0))
            self.seen[d] = (n + 1, max(last, t))
        return self.seen.pop(deployment)[1]


def floor(url, rounds):
    """The four calls of one command, back to back, nothing to wait for (ms each round)."""
    c = Client(url)
    s, (box,) = stack(c, 1)
    times = []
    for _ in range(rounds):
        t0 = time.monotonic()
        c.call("CreateDeployment", StackId=s, InstanceIds=[box], Command={"Name": "configure"})
        (cmd,) = c.call("PollCommands", InstanceId=box)["Commands"]
        c.call("AcknowledgeCommand", CommandId=cmd["CommandId"])
        c.call("CompleteCommand", CommandId=cmd["CommandId"], Status="successful", ExitCode=0, Log="")
        times.append((time.monotonic() - t0) * 1000)
    return times


COMPLETED = re.compile(r"owd agent: \S+ (\S+) \S+: successful, ")


def real_agents(owd, url, stack_id, agents, folder, send):
    """`agents` owd agent processes on the stack; a thread per agent sends (DeploymentId,
    monotonic time) on `send` as each completed command's line comes on its stderr."""
    hooks = os.path.join(folder, "hooks")
    os.mkdir(hooks)
    hook = os.path.join(hooks, "configure")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(hook, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    lock = threading.Lock()
    procs = []

    def read(pr):
        for line in pr.stderr:
            m = COMPLETED.search(line.decode(errors="replace"))
            if m:
                t = time.monotonic()
                with lock:
                    send.send((m.group(1), t))

    for i in range(agents):
        pr = subprocess.Popen([owd, "agent", "--endpoint", url, "--stack-id", stack_id, "--hooks", hooks,
                               "--state-dir", os.path.join(folder, "state-%d" % i), "--hostname", "h%d" % i,
                               "--region", REGION], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        procs.append(pr)
        line = pr.stdout.readline().decode()
        if not line.startswith("owd agent: instance "):
            sys.exit("bench-agent: owd agent did not start: %r" % line)
        threading.Thread(target=read, args=(pr,), daemon=True).start()
    return procs


def polls_waiting(url):
    m = re.match(r"http://([^:/]+):(\d+)", url)
    c = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^owd_polls_waiting (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def run(owd, agents, rounds, burst, real):
    folder = tempfile.mkdtemp(prefix="owd-bench-agent-")
    p, url = start_server(owd, folder)
    procs = []
    try:
        c = Client(url)
        s, ids = stack(c, 0 if real else agents)
        receive, send = multiprocessing.Pipe(duplex=False)
        completions = Completions(receive)
        if real:
            procs = real_agents(owd, url, s, agents, folder, send)
        for i in ids:
            pr = multiprocessing.Process(target=agent, args=(url, i, send, folder), daemon=True)
            pr.start()
            procs.append(pr)
        # Every agent waiting in its poll before the first deployment.
        deadline = time.monotonic() + 10
        while polls_waiting(url) not in (None, agents) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        latencies = []
        for _ in range(rounds):
            t0 = time.monotonic()
            d = c.call("CreateDeployment", StackId=s, Command={"Name": "configure"})["DeploymentId"]
            latencies.append((completions.last(d, agents) - t0) * 1000)
            status = c.call("DescribeDeployments", DeploymentIds=[d])["Deployments"][0]["Status"]
            if status != "successful":
                sys.exit("bench-agent: deployment %s is %s after its last CompleteCommand" % (d, status))
        rate = None
        if burst:
            t0 = time.monotonic()
            made = [c.call("CreateDeployment", StackId=s, Command={"Name": "configure"})["DeploymentId"]
                    for _ in range(burst)]
            last = max(completions.last(d, agents) for d in made)
            rate = burst * agents / (last - t0)
        return latencies, rate
    finally:
        for pr in procs:
            if isinstance(pr, subprocess.Popen):
                pr.terminate()
                pr.wait()
            else:
                pr.kill()
        p.terminate()
        p.wait()
        shutil.rmtree(folder, ignore_errors=True)


def floor_run(owd, rounds):
    folder = tempfile.mkdtemp(prefix="owd-bench-agent-")
    p, url = start_server(owd, folder)
    try:
        return floor(url, rounds)
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(folder, ignore_errors=True)


def commit():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except OSError:
        return "?"


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--owd", required=True)
    a.add_argument("--rounds", type=int, default=200)
    a.add_argument("--burst", type=int, default=50, help="deployments created back to back for commands/s (10 agents)")
    a.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    a.add_argument("--no-write", action="store_true")
    a.add_argument("--real-agents", action="store_true",
                   help="also measure with `owd agent` processes (their own rows)")
    args = a.parse_args()
    load = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    print("bench-agent: load average at start %.2f" % load, file=sys.stderr)
    fl = floor_run(args.owd, args.rounds)
    print("bench-agent: floor (create, poll, ack, complete back to back) p50 %.2f ms p99 %.2f ms"
          % (statistics.median(fl), percentile(fl, 99)), file=sys.stderr)
    rows = []
    for real in ((False, True) if args.real_agents else (False,)):
        for n in (1, 10):
            lat, rate = run(args.owd, n, args.rounds, args.burst if n == 10 else 0, real)
            rows.append((n, lat, rate, real))
            print("bench-agent: %2d %s agent(s): CreateDeployment -> successful p50 %.2f ms, p99 %.2f ms (%d deployments)%s"
                  % (n, "owd" if real else "simulated", statistics.median(lat), percentile(lat, 99), len(lat),
                     "; %.0f commands/s (%d deployments back to back)" % (rate, args.burst) if rate else ""),
                  file=sys.stderr)
    out = [BEGIN, "## Agent protocol through owd serve (`make bench-agent`)", "",
           "`python3 bench/agent_protocol_bench.py --owd .build/release/owd --rounds %d --burst %d%s` (%s UTC, "
           "commit %s, load average %.1f at the start; 2 cores shared with other work). Simulated agents: one "
           "process each, SigV4-signed keep-alive HTTP, long-poll 20 s, a no-op hook run as the agent runs it "
           "(context file, `true` spawned, output captured); the end of a deployment is the return of its last "
           "CompleteCommand (checked `successful` with DescribeDeployments). `owd agent`: the real program with "
           "its defaults (kept connections), hook `#!/bin/sh` `exit 0`; the end is its stderr line for the last "
           "command. Floor: one client making CreateDeployment, PollCommands (no wait), AcknowledgeCommand and "
           "CompleteCommand back to back."
           % (args.rounds, args.burst, " --real-agents" if args.real_agents else "", started, commit(), load), "",
           "| | p50 | p99 | p50 / floor p50 |",
           "| --- | --- | --- | --- |",
           "| floor: the four calls back to back | %.2f ms | %.2f ms | 1 |" % (statistics.median(fl), percentile(fl, 99))]
    for n, lat, _, real in rows:
        out.append("| CreateDeployment -> successful, %d %s%s (target p50 < 50 ms) | %.2f ms | %.2f ms | %.1f |"
                   % (n, "`owd agent` process" if real else "simulated agent", "" if n == 1 else "es" if real else "s",
                      statistics.median(lat),
                      percentile(lat, 99), statistics.median(lat) / statistics.median(fl)))
    missed = ["%d %s" % (n, "`owd agent`" if real else "simulated") for n, lat, _, real in rows
              if statistics.median(lat) >= 50]
    if missed:
        out += ["", "Target p50 < 50 ms missed with: %s. Each command is two write transactions "
                "(AcknowledgeCommand, CompleteCommand), so a deployment to 10 agents is 21 commits, and the "
                "agents' processes share the 2 cores with the server and the load above." % ", ".join(missed)]
    out.append("")
    for n, _, rate, real in rows:
        if rate:
            out.append("Commands/s through one server with 10 %s (%d deployments created back to back, until "
                       "the last command is complete): **%.0f**." % ("`owd agent` processes" if real else "simulated agents",
                                                                       args.burst, rate))
    out += ["", END]
    text = "\n".join(out)
    print(text)
    if args.no_write:
        return
    md = open(args.results).read() if os.path.exists(args.results) else "# owd benchmark results\n"
    if BEGIN in md and END in md:
        md = md[:md.index(BEGIN)] + text + md[md.index(END) + len(END):]
    else:
        md = md.rstrip("\n") + "\n\n" + text + "\n"
    with open(args.results, "w") as f:
        f.write(md)


if __name__ == "__main__":
    main()
