#!/usr/bin/env python3
"""`make bench-serve`: owd serve's DescribeDeployments by StackId over HTTP (SigV4-signed,
keep-alive, wrk with a Lua script for the POST), at 1 and 32 connections, against
(a) the same HTTP library's stub answering the same bytes without owd (the floor) and
(b) moto_server's CodeDeploy GetDeployment; and a 10,000-result answer in MB/s against
the in-process owd_call_json. Writes its section of bench/RESULTS.md and bench/serve.png.

Each owd/stub pair is measured alternately RUNS times; medians are reported, with min-max."""
import argparse
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY = {"AccessKeyId": "AKIAOWDBENCH0000001", "SecretAccessKey": "bench-secret/" + "b" * 27}


def log(*a):
    print("bench-serve:", *a, file=sys.stderr, flush=True)


def first_line(p, timeout=60):
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        if not sel.select(max(0, deadline - time.monotonic())):
            raise SystemExit("no listening line")
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            raise SystemExit("server exited: %s" % p.wait())
        data += chunk
    return data.split(b"\n")[0].decode()


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    m = re.search(r"http://([\d.]+):(\d+)$", first_line(p))
    return p, m.group(1), int(m.group(2))


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(30)


def sign(host, port, target, body, service="opsworks"):
    r = AWSRequest(method="POST", url="http://%s:%d/" % (host, port), data=body.encode(),
                   headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(Credentials(KEY["AccessKeyId"], KEY["SecretAccessKey"]), service, "us-east-1").add_auth(r)
    h = dict(r.headers.items())
    h["Host"] = "%s:%d" % (host, port)
    return h


def lua(path, headers, body):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write("wrk.body = [==[%s]==]\n" % body)
        for k, v in headers.items():
            f.write('wrk.headers["%s"] = [==[%s]==]\n' % (k, v))
    return path


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(host, port, script, connections, seconds, scheme="http"):
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency",
                          "-s", script, "%s://%s:%d/" % (scheme, host, port)], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)\b" % pct, out)
        lat[pct] = float(m.group(1)) * UNITS[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise SystemExit("wrk saw errors: %s" % out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"]}


def cpu_seconds(pid):
    f = open("/proc/%d/stat" % pid).read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def med(runs, key):
    v = [r[key] for r in runs]
    return statistics.median(v), min(v), max(v)


def fmt_t(s):
    return "%.0f µs" % (s * 1e6) if s < 1e-3 else "%.2f ms" % (s * 1e3)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def moto_target(venv_bin, seconds):
    port = free_port()
    p = subprocess.Popen([os.path.join(venv_bin, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("moto_server did not start")
            time.sleep(0.1)
    import boto3
    cd = boto3.client("codedeploy", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % port,
                      aws_access_key_id=KEY["AccessKeyId"], aws_secret_access_key=KEY["SecretAccessKey"])
    cd.create_application(applicationName="shop", computePlatform="Server")
    cd.create_deployment_group(applicationName="shop", deploymentGroupName="web",
                               serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")
    d = cd.create_deployment(applicationName="shop", deploymentGroupName="web",
                             revision={"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"}})
    return p, port, json.dumps({"deploymentId": d["deploymentId"]})


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels = ["1 connection", "32 connections"]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.27
    for i, (name, key) in enumerate((("libmicrohttpd stub (floor)", "stub"), ("owd serve", "owd"), ("moto_server", "moto"))):
        values = [results[key][c][0] for c in (1, 32)]
        bars = ax.bar([x + (i - 1) * width for x in range(2)], values, width, label=name)
        for b, v in zip(bars, values):
            ax.text(b.get_x() + b.get_width() / 2, v, "%.0f" % v, ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(2))
    ax.set_xticklabels(labels)
    ax.set_ylabel("requests/s (log scale)")
    ax.set_title("DescribeDeployments by StackId, 10 results, SigV4, keep-alive (wrk)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_credentials(folder):
    """The server's credentials file (0600, as owd serve requires), holding KEY."""
    creds = os.path.join(folder, "credentials.json")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"Credentials": [KEY]}, f)
    return creds


def store_with(tool, folder, n):
    """(path, stack ID) of a store in `folder` with one stack of `n` deployments, built
    by bench/owd_bench once and reused by later runs."""
    path = os.path.join(folder, "serve-%d.owd" % n)
    if not os.path.exists(path) or not os.path.exists(path + ".stacks"):
        log("building a store with one stack of %d deployments" % n)
        subprocess.run([tool, "build", path, "1", str(n)], check=True, stdout=subprocess.DEVNULL)
    with open(path + ".stacks") as f:
        return path, f.read().split()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--owd", required=True)
    ap.add_argument("--stub", required=True)
    ap.add_argument("--inproc", required=True)
    ap.add_argument("--tool", required=True, help="bench/owd_bench (builds the stores)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    a = ap.parse_args()
    began = time.time()
    os.makedirs(a.dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bench-serve-", dir=a.dir)
    creds = write_credentials(tmp)

    stores = {}
    for n in (10, 10000):
        stores[n] = store_with(a.tool, a.dir, n)

    results = {"owd": {}, "stub": {}, "moto": {}, "load": "%.2f" % os.getloadavg()[0]}
    path, stack = stores[10]
    owd, host, port = start([a.owd, "serve", "--store", path, "--port", "0", "--credentials", creds, "--quiet"])
    body = json.dumps({"StackId": stack})
    headers = sign(host, port, "OpsWorks_20130218.DescribeDeployments", body)
    import http.client
    c = http.client.HTTPConnection(host, port)
    c.request("POST", "/", body=body, headers=headers)
    answer = c.getresponse().read()
    c.close()
    assert len(json.loads(answer)["Deployments"]) == 10
    answer_file = os.path.join(tmp, "answer.json")
    with open(answer_file, "wb") as f:
        f.write(answer)
    stub, shost, sport = start([a.stub, answer_file])
    script_owd = lua(os.path.join(tmp, "owd.lua"), headers, body)
    shead = dict(headers, Host="%s:%d" % (shost, sport))
    script_stub = lua(os.path.join(tmp, "stub.lua"), shead, body)
    for conns in (1, 32):
        runs = {"owd": [], "stub": []}
        for i in range(a.runs):
            for name, h, p_, s, pid in (("owd", host, port, script_owd, owd.pid), ("stub", shost, sport, script_stub, stub.pid)):
                c0 = cpu_seconds(pid)
                r = wrk(h, p_, s, conns, a.seconds)
                r["cpu_us"] = (cpu_seconds(pid) - c0) / (r["rps"] * a.seconds) * 1e6
                runs[name].append(r)
                log("%s %d connection(s) run %d: %.0f req/s p50 %s p99 %s" % (name, conns, i + 1, r["rps"], fmt_t(r["p50"]), fmt_t(r["p99"])))
        for name in runs:
            results[name][conns] = med(runs[name], "rps") + (med(runs[name], "p50"), med(runs[name], "p99"), med(runs[name], "cpu_us"))
    # The same at 32 connections with the per-request log on (to a file).
    stop(owd)
    logfile = os.path.join(tmp, "serve.log")
    with open(logfile, "wb") as lf:
        p = subprocess.Popen([a.owd, "serve", "--store", path, "--port", "0", "--credentials", creds],
                             stdout=subprocess.PIPE, stderr=lf)
        m = re.search(r":(\d+)$", first_line(p))
        lport = int(m.group(1))
        lscript = lua(os.path.join(tmp, "logged.lua"), sign(host, lport, "OpsWorks_20130218.DescribeDeployments", body), body)
        logged = [wrk(host, lport, lscript, 32, a.seconds) for _ in range(a.runs)]
        stop(p)
    results["logged"] = med(logged, "rps")
    log("owd with the log, 32 connections: %.0f req/s" % results["logged"][0])
    stop(stub)

    moto, mport, mbody = moto_target(os.path.dirname(sys.executable), a.seconds)
    mscript = lua(os.path.join(tmp, "moto.lua"), sign("127.0.0.1", mport, "CodeDeploy_20141006.GetDeployment", mbody, "codedeploy"), mbody)
    for conns in (1, 32):
        r = [wrk("127.0.0.1", mport, mscript, conns, a.seconds)]
        results["moto"][conns] = med(r, "rps") + (med(r, "p50"), med(r, "p99"))
        log("moto %d connection(s): %.0f req/s" % (conns, r[0]["rps"]))
    moto.send_signal(signal.SIGTERM)
    moto.wait(30)

    # 10,000 results per answer.
    path, stack = stores[10000]
    owd, host, port = start([a.owd, "serve", "--store", path, "--port", "0", "--credentials", creds, "--quiet"])
    body = json.dumps({"StackId": stack})
    headers = sign(host, port, "OpsWorks_20130218.DescribeDeployments", body)
    c = http.client.HTTPConnection(host, port)
    c.request("POST", "/", body=body, headers=headers)
    big = c.getresponse().read()
    c.close()
    assert len(json.loads(big)["Deployments"]) == 10000
    script = lua(os.path.join(tmp, "big.lua"), headers, body)
    over_http, in_process = [], []
    for i in range(a.runs):
        r = wrk(host, port, script, 1, a.seconds)
        over_http.append(r["rps"] * len(big) / 1e6)
        out = subprocess.run([a.inproc, path, stack, str(a.seconds)], capture_output=True, text=True, check=True).stdout
        m = re.search(r"bytes (\d+) calls (\d+) seconds ([\d.]+)", out)
        in_process.append(int(m.group(1)) * int(m.group(2)) / float(m.group(3)) / 1e6)
        log("10,000 results run %d: %.0f MB/s over HTTP, %.0f MB/s in process" % (i + 1, over_http[-1], in_process[-1]))
    stop(owd)
    results["big"] = {"bytes": len(big), "http": (statistics.median(over_http), min(over_http), max(over_http)),
                      "inproc": (statistics.median(in_process), min(in_process), max(in_process))}

    png = os.path.join(os.path.dirname(a.results), "serve.png")
    plot(results, png)
    write(a, results, len(answer), time.time() - began)


def write(a, r, answer_bytes, took):
    def rps(t):
        return "%.0f (%.0f – %.0f)" % t[:3]

    def lat(t):
        return "%s / %s" % (fmt_t(t[3][0]), fmt_t(t[4][0]))

    rows = []
    for conns in (1, 32):
        o, s, m = r["owd"][conns], r["stub"][conns], r["moto"][conns]
        rows.append("| %d | %s | %s | %.1f µs | %s | %s | %.1f µs | %s | %s | **%.2fx** (≥ 0.6x: %s) | **%.0fx** (≥ 100x: %s) |" % (
            conns, rps(o), lat(o), o[5][0], rps(s), lat(s), s[5][0], "%.0f" % m[0], lat(m), o[0] / s[0],
            "met" if o[0] / s[0] >= 0.6 else "missed", o[0] / m[0], "met" if o[0] / m[0] >= 100 else "missed"))
    big = r["big"]
    text = """<!-- bench-serve -->
## owd serve over HTTP (`make bench-serve`)

Generated by `make bench-serve` (bench/serve_bench.py) on %s UTC in %.0f s; part of `make bench`.
DescribeDeployments by StackId (10 results, %d bytes) over loopback, SigV4-signed by botocore
(one signed request replayed by wrk's Lua script: replay within the 5 minutes is what AWS allows
too), keep-alive, wrk 4.1 (`-t1 -c1`, `-t2 -c32`), %d s per run; owd and the floor alternate, %d
runs each, medians (min – max). Both servers are libmicrohttpd 0.9.75 with an internal pool of
epoll threads, one per core, and the same memory limit; wrk shares the 2 cores (load average %s
when the run began: other work was on the machine). CPU per request is the server process's
user+system time over the requests it answered. owd runs with `--quiet` (the per-request log on,
to a file, at 32 connections: %.0f req/s). moto_server (CodeDeploy GetDeployment, 1 run) is the
nearest AWS-shaped peer.

| connections | owd req/s | owd p50 / p99 | owd CPU per request | stub (floor) req/s | stub p50 / p99 | stub CPU per request | moto req/s | moto p50 / p99 | owd / floor | owd / moto |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
%s

10,000 results per answer (%d bytes), 1 connection: **%.0f MB/s** over HTTP (%.0f – %.0f) against
**%.0f MB/s** (%.0f – %.0f) for the same answer from `owd_call_json` in process: %.2fx.

![owd serve against the floor and moto](serve.png)
<!-- /bench-serve -->
""" % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), took, answer_bytes, a.seconds, a.runs,
       r["load"], r["logged"][0], "\n".join(rows), big["bytes"], big["http"][0], big["http"][1], big["http"][2],
       big["inproc"][0], big["inproc"][1], big["inproc"][2], big["http"][0] / big["inproc"][0])
    old = open(a.results).read() if os.path.exists(a.results) else ""
    if "<!-- bench-serve -->" in old:
        old = old[:old.index("<!-- bench-serve -->")] + old[old.index("<!-- /bench-serve -->") + len("<!-- /bench-serve -->\n"):]
    with open(a.results, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
