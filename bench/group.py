#!/usr/bin/env python3
"""Group commit benchmark (issue 19): `make bench-group`, and part of `make bench`.

Durable CreateDeployment (the defaults: WAL, synchronous=FULL) from 1, 8 and 32 threads on
one handle, each call timed, against the floor measured in the same run: plain C through
SQLite, WAL, synchronous=FULL, one transaction per row, one writer (`owd_bench group`).
Everything twice: on this machine's disk as it is, and with every fsync/fdatasync made
2 ms slower by bench/slow_sync.c (LD_PRELOAD), as on cloud block storage or a busy host.
Each configuration runs in a fresh process for --seconds, --rounds times, interleaved.
With --baseline-lib (a libowd.so of an earlier revision) the same runs are made with it,
for "1 writer: no slower than before". Writes its section of bench/RESULTS.md.
"""
import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- bench-group: begin (bench/group.py writes this section) -->"
END = "<!-- bench-group: end -->"
WRITERS = (1, 8, 32)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(tool, path, threads, seconds, shim, lib=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    count = path + ".syncs"
    if shim:
        env["LD_PRELOAD"] = shim
        env["OWD_SYNC_COUNT"] = count
    if lib:
        env["LD_LIBRARY_PATH"] = os.path.dirname(lib)
    p = subprocess.run([tool, "group", path, str(threads), str(seconds)], env=env,
                       capture_output=True, text=True, timeout=seconds * 10 + 60)
    if p.returncode != 0:
        raise SystemExit(f"owd_bench group {threads}: {p.stderr.strip()}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["rate"] = r["creates"] / r["seconds"]
    if shim and os.path.exists(count):
        r["syncs"] = int(open(count).read())
        os.unlink(count)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    return r


def serve_runs(owd, shim, sync, tmp, seconds, threads):
    """`owd serve` on a new store: N keep-alive connections (wrk) sending one SigV4-signed
    CreateDeployment each, replayed (bench/serve_bench.py's signing and wrk helpers).
    Returns {connections: run}."""
    import serve_bench as sb
    creds = os.path.join(tmp, "credentials.json")
    if not os.path.exists(creds):
        fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"Credentials": [sb.KEY]}, f)
    path = os.path.join(tmp, "serve.owd")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    count = path + ".syncs"
    if sync == "2ms":
        env["LD_PRELOAD"] = shim
        env["OWD_SYNC_COUNT"] = count
    # One HTTP thread per connection (libmicrohttpd's pool): a request that waits for its
    # group's sync holds its thread.
    p = subprocess.Popen([owd, "serve", "--store", path, "--port", "0", "--credentials", creds, "--quiet",
                          "--threads", str(threads)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        import re
        m = re.search(r"http://([\d.]+):(\d+)$", sb.first_line(p))
        host, port = m.group(1), int(m.group(2))

        def call(op, request):
            body = json.dumps(request)
            c = http.client.HTTPConnection(host, port, timeout=30)
            c.request("POST", "/", body=body, headers=sb.sign(host, port, "OpsWorks_20130218." + op, body))
            r = c.getresponse()
            answer = json.loads(r.read() or b"{}")
            c.close()
            if r.status != 200:
                raise SystemExit(f"owd serve {op}: {r.status} {answer}")
            return answer

        stack = call("CreateStack", {"Name": "group", "Region": "us-east-1",
                                     "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
                                     "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"})["StackId"]
        layer = call("CreateLayer", {"StackId": stack, "Type": "custom", "Name": "web", "Shortname": "web"})["LayerId"]
        app = call("CreateApp", {"StackId": stack, "Name": "group", "Type": "other"})["AppId"]
        instances = []
        for _ in range(2):
            i = call("CreateInstance", {"StackId": stack, "LayerIds": [layer], "InstanceType": "t3.small"})["InstanceId"]
            call("StartInstance", {"InstanceId": i})
            instances.append(i)
        # The same request as the in-process runs' (owd_bench's create_deployment).
        body = json.dumps({"StackId": stack, "AppId": app, "Command": {"Name": "deploy", "Args": {"migrate": ["true"]}},
                           "Comment": "release", "InstanceIds": instances})
        script = sb.lua(os.path.join(tmp, "create.lua"), sb.sign(host, port, "OpsWorks_20130218.CreateDeployment", body), body)
        out = {}
        for conns in WRITERS:
            r = sb.wrk(host, port, script, conns, int(seconds))
            out[conns] = {"rate": r["rps"], "p50": r["p50"], "p99": r["p99"], "seconds": int(seconds)}
        made = len(call("DescribeDeployments", {"StackId": stack})["Deployments"])
        expected = sum(r["rate"] * r["seconds"] for r in out.values())
        if abs(made - expected) > 0.05 * expected + 64:
            raise SystemExit(f"owd serve: {made} deployments for about {expected:.0f} answered creates")
    finally:
        sb.stop(p)
    if os.path.exists(count):
        syncs = int(open(count).read())
        total = sum(r["rate"] * r["seconds"] for r in out.values())
        for r in out.values():
            r["syncs_all"] = syncs / total   # the three runs share one server: one figure
        os.unlink(count)
    return out


def fmt_rate(v):
    return f"{v:,.0f}/s"


def fmt_ms(v):
    return f"{v * 1000:.2f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline-lib")
    ap.add_argument("--baseline-rev", default="")
    ap.add_argument("--owd", help="the owd program: also measure through owd serve connections")
    ap.add_argument("--pairs", type=int, default=8, help="1-writer runs of owd and the baseline, back to back")
    args = ap.parse_args()
    tool, shim = os.path.abspath(args.tool), os.path.abspath(args.shim)
    base = os.path.abspath(args.baseline_lib) if args.baseline_lib else None
    os.makedirs(args.dir, exist_ok=True)
    started = time.time()
    load = open("/proc/loadavg").read().split()[:3]
    configs = [("floor", "floor", None)] + [(f"owd {n}", n, None) for n in WRITERS]
    if base:
        configs += [(f"before {n}", n, base) for n in WRITERS]
    shown = list(configs)
    if args.owd:
        shown += [(f"serve {n}", n, None) for n in WRITERS]
    results = {}   # (sync, label) -> [runs]
    with tempfile.TemporaryDirectory(prefix="group-", dir=args.dir) as tmp:
        path = os.path.join(tmp, "g.db")
        for rnd in range(args.rounds):
            for sync in ("disk", "2ms"):
                for label, threads, lib in configs:
                    r = run(tool, path, threads, args.seconds, shim if sync == "2ms" else None, lib)
                    results.setdefault((sync, label), []).append(r)
                    log(f"bench-group: round {rnd + 1}/{args.rounds} {sync:4} {label:9} "
                        f"{fmt_rate(r['rate']):>9} p50 {fmt_ms(r['p50'])} p99 {fmt_ms(r['p99'])}"
                        + (f" {r['syncs'] / r['creates']:.3f} syncs/create" if "syncs" in r else ""))
            if args.owd:
                for sync in ("disk", "2ms"):
                    got = serve_runs(os.path.abspath(args.owd), shim, sync, tmp, args.seconds, 64)
                    for conns, r in got.items():
                        r.update(creates=round(r["rate"] * r["seconds"]))
                        if "syncs_all" in r:
                            r["syncs"] = r["syncs_all"] * r["creates"]
                        results.setdefault((sync, f"serve {conns}"), []).append(r)
                        log(f"bench-group: round {rnd + 1}/{args.rounds} {sync:4} serve {conns:<3} "
                            f"{fmt_rate(r['rate']):>9} p50 {fmt_ms(r['p50'])} p99 {fmt_ms(r['p99'])}")
        # 1 writer against the baseline: the disk's sync time drifts by several times
        # within minutes on a shared machine, so each owd run is paired with a baseline
        # run right beside it (order alternating), and the ratios of the pairs compared.
        pairs = {}
        if base:
            for i in range(args.pairs):
                for sync in ("disk", "2ms"):
                    order = [(None, "owd"), (base, "before")]
                    got = {}
                    for lib, who in (order if i % 2 == 0 else order[::-1]):
                        got[who] = run(tool, path, 1, args.seconds / 2, shim if sync == "2ms" else None, lib)
                    pairs.setdefault(sync, []).append(got["owd"]["rate"] / got["before"]["rate"])
                    log(f"bench-group: pair {i + 1}/{args.pairs} {sync:4} 1 writer: owd {fmt_rate(got['owd']['rate'])}, "
                        f"before {fmt_rate(got['before']['rate'])}")

    def med(sync, label, key):
        return statistics.median(r[key] for r in results[(sync, label)])

    def span(sync, label):
        rates = [r["rate"] for r in results[(sync, label)]]
        return f"{fmt_rate(statistics.median(rates))} ({min(rates):,.0f} – {max(rates):,.0f})"

    out = [BEGIN, "", "## Group commit: concurrent durable writers (10)", ""]
    out.append(f"Generated by `make bench-group` (bench/group.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
               f"in {time.time() - started:.0f} s; load average at start {load}, on the machine above "
               f"({os.cpu_count()} cores, {platform.machine()}). Durable `CreateDeployment` (the defaults: WAL, "
               f"`synchronous=FULL`; a stack with two online instances, as in (6)) from 1, 8 and 32 threads "
               f"sharing one handle, in one process, each call timed; {args.rounds} rounds of {args.seconds:g} s, "
               f"every configuration a fresh process on a new file, interleaved. Medians over the rounds "
               f"(creates/s: min – max in brackets; p50 and p99: each round's latency percentiles over every call, "
               f"median of the rounds). The floor, measured in the same run: plain C through SQLite, WAL, "
               f"`synchronous=FULL`, one transaction per row (the same deployment and command rows as owd's), "
               f"one writer.")
    out.append("")
    out.append("**2 ms sync** runs preload `bench/slow_sync.c` (`LD_PRELOAD`), built by the benchmark: every "
               "`fsync` and `fdatasync` sleeps 2 ms, then syncs for real, as cloud block storage, spinning disks "
               "or a busy host do (1–10 ms a sync). It also counts the syncs (syncs/create below: 1.0 is one "
               "sync per call; checkpoints add a few). **disk** runs use this machine's disk as it is.")
    if base:
        out.append("")
        out.append(f"**before**: the same runs with the library of {args.baseline_rev or base} (before group "
                   f"commit: one commit and one sync per call, every writer waiting for the one before).")
    out.append("")
    out.append("| sync | writers | creates/s | × floor | p50 | p99 | syncs/create |")
    out.append("|---|---|---|---|---|---|---|")
    for sync in ("disk", "2ms"):
        floor = med(sync, "floor", "rate")
        for label, threads, lib in shown:
            name = {"floor": "floor (plain SQLite)"}.get(label, label)
            if label.startswith("serve"):
                name = f"owd serve, {threads} connections"
            syncs = ""
            if sync == "2ms" and all("syncs" in r for r in results[(sync, label)]):
                syncs = "%.3f" % statistics.median(r["syncs"] / r["creates"] for r in results[(sync, label)])
            out.append(f"| {'2 ms' if sync == '2ms' else 'disk'} | {name} | {span(sync, label)} | "
                       f"{med(sync, label, 'rate') / floor:.2f}x | {fmt_ms(med(sync, label, 'p50'))} | "
                       f"{fmt_ms(med(sync, label, 'p99'))} | {syncs} |")
    out.append("")
    floor2 = med("2ms", "floor", "rate")
    r32 = med("2ms", "owd 32", "rate")
    p99 = med("2ms", "owd 32", "p99")
    targets = [("2 ms sync, 32 writers: creates/s ≥ 10x the floor", f"{r32 / floor2:.1f}x", r32 >= 10 * floor2),
               ("2 ms sync, 32 writers: p99 < 50 ms", fmt_ms(p99), p99 < 0.050)]
    if args.owd:
        s32, sp99 = med("2ms", "serve 32", "rate"), med("2ms", "serve 32", "p99")
        targets += [("2 ms sync, 32 owd serve connections: creates/s ≥ 10x the floor", f"{s32 / floor2:.1f}x",
                     s32 >= 10 * floor2),
                    ("2 ms sync, 32 owd serve connections: p99 < 50 ms", fmt_ms(sp99), sp99 < 0.050)]
    if base:
        for sync in ("disk", "2ms"):
            ratios = pairs[sync]
            ratio = statistics.median(ratios)
            # Within noise: the median of the paired ratios at least 0.95.
            targets.append((f"{'2 ms sync' if sync == '2ms' else 'disk'}, 1 writer: no slower than before",
                            f"{ratio:.2f}x before (median of {len(ratios)} back-to-back pairs; "
                            f"{min(ratios):.2f} – {max(ratios):.2f})", ratio >= 0.95))
    out.append("| target | measured | |")
    out.append("|---|---|---|")
    for name, value, met in targets:
        out.append(f"| {name} | {value} | {'met' if met else '**missed**'} |")
    out.append("")
    out.append("What bounds it (profile of the 2 ms, 32-writer case, measured by hand on 2026-12-01 with timers "
               "around each phase of a group and `perf record`; the CPU is 85% idle, so the bound is the "
               "commit's structure, not the cores):")
    out.append("")
    out.append("- Groups alternate: a group starts the moment the last commit's sync returns, so the writers "
               "that commit returned by it queue for the group after next. With N writers a group carries "
               "about N/2 (syncs/create 0.074 at 32 writers: 13.5 calls a sync), and a call waits about two "
               "commit periods (p50).")
    out.append("- A commit period is the sync (the 2 ms sleep plus the disk's real sync of the group's WAL "
               "frames: 4.1 ms in all, as measured inside COMMIT) plus the group's bodies, run one after "
               "another under the write lock (1.1–1.4 ms a group, about 75 µs a call with the other writers' "
               "request building competing for the 2 cores). The cache load (0.2–0.4 ms a group) and the "
               "wake-ups run beside the next group, outside the write lock.")
    out.append("- The p99 tail is SQLite's WAL auto-checkpoint (every 1,000 pages), which runs inside a "
               "commit: two more syncs and the copy, while the next group waits. An experiment (not shipped: "
               "`wal_autocheckpoint=100000`) cut p99 from 27.8 and 18.5 ms to 16.6 and 10.9 ms and added "
               "12% creates/s; moving checkpoints off the commit path (a checkpointing connection) would need "
               "a bound on the WAL's growth under constant writing.")
    out.append("- Through `owd serve` the sync no longer bounds alone: HTTP, SigV4 and JSON on the server's "
               "threads and wrk's own load share the 2 cores with the leader, and libmicrohttpd hands "
               "connections to its pool's threads unevenly (with `--threads 32` for 32 connections groups "
               "averaged 6 calls and 1,899 creates/s; with `--threads 64`, 11 calls and 2,956/s). The serve "
               "figures are also the most sensitive to other load: during one 32-connection run `perf record "
               "-a` showed another session's fuzzer taking 55% of the machine, owd serve's threads 22% and "
               "wrk 2%.")
    out.append("")
    if args.owd:
        out.append("**owd serve, N connections**: `owd serve --threads 64` (one libmicrohttpd thread per "
                   "connection: a request waiting for its group's sync holds its thread) on a new store, and wrk "
                   "with N keep-alive connections replaying one SigV4-signed `CreateDeployment` (the same request "
                   "as the in-process runs'; bench/serve_bench.py's signing and wrk helpers); the 1, 8 and 32 "
                   "connection runs share one server per round, so their syncs/create is one figure for the three "
                   "(setup calls included); p50 and p99 are wrk's. The number of deployments in the store is "
                   "checked against the answered creates.")
        out.append("")
    else:
        out.append("Through `owd serve` connections: not measured (no --owd: make bench-group passes the program).")
        out.append("")
    out.append("Raw (one JSON line per run):")
    out.append("")
    out.append("```")
    for (sync, label), runs in results.items():
        for r in runs:
            out.append(json.dumps(dict(r, sync=sync, label=label)))
    for sync, ratios in pairs.items():
        out.append(json.dumps({"name": "pairs", "sync": sync, "owd_over_before": ratios}))
    out.append("```")
    out.append("")
    out.append(END)
    section = "\n".join(out)
    results_md = os.path.join(HERE, "RESULTS.md")
    text = open(results_md).read() if os.path.exists(results_md) else "# owd benchmark results\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(results_md, "w") as f:
        f.write(text)
    for name, value, met in targets:
        log(f"bench-group: {name}: {value} ({'met' if met else 'MISSED'})")
    log(f"bench-group: wrote its section of bench/RESULTS.md in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
