#!/usr/bin/env python3
"""`make bench-tls` (part of `make bench`): owd serve over HTTPS (libmicrohttpd's GnuTLS,
an ECDSA P-256 certificate made here with openssl) against the same program over plain
HTTP, in the same run, on the same store: DescribeDeployments by StackId (10 results),
SigV4-signed, keep-alive, wrk at 1 and 32 connections (a TLS handshake per connection,
then the session's records). A third server, plain HTTP with --no-metrics, measures what
the /metrics counters cost on the request path. The servers alternate, RUNS runs each;
medians (min - max). Writes its section of bench/RESULTS.md."""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_bench import KEY, cpu_seconds, first_line, fmt_t, lua, med, sign, stop, wrk  # noqa: E402
import re  # noqa: E402


def log(*a):
    print("bench-tls:", *a, file=sys.stderr, flush=True)


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    m = re.search(r"(https?)://([\d.]+):(\d+)$", first_line(p))
    return p, m.group(1), m.group(2), int(m.group(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--owd", required=True)
    ap.add_argument("--tool", required=True, help="bench/owd_bench (builds the store)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    a = ap.parse_args()
    began = time.time()
    os.makedirs(a.dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="bench-tls-", dir=a.dir)
    creds = os.path.join(tmp, "credentials.json")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"Credentials": [KEY]}, f)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], cwd=tmp, check=True, capture_output=True)
    os.chmod(os.path.join(tmp, "key.pem"), 0o600)

    path = os.path.join(a.dir, "serve-10.owd")
    if not os.path.exists(path) or not os.path.exists(path + ".stacks"):
        log("building a store with one stack of 10 deployments")
        subprocess.run([a.tool, "build", path, "1", "10"], check=True, stdout=subprocess.DEVNULL)
    with open(path + ".stacks") as f:
        stack = f.read().split()[0]
    body = json.dumps({"StackId": stack})

    base = [a.owd, "serve", "--store", path, "--port", "0", "--credentials", creds, "--quiet"]
    servers = {
        "https": start(base + ["--tls-cert", os.path.join(tmp, "cert.pem"), "--tls-key", os.path.join(tmp, "key.pem")]),
        "http": start(base),
        "http, --no-metrics": start(base + ["--no-metrics"]),
    }
    scripts = {}
    for name, (p, scheme, host, port) in servers.items():
        scripts[name] = lua(os.path.join(tmp, "%s.lua" % name.split(",")[0] + ("-nm" if "no-metrics" in name else "")),
                            sign(host, port, "OpsWorks_20130218.DescribeDeployments", body), body)
    load = "%.2f" % os.getloadavg()[0]
    results = {}
    try:
        for conns in (1, 32):
            runs = {name: [] for name in servers}
            for i in range(a.runs):
                for name, (p, scheme, host, port) in servers.items():
                    c0 = cpu_seconds(p.pid)
                    r = wrk(host, port, scripts[name], conns, a.seconds, scheme=scheme)
                    r["cpu_us"] = (cpu_seconds(p.pid) - c0) / (r["rps"] * a.seconds) * 1e6
                    runs[name].append(r)
                    log("%s %d connection(s) run %d: %.0f req/s p50 %s p99 %s, %.1f µs CPU/request" % (
                        name, conns, i + 1, r["rps"], fmt_t(r["p50"]), fmt_t(r["p99"]), r["cpu_us"]))
            results[conns] = {name: {k: med(v, k) for k in ("rps", "p50", "p99", "cpu_us")} for name, v in runs.items()}
    finally:
        for p, *_ in servers.values():
            stop(p)
    write(a, results, load, time.time() - began)


def write(a, results, load, took):
    rows = []
    for conns in (1, 32):
        r = results[conns]
        for name in ("https", "http", "http, --no-metrics"):
            m = r[name]
            ratio = ""
            if name == "https":
                ratio = "**%.2fx** of http" % (m["rps"][0] / r["http"]["rps"][0])
            elif name == "http, --no-metrics":
                ratio = "http with metrics: **%.2fx** of this" % (r["http"]["rps"][0] / m["rps"][0])
            rows.append("| %d | %s | %.0f (%.0f – %.0f) | %s / %s | %.1f µs | %s |" % (
                conns, name, m["rps"][0], m["rps"][1], m["rps"][2], fmt_t(m["p50"][0]), fmt_t(m["p99"][0]),
                m["cpu_us"][0], ratio))
    text = """<!-- bench-tls -->
## owd serve over HTTPS against plain HTTP (`make bench-tls`)

Generated by `make bench-tls` (bench/tls_bench.py) on %s UTC in %.0f s; part of `make bench`.
DescribeDeployments by StackId (10 results), SigV4-signed, keep-alive, wrk 4.1 (`-t1 -c1`,
`-t2 -c32`; TLS: one handshake per connection, TLS 1.3 with an ECDSA P-256 certificate,
GnuTLS through libmicrohttpd), %d s per run, the three servers alternating on the same store,
%d runs each, medians (min – max); load average %s when the run began (wrk and the servers share 2
cores with other work). CPU per request: the server's user+system time over the requests it answered.

| connections | server | req/s | p50 / p99 | CPU per request | ratio |
| --- | --- | --- | --- | --- | --- |
%s
<!-- /bench-tls -->
""" % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), took, a.seconds,
       a.runs, load, "\n".join(rows))
    old = open(a.results).read() if os.path.exists(a.results) else ""
    if "<!-- bench-tls -->" in old:
        old = old[:old.index("<!-- bench-tls -->")] + old[old.index("<!-- /bench-tls -->") + len("<!-- /bench-tls -->\n"):]
    with open(a.results, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
