#!/usr/bin/env python3
"""`make test`: runs every suite target, even after one has failed, with its output passed
through as it comes (the runners' own closing lines included), then one summary line per
suite and an exit status that is non-zero when any suite failed.

    usage: run_suites.py [--make MAKE] TARGET...
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time

# A suite's own count line, by the runner that prints it; the first kind of line found in
# its output wins, and of that kind the last one.
COUNT_LINES = [
    # swift test: XCTest's and swift-testing's closing lines; the one that counted tests.
    re.compile(r"(Executed [1-9]\d* tests?, with \d+ failures?|Test run with [1-9]\d* tests?).*"),
    re.compile(r"=* *(\d+ (passed|failed|errors?|skipped|xfailed|xpassed|warnings?),? ?)+ in [\d.]+s.*"),  # pytest
    re.compile(r"\b\d+ passed, \d+ failed\b"),                                             # tests/c/harness.h
    re.compile(r"[\w-]+: .*\b(passed|failed|FAIL)\b.*"),                                   # ours
]


def count_line(lines):
    for pattern in COUNT_LINES:
        found = [m.group(0).strip(" =") for line in lines for m in [pattern.search(line)] if m]
        if found:
            return found[-1]
    return ""


def jobserver_fds():
    """The fds of make's jobserver (make -jN, GNU make 4.3's pipe), kept open for the suites."""
    m = re.search(r"--jobserver-auth=(\d+),(\d+)", os.environ.get("MAKEFLAGS", ""))
    fds = tuple(int(fd) for fd in m.groups()) if m else ()
    try:
        for fd in fds:
            os.fstat(fd)
    except OSError:
        return ()
    return fds


def run(make, target):
    start = time.monotonic()
    p = subprocess.Popen(make + ["--no-print-directory", target], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, pass_fds=jobserver_fds())
    lines = []
    for raw in p.stdout:
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
        del lines[:-400]
    status = p.wait()
    return status, time.monotonic() - start, count_line(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--make", default="make")
    ap.add_argument("targets", nargs="+")
    args = ap.parse_args()
    make = shlex.split(args.make)
    results = []
    for target in args.targets:
        print(f"\n==== make {target}", flush=True)
        results.append((target,) + run(make, target))
    width = max(len(t) for t in args.targets)
    print("\n==== make test: one line per suite")
    for target, status, seconds, line in results:
        verdict = "passed" if status == 0 else f"FAILED (exit {status})"
        print(f"{target:<{width}}  {verdict:<15} {seconds:5.0f} s  {line}".rstrip())
    failed = [t for t, status, _, _ in results if status != 0]
    if failed:
        print(f"make test: {len(failed)} of {len(results)} suites failed: {' '.join(failed)}")
        return 1
    print(f"make test: all {len(results)} suites passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
