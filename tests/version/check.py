#!/usr/bin/env python3
"""The version is written once, in VERSION; everything else follows from it or is checked
against it here (run by `make test-version`):

  include/owd.h   OWD_VERSION_MAJOR/MINOR/PATCH, OWD_VERSION_NUMBER, OWD_VERSION_STRING
                  (the library returns these: Sources/Owd/ABI.swift reads the header)
  Makefile        VERSION := $(shell cat VERSION), and so owd.pc and libowd.so.<VERSION>
  Python          opsworks_deployments/VERSION is a symlink to it (pyproject.toml's dynamic
                  version and __version__ read it)
  CHANGELOG.md    has a section for it

`tests/version/check.py --set 0.2.0` writes a new version into VERSION and owd.h.
Exits 1, naming each disagreement, when any place disagrees.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join(ROOT, "include", "owd.h")
MACROS = ("MAJOR", "MINOR", "PATCH", "NUMBER", "STRING")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def parse(version):
    m = re.fullmatch(r"(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})", version)
    if not m:
        raise SystemExit(f"version {version!r} is not MAJOR.MINOR.PATCH (each 0-999)")
    return tuple(int(x) for x in m.groups())


def expected_macros(version):
    major, minor, patch = parse(version)
    return {"MAJOR": str(major), "MINOR": str(minor), "PATCH": str(patch),
            "NUMBER": str(major * 1000000 + minor * 1000 + patch), "STRING": f'"{version}"'}


def header_macros(text):
    return {name: m.group(1) for name in MACROS
            for m in [re.search(rf"^#define OWD_VERSION_{name} (.+?)\s*$", text, re.M)] if m}


def set_version(version):
    want = expected_macros(version)
    text = read("include/owd.h")
    for name in MACROS:
        text, n = re.subn(rf"^(#define OWD_VERSION_{name} ).+$", lambda m: m.group(1) + want[name], text, flags=re.M)
        if n != 1:
            raise SystemExit(f"include/owd.h: OWD_VERSION_{name} defined {n} times")
    with open(HEADER, "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(ROOT, "VERSION"), "w", encoding="utf-8") as f:
        f.write(version + "\n")
    print(f"VERSION and include/owd.h now say {version}; add its section to CHANGELOG.md")


def check():
    problems = []
    raw = read("VERSION")
    version = raw.strip()
    if raw != version + "\n":
        problems.append("VERSION must hold the version and one newline")
    want = expected_macros(version)
    have = header_macros(read("include/owd.h"))
    for name in MACROS:
        if have.get(name) != want[name]:
            problems.append(f"include/owd.h: OWD_VERSION_{name} is {have.get(name)}, VERSION {version} makes it {want[name]}")
    make = subprocess.run(["make", "--no-print-directory", "-s", "-C", ROOT, "print-version"],
                          capture_output=True, text=True)
    if make.stdout.strip() != version:
        problems.append(f"the Makefile's VERSION is {make.stdout.strip()!r} ({make.stderr.strip()})")
    link = os.path.join(ROOT, "bindings", "python", "opsworks_deployments", "VERSION")
    if not os.path.islink(link) or os.path.realpath(link) != os.path.realpath(os.path.join(ROOT, "VERSION")):
        problems.append("bindings/python/opsworks_deployments/VERSION is not a symlink to VERSION")
    pyproject = read("bindings/python/pyproject.toml")
    if not re.search(r'^dynamic = \["version"\]', pyproject, re.M) or \
            'version = {file = "opsworks_deployments/VERSION"}' not in pyproject:
        problems.append("bindings/python/pyproject.toml does not take its version from opsworks_deployments/VERSION")
    if re.search(r"^version\s*=", pyproject, re.M):
        problems.append("bindings/python/pyproject.toml writes a version of its own")
    if not re.search(rf"^## \[{re.escape(version)}\]", read("CHANGELOG.md"), re.M):
        problems.append(f"CHANGELOG.md has no '## [{version}]' section")
    for p in problems:
        print("version: FAIL:", p)
    if not problems:
        print(f"version: {version} in VERSION, include/owd.h ({want['NUMBER']}), the Makefile, "
              "the Python package and CHANGELOG.md")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--set":
        set_version(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) != 1:
        raise SystemExit("usage: check.py [--set MAJOR.MINOR.PATCH]")
    sys.exit(check())
