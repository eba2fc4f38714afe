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
    import tomllib   # Python 3.11+
    pyproject = tomllib.loads(read("bindings/python/pyproject.toml"))
    if "version" in pyproject["project"] or pyproject["project"].get("dynamic") != ["version"] or \
            pyproject["tool"]["setuptools"]["dynamic"]["version"] != {"file": "opsworks_deployments/VERSION"}:
        problems.append("bindings/python/pyproject.toml does not take its version from opsworks_deployments/VERSION")
    if not re.search(rf"^## \[{re.escape(version)}\]", read("CHANGELOG.md"), re.M):
        problems.append(f"CHANGELOG.md has no '## [{version}]' section")
    for p in problems:
        print("version: FAIL:", p)
    if not problems:
        print(f"version: passed: {version} in VERSION, include/owd.h ({want['NUMBER']}), the Makefile, "
              "the Python package and CHANGELOG.md")
    return 1 if problems else 0


def self_test():
    """The check fails when one place disagrees: a copy of the files it reads, with the
    header's OWD_VERSION_NUMBER, then the Makefile's VERSION, made wrong."""
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for path in ("VERSION", "Makefile", "CHANGELOG.md", "include/owd.h", "tests/version/check.py",
                     "bindings/python/pyproject.toml"):
            os.makedirs(os.path.join(tmp, os.path.dirname(path)), exist_ok=True)
            shutil.copy(os.path.join(ROOT, path), os.path.join(tmp, path))
        os.makedirs(os.path.join(tmp, "bindings/python/opsworks_deployments"))
        os.symlink("../../../VERSION", os.path.join(tmp, "bindings/python/opsworks_deployments/VERSION"))
        run = lambda: subprocess.run([sys.executable, os.path.join(tmp, "tests/version/check.py")],
                                     capture_output=True, text=True)
        if run().returncode != 0:
            return "the copy does not pass: " + run().stdout
        header = os.path.join(tmp, "include/owd.h")
        with open(header) as f:
            text = f.read()
        with open(header, "w") as f:
            f.write(re.sub(r"(#define OWD_VERSION_NUMBER )\d+", r"\g<1>999999", text))
        result = run()
        if result.returncode == 0 or "OWD_VERSION_NUMBER is 999999" not in result.stdout:
            return "a wrong OWD_VERSION_NUMBER passed: " + result.stdout
        with open(header, "w") as f:
            f.write(text)
        with open(os.path.join(tmp, "Makefile")) as f:
            make = f.read()
        with open(os.path.join(tmp, "Makefile"), "w") as f:
            f.write(make.replace("VERSION := $(shell cat $(CURDIR)/VERSION)", "VERSION := 9.9.9"))
        result = run()
        if result.returncode == 0 or "the Makefile's VERSION is '9.9.9'" not in result.stdout:
            return "a Makefile VERSION of its own passed: " + result.stdout
    return None


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        problem = self_test()
        print("version: FAIL: --self-test: " + problem if problem else
              "version: passed: the check fails on a wrong OWD_VERSION_NUMBER and on a Makefile VERSION of its own")
        sys.exit(1 if problem else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "--set":
        set_version(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) != 1:
        raise SystemExit("usage: check.py [--set MAJOR.MINOR.PATCH | --self-test]")
    sys.exit(check())
