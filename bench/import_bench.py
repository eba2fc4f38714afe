#!/usr/bin/env python3
"""make bench-import: `owd import` of N deployments with their commands, against plain
SQLite inserts of the same rows (bench/import_floor.c), measured in the same run.

Files: 10 stacks, 2 layers and 10 instances each, N deployments (every one finished, as
history is) and COMMANDS commands per deployment, written as AWS's describe outputs.
Each round imports them into a new store (`owd import --quiet`, wall time and peak RSS),
then copies the imported rows into another new store with the floor program. Reports the
median and worst of the rounds and writes its section of bench/RESULTS.md.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

SECTION = "## owd import (make bench-import)"


def ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))


def ids(prefix, n):
    # Deterministic lowercase UUIDs (version 4 shape), so reruns write the same files.
    return [str(uuid.UUID(int=(prefix << 96) | i, version=4)) for i in range(n)]


def write_files(folder, n, per):
    stacks = ids(1, 10)
    layers = ids(2, 20)
    instances = ids(3, 100)
    paths = {}

    def put(name, key, lines):
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write('{"%s": [\n' % key)
            first = True
            for line in lines:
                f.write(line if first else ",\n" + line)
                first = False
            f.write("\n]}\n")
        paths[name] = path

    base = 1_500_000_000
    put("stacks.json", "Stacks", ('{"StackId": "%s", "Name": "stack%d", "Region": "us-east-1", "CreatedAt": "%s", '
                                  '"ConfigurationManager": {"Name": "Chef", "Version": "12"}}' % (s, i, ts(base))
                                  for i, s in enumerate(stacks)))
    put("layers.json", "Layers", ('{"LayerId": "%s", "StackId": "%s", "Type": "custom", "Name": "l%d", "Shortname": "l%d", '
                                  '"CreatedAt": "%s"}' % (l, stacks[i // 2], i, i, ts(base)) for i, l in enumerate(layers)))
    put("instances.json", "Instances", ('{"InstanceId": "%s", "StackId": "%s", "LayerIds": ["%s"], "Status": "online", '
                                        '"Hostname": "l%d-%d", "InstanceType": "c5.large", "CreatedAt": "%s"}'
                                        % (x, stacks[i // 10], layers[i // 5], i // 5, i, ts(base)) for i, x in enumerate(instances)))
    deployments = ids(4, n)

    def deployment_lines():
        for i, d in enumerate(deployments):
            s = i % 10
            created = base + 100 + i * 7
            targets = ", ".join('"%s"' % instances[s * 10 + (i + k) % 10] for k in range(per))
            yield ('{"DeploymentId": "%s", "StackId": "%s", "CreatedAt": "%s", "CompletedAt": "%s", "Duration": 42, '
                   '"IamUserArn": "arn:aws:iam::123456789012:user/deploy", "Command": {"Name": "execute_recipes", '
                   '"Args": {"recipes": ["app::deploy"]}}, "Status": "successful", "InstanceIds": [%s]}'
                   % (d, stacks[s], ts(created), ts(created + 42), targets))

    put("deployments.json", "Deployments", deployment_lines())

    def command_lines():
        c = 0
        for i, d in enumerate(deployments):
            s = i % 10
            created = base + 100 + i * 7
            for k in range(per):
                c += 1
                yield ('{"CommandId": "%s", "InstanceId": "%s", "DeploymentId": "%s", "CreatedAt": "%s", '
                       '"AcknowledgedAt": "%s", "CompletedAt": "%s", "Status": "successful", "ExitCode": 0, '
                       '"Type": "execute_recipes"}'
                       % (uuid.UUID(int=(5 << 96) | c, version=4), instances[s * 10 + (i + k) % 10], d,
                          ts(created), ts(created + 2), ts(created + 40)))

    put("commands.json", "Commands", command_lines())
    return [paths[k] for k in ("stacks.json", "layers.json", "instances.json", "deployments.json", "commands.json")]


def revision():
    p = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "?"


def run_import(owd, files, store, progress=False):
    """One `owd import` (with `progress`, its progress lines pass through to stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    p = subprocess.run([owd, "import"] + ([] if progress else ["--quiet"]) + ["--store", store] + files,
                       stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE, text=True)
    seconds = time.monotonic() - start
    if p.returncode != 0:
        sys.exit("owd import failed: %s" % (p.stderr or "(its messages are above)"))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(rss, before)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--owd", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--deployments", type=int, default=1_000_000)
    ap.add_argument("--commands", type=int, default=1, help="commands per deployment")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--results", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    ap.add_argument("--progress", action="store_true", help="show owd import's progress lines")
    ap.add_argument("--section", default=SECTION, help="the heading of the section of RESULTS.md written")
    a = ap.parse_args()
    section = a.section
    work = tempfile.mkdtemp(prefix="owd-bench-import-", dir=a.dir)
    try:
        t0 = time.monotonic()
        files = write_files(work, a.deployments, a.commands)
        size = sum(os.path.getsize(f) for f in files)
        print("bench-import: wrote %d deployments, %d commands (%.1f MB) in %.1f s"
              % (a.deployments, a.deployments * a.commands, size / 1e6, time.monotonic() - t0))
        rows = 10 + 20 + 100 + a.deployments * (1 + a.commands)
        imports, floors, rss = [], [], 0
        for r in range(a.rounds):
            store = os.path.join(work, "import-%d.owd" % r)
            seconds, peak = run_import(a.owd, files, store, a.progress)
            rss = max(rss, peak)
            copy = os.path.join(work, "floor-%d.owd" % r)
            out = subprocess.run([a.floor, store, copy], capture_output=True, text=True, check=True).stdout.split()
            copied, floor_seconds = int(out[0]), float(out[1])
            if copied != rows:
                sys.exit("floor copied %d rows, expected %d" % (copied, rows))
            imports.append(rows / seconds)
            floors.append(rows / floor_seconds)
            print("bench-import: round %d: owd import %.0f rows/s (%.1f s), plain SQLite inserts %.0f rows/s (%.1f s), ratio %.2f"
                  % (r + 1, rows / seconds, seconds, rows / floor_seconds, floor_seconds, (rows / seconds) / (rows / floor_seconds)))
            os.unlink(store)
            os.unlink(copy)
        ratios = [i / f for i, f in zip(imports, floors)]
        load = os.getloadavg()[0]
        lines = [section, "",
                 "`python3 bench/import_bench.py --deployments %d --commands %d --rounds %d` (at commit %s, %s UTC, load average %.1f at the start; 2 cores shared)."
                 % (a.deployments, a.commands, a.rounds, revision(), time.strftime("%Y-%m-%d %H:%M", time.gmtime()), load),
                 "Rows: %d (10 stacks, 20 layers, 100 instances, %d deployments, %d commands); files %.1f MB."
                 % (rows, a.deployments, a.deployments * a.commands, size / 1e6),
                 "Whole `owd import` (parse, checks, inserts, commit with fsync, cache load) against the floor: the same rows",
                 "inserted one by one by bench/import_floor.c with prepared statements in one transaction (same schema and indexes, WAL, synchronous=FULL).",
                 "",
                 "| | median | worst |",
                 "| --- | --- | --- |",
                 "| owd import, rows/s | %.0f | %.0f |" % (statistics.median(imports), min(imports)),
                 "| plain SQLite inserts, rows/s | %.0f | %.0f |" % (statistics.median(floors), min(floors)),
                 "| ratio (target >= 0.5) | %.2f | %.2f |" % (statistics.median(ratios), min(ratios)),
                 "| owd import peak RSS | %.0f MB | |" % (rss / 1024),
                 ""]
        print("\n".join(lines))
        text = open(a.results).read() if os.path.exists(a.results) else "# Benchmark results\n"
        if section in text:
            head, _, tail = text.partition(section)
            rest = tail.split("\n## ", 1)
            text = head + "\n".join(lines) + ("\n## " + rest[1] if len(rest) > 1 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
        open(a.results, "w").write(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
