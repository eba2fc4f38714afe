"""`make bench` (issue 7): builds (or reuses) the stores, runs bench/owd_bench and
bench/python_bench.py, and writes bench/RESULTS.md and bench/query-time.png.

Stores are built through the real API (owd_call CreateDeployment / CompleteCommand, durability
OFF) and kept in .build/bench/ with a stamp; OWD_BENCH_REBUILD=1 builds them anew.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Stores of (5): the same 10,000 deployments per stack, 1, 10 and 100 stacks.
STORES = [("10k", 1), ("100k", 10), ("1m", 100)]
# OWD_BENCH_PER_STACK: fewer deployments per stack, to try the bench quickly (figures then
# do not answer issue 7).
PER_STACK = int(os.environ.get("OWD_BENCH_PER_STACK", "10000"))
STAMP = "owd-bench-store v1: %d stacks x %d deployments, 2 instances, 1 arg, comment, half finished"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_lines(cmd, env=None, timeout=1800):
    """Runs cmd; returns its stdout's JSON lines (stderr passes through)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, timeout=timeout, text=True)
    if p.returncode != 0:
        raise SystemExit("bench: %s failed (exit %d)" % (" ".join(cmd), p.returncode))
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def build_stores(tool, d):
    """Builds the missing stores: the large one in one process, the two small ones in another."""
    built = {}
    todo = []
    for name, stacks in STORES:
        path = os.path.join(d, "store-%s.db" % name)
        stamp = STAMP % (stacks, PER_STACK)
        ok = (os.environ.get("OWD_BENCH_REBUILD") != "1" and os.path.exists(path)
              and os.path.exists(path + ".stamp") and open(path + ".stamp").read() == stamp)
        if not ok:
            todo.append((name, stacks, path, stamp))
    groups = [[t for t in todo if t[0] == "1m"], [t for t in todo if t[0] != "1m"]]
    procs = []
    for g in groups:
        if not g:
            continue
        script = " && ".join("%s build %s %d %d" % (tool, path, stacks, PER_STACK) for _, stacks, path, _ in g)
        log("bench: building %s" % ", ".join(t[2] for t in g))
        procs.append((g, subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True)))
    for g, p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit("bench: building the stores failed")
        for line in out.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                built[r["path"]] = r
        for _, _, path, stamp in g:
            with open(path + ".stamp", "w") as f:
                f.write(stamp)
    return built


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=60).stdout.strip()
    except Exception as e:
        return "? (%s)" % e


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    try:
        import moto
        moto_v = moto.__version__
    except Exception:
        moto_v = "not installed"
    try:
        import boto3
        boto_v = boto3.__version__
    except Exception:
        boto_v = "not installed"
    return [
        ("nproc", sh("nproc")),
        ("CPU", cpu),
        ("memory", mem),
        ("kernel", platform.release()),
        ("OS", sh(". /etc/os-release && echo $PRETTY_NAME")),
        ("Swift", sh("swift --version 2>&1 | head -1")),
        ("C compiler", sh("cc --version | head -1")),
        ("jansson", sh("pkg-config --modversion jansson")),
        ("SQLite", sh("pkg-config --modversion sqlite3")),
        ("Python", platform.python_version()),
        ("boto3 / moto", "%s / %s" % (boto_v, moto_v)),
        ("owd commit", sh("git -C %s rev-parse --short HEAD" % ROOT) + (" (work tree with uncommitted changes)" if sh("git -C %s status --porcelain --untracked-files=no" % ROOT) else "")),
        ("load average at start", open("/proc/loadavg").read().split()[0:3]),
    ]


def stats(v):
    return statistics.median(v), min(v), max(v)


def fmt_t(s):
    if s >= 1:
        return "%.2f s" % s
    if s >= 1e-3:
        return "%.2f ms" % (s * 1e3)
    return "%.1f µs" % (s * 1e6)


def cell(v):
    m, lo, hi = stats(v)
    return "%s (%s – %s)" % (fmt_t(m), fmt_t(lo), fmt_t(hi))


def ratio(a, b):
    return statistics.median(a) / statistics.median(b)


def verdict(r, target):
    return "met" if r <= target else "**missed**"


def plot(points, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xs = [p[0] for p in points]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    for key, label, style in [("owd", "owd_call → json_t", "o-"), ("floor", "floor: plain C + jansson from C structs", "s--"),
                              ("handles", "owd_describe_deployments (opaque handles)", "^-")]:
        ys = [statistics.median(p[1][key]) for p in points]
        lo = [statistics.median(p[1][key]) - min(p[1][key]) for p in points]
        hi = [max(p[1][key]) - statistics.median(p[1][key]) for p in points]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt=style, label=label, capsize=3, markersize=5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("deployments in the answer")
    ax.set_ylabel("time per DescribeDeployments (s, median, bars: min–max)")
    ax.set_title("owd DescribeDeployments: time against result size\n(1,000,000-deployment store; 100,000: the 100,000-deployment store)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    d = os.path.abspath(args.dir)
    os.makedirs(d, exist_ok=True)
    started = time.time()
    host = machine()

    built = build_stores(tool, d)
    paths = {name: os.path.join(d, "store-%s.db" % name) for name, _ in STORES}

    # The writer of (9) adds deployments: measure on a copy so that the kept store stays as built.
    scratch = os.path.join(d, "scratch-1m.db")
    for ext in ("-wal", "-shm"):
        if os.path.exists(scratch + ext):
            os.unlink(scratch + ext)
    shutil.copyfile(paths["1m"], scratch)
    shutil.copyfile(paths["1m"] + ".stacks", scratch + ".stacks")
    if os.path.exists(paths["1m"] + "-wal"):   # commits not yet checkpointed into the file
        shutil.copyfile(paths["1m"] + "-wal", scratch + "-wal")
    log("bench: measuring (1)-(6), (9)")
    m = run_lines([tool, "measure", paths["10k"], paths["100k"], scratch, d, str(args.runs)])
    for ext in ("", "-wal", "-shm", ".stacks"):
        if os.path.exists(scratch + ext):
            os.unlink(scratch + ext)

    log("bench: (7) opening the 1,000,000-deployment store, fresh processes")
    opens, loads = [], []
    for _ in range(5):
        opens += run_lines([tool, "open", paths["1m"]])
        loads += run_lines([tool, "sqlload", paths["1m"]])

    log("bench: (8) Python")
    env = dict(os.environ, OWD_LIBRARY=os.path.abspath(args.lib),
               PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    stack10k = open(paths["10k"] + ".stacks").readline().strip()
    # moto gets as many deployments as owd answers with (10,000).
    py = run_lines([sys.executable, os.path.join(HERE, "python_bench.py"), paths["10k"], stack10k, "5",
                    str(PER_STACK)], env=env)

    by = {}
    for r in m:
        by.setdefault(r["name"], []).append(r)
    q1, q3, q4 = by["q1"][0], by["q3"][0], by["q4"][0]
    b1, b3, b4 = by["busy_q1"][0], by["busy_q3"][0], by["busy_q4"][0]
    sc, cr, wr = by["scaling"][0], by["create"][0], by["writer"][0]
    sizes = {r["results"]: r for r in by["size"]}
    pyr = {r["name"]: r for r in py}

    rows = []   # (n, measurement, owd, floor, ratio text, target text, verdict)
    r1 = ratio(q1["owd"], q1["floor"])
    rows.append(("1", "DescribeDeployments by StackId (%d results) as json_t" % q1["results"],
                 cell(q1["owd"]), cell(q1["floor"]), "%.2fx" % r1, "≤ 1.3x", verdict(r1, 1.3)))
    r2 = ratio(q1["handles"], q1["floor"])
    rows.append(("2", "the same through opaque handles", cell(q1["handles"]), cell(q1["floor"]),
                 "%.3fx" % r2, "≤ 0.1x", verdict(r2, 0.1)))
    r3 = ratio(q3["owd"], q3["floor"])
    rows.append(("3", "DeploymentIds, %d random IDs, as json_t" % q3["results"], cell(q3["owd"]), cell(q3["floor"]),
                 "%.2fx" % r3, "≤ 1.5x", verdict(r3, 1.5)))
    r4 = ratio(q4["owd"], q4["floor"])
    rows.append(("4", "no parameter (%d results) as json_t" % q4["results"], cell(q4["owd"]), cell(q4["floor"]),
                 "%.2fx" % r4, "≤ 1.3x", verdict(r4, 1.3)))
    r5 = ratio(sc["large"], sc["small"])
    rows.append(("5", "query 1 on the 1,000,000-deployment store vs the 10,000 one (%d results each; 100,000: %s)"
                 % (sc["results"], fmt_t(statistics.median(sc["medium"]))),
                 cell(sc["large"]), cell(sc["small"]), "%.2fx" % r5, "≤ 1.2x", verdict(r5, 1.2)))
    r6 = ratio(cr["owd"], cr["floor"])
    rows.append(("6", "CreateDeployment, durable (defaults), one call each; in memory: %s (%.0f/s)"
                 % (fmt_t(statistics.median(cr["memory"])), 1 / statistics.median(cr["memory"])),
                 cell(cr["owd"]), cell(cr["floor"]), "%.2fx" % r6, "≤ 2x", verdict(r6, 2.0)))
    ot = [o["open"] + o["first_query"] for o in opens]
    held = PER_STACK * 100   # deployments in the large store
    per = statistics.median([(o["rss_after"] - o["rss_before"]) / held for o in opens])
    lt = [l["open"] for l in loads]
    lper = statistics.median([(l["rss_after"] - l["rss_before"]) / held for l in loads])
    rows.append(("7", "open the 1,000,000-deployment file + first query (floor: plain C reads every row into C structs); "
                 "resident memory per deployment: %.0f B (floor %.0f B)" % (per, lper),
                 cell(ot), cell(lt), "%.0f B/deployment" % per, "≤ 1024 B", verdict(per, 1024)))
    if "python" in pyr and "owd" in pyr["python"]:
        p = pyr["python"]
        r8 = ratio(p["owd"], p["floor"])
        rows.append(("8", "Python describe_deployments (%d results) vs json.loads of the same %d bytes"
                     % (p["results"], p["bytes"]), cell(p["owd"]), cell(p["floor"]), "%.2fx" % r8, "≤ 1.5x",
                     verdict(r8, 1.5)))
        if "orjson" in pyr and "orjson" in pyr["orjson"]:
            o = pyr["orjson"]
            rows.append(("8c", "Python describe_deployments (%d results) decoding with orjson %s, vs json.loads of "
                         "the same %d bytes (with json: %.2fx)" % (o["results"], o["version"], o["bytes"],
                                                                   ratio(o["json"], o["floor"])),
                         cell(o["orjson"]), cell(o["floor"]), "%.2fx" % ratio(o["orjson"], o["floor"]),
                         "reported", "—"))
            rows.append(("8d", "the same with orjson, vs orjson.loads of the same text",
                         cell(o["orjson"]), cell(o["floor_orjson"]), "%.2fx" % ratio(o["orjson"], o["floor_orjson"]),
                         "reported", "—"))
        elif "orjson" in pyr:
            rows.append(("8c", "Python with orjson: %s" % pyr["orjson"].get("error", "no result"), "—", "—", "—",
                         "reported", "—"))
        if "moto" in pyr and "moto" in pyr["moto"]:
            mo = pyr["moto"]
            rm = ratio(mo["moto"], p["owd"])
            rows.append(("8b", "moto (mock_aws CodeDeploy) batch_get_deployments of %d in batches of 100, vs owd's "
                         "describe_deployments (creating them in moto took %.1f s)" % (mo["results"], mo["create_seconds"]),
                         cell(mo["moto"]), cell(p["owd"]), "owd is %.0fx faster" % rm, "reported", "—"))
    else:
        rows.append(("8", "Python: %s" % pyr.get("python", {}).get("error", "no result"), "—", "—", "—", "≤ 1.5x",
                     "not measured"))
    # "Reads" are all of them, the handles (2) included: the worst busy/quiet ratio is judged.
    r9 = max(ratio(b1["owd"], q1["owd"]), ratio(b3["owd"], q3["owd"]), ratio(b4["owd"], q4["owd"]),
             ratio(b1["handles"], q1["handles"]))
    # The floors slow down too (the writer takes one of the machine's cores): owd's slowdown
    # beyond its floor's is what owd itself adds (each read first loads what the writer committed).
    own = max(ratio(b1["owd"], q1["owd"]) / ratio(b1["floor"], q1["floor"]),
              ratio(b3["owd"], q3["owd"]) / ratio(b3["floor"], q3["floor"]),
              ratio(b4["owd"], q4["owd"]) / ratio(b4["floor"], q4["floor"]))
    rows.append(("9", "reads 1, 3, 4 with a second process writing flat out (%d durable CreateDeployment in %.0f s); "
                 "busy/quiet: q1 %.2fx, q3 %.2fx, q4 %.2fx, handles %.2fx; the floors' own busy/quiet: %.2fx, %.2fx, "
                 "%.2fx; owd's beyond its floor's: worst %.2fx"
                 % (wr["written"], wr["seconds"], ratio(b1["owd"], q1["owd"]), ratio(b3["owd"], q3["owd"]),
                    ratio(b4["owd"], q4["owd"]), ratio(b1["handles"], q1["handles"]), ratio(b1["floor"], q1["floor"]),
                    ratio(b3["floor"], q3["floor"]), ratio(b4["floor"], q4["floor"]), own),
                 cell(b1["owd"]), cell(q1["owd"]), "%.2fx" % r9, "≤ 1.5x", verdict(r9, 1.5)))

    points = sorted((r["results"], r) for r in [sizes.get(10), q3, sizes.get(1000), q1, sizes.get(100000), q4] if r)
    plot(points, os.path.join(HERE, "query-time.png"))

    out = []
    out.append("# owd benchmark results (issue 7)\n")
    out.append("Generated by `make bench` (bench/run.py) on %s, in %.0f s. Medians of %d runs in one process "
               "(5 for the 1,000,000-result query 4 and its busy twin, and for Python (8); (7) opens the store in 5 "
               "fresh processes), min – max in brackets; every ratio is owd's median over its floor's median, both measured in this "
               "run, interleaved. Timings cover building the answer; releasing it (json_decref, "
               "owd_deployment_list_free) is outside the timing for owd and floor alike.\n"
               % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.time() - started, args.runs))
    out.append("## Machine\n")
    out.append("| | |\n|---|---|")
    for k, v in host:
        out.append("| %s | %s |" % (k, v))
    out.append("")
    out.append("## Stores\n")
    out.append("Built through the real API (owd_call CreateDeployment, DescribeCommands, CompleteCommand; durability OFF; "
               "the clock option puts one deployment a minute from 2019-01-01), each deployment with 2 instances, one "
               "Args entry, a comment; half finished (one in ten of those failed). Measured after reopening with the "
               "defaults. Stores are kept in .build/bench/ between runs (OWD_BENCH_REBUILD=1 builds them anew).\n")
    for name, stacks in STORES:
        b = built.get(paths[name])
        out.append("- `store-%s.db`: %d stacks x %d deployments, %.0f MB%s" % (
            name, stacks, PER_STACK, os.path.getsize(paths[name]) / 1e6,
            ", built in this run in %.0f s" % b["seconds"] if b else ", reused"))
    out.append("")
    out.append("## Results\n")
    out.append("| # | measurement | owd | floor | ratio | target | |")
    out.append("|---|---|---|---|---|---|---|")
    for r in rows:
        out.append("| %s |" % r[0] + " | ".join(r[1:]) + " |")
    out.append("")
    out.append("## Query time against result size\n")
    out.append("![query time](query-time.png)\n")
    out.append("| results | query | owd json_t | handles | floor | json_t / floor |")
    out.append("|---|---|---|---|---|---|")
    for n, r in points:
        out.append("| %d | %s | %s | %s | %s | %.2fx |" % (n, r["query"], cell(r["owd"]), cell(r["handles"]),
                                                          cell(r["floor"]), ratio(r["owd"], r["floor"])))
    out.append("")
    out.append("## With a second process writing (9)\n")
    out.append("| query | quiet | busy | busy / quiet |")
    out.append("|---|---|---|---|")
    for label, quiet, busy, key in [("1 json_t", q1, b1, "owd"), ("2 handles", q1, b1, "handles"),
                                    ("3 json_t", q3, b3, "owd"), ("4 json_t", q4, b4, "owd"),
                                    ("floor of 1 (no owd call)", q1, b1, "floor"),
                                    ("floor of 3 (no owd call)", q3, b3, "floor"),
                                    ("floor of 4 (no owd call)", q4, b4, "floor")]:
        out.append("| %s | %s | %s | %.2fx |" % (label, cell(quiet[key]), cell(busy[key]), ratio(busy[key], quiet[key])))
    out.append("")
    out.append("While another process commits, each owd read first loads what was committed since its last "
               "call (reads see every commit made before they start): callgrind puts that at about 77,000 "
               "instructions per read after one new deployment, which weighs most on the cheapest reads "
               "(handles, 100 IDs). The floors run no owd code at all, so their slowdown is the machine's: "
               "the writer keeps one of the 2 cores busy.\n")
    out.append("## Opening (7)\n")
    out.append("| run | open | first query | RSS delta | per deployment |")
    out.append("|---|---|---|---|---|")
    for i, o in enumerate(opens):
        delta = o["rss_after"] - o["rss_before"]
        out.append("| %d | %s | %s | %.0f MB | %.0f B |" % (i + 1, fmt_t(o["open"]), fmt_t(o["first_query"]),
                                                         delta / 1e6, delta / (PER_STACK * 100)))
    out.append("")
    out.append("Floor: plain C reading every deployment row through SQLite into C structs: %s, %.0f B per deployment.\n"
               % (cell(lt), lper))
    out.append("## Raw\n")
    out.append("```")
    for r in m + opens + loads + py:
        out.append(json.dumps(r))
    out.append("```")
    # The sections other benchmarks write (make bench-serve, make bench-group) are kept as
    # they were: each is rewritten only by its own target.
    results_md = os.path.join(HERE, "RESULTS.md")
    previous = open(results_md).read() if os.path.exists(results_md) else ""
    for begin, end in (("<!-- bench-serve -->", "<!-- /bench-serve -->"),
                       ("<!-- bench-group: begin", "<!-- bench-group: end -->")):
        if begin in previous and end in previous:
            out += ["", previous[previous.index(begin):previous.index(end) + len(end)]]
    with open(results_md, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out[:0]))
    for r in rows:
        print("%-3s %-10s %-12s %s" % (r[0], r[4], r[6], r[1]))
    log("bench: wrote bench/RESULTS.md and bench/query-time.png in %.0f s" % (time.time() - started))


if __name__ == "__main__":
    main()
