#!/usr/bin/env python3
"""The contract ships with the code (run by `make test-docs`):

- docs/behaviour.md is a byte-for-byte copy of ../shared/spec/behaviour.md (relative to the
  repository) wherever that file exists, as in CI, so the copy follows every change of it;
- README.md and docs/*.md point only inside the repository: every relative link names a
  file or folder of the repository, and no text names a path outside it.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(os.path.dirname(ROOT), "shared", "spec", "behaviour.md")
COPY = os.path.join(ROOT, "docs", "behaviour.md")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def main():
    problems, notes = [], []
    if not os.path.exists(COPY):
        problems.append("docs/behaviour.md is missing")
    elif os.path.exists(SPEC):
        with open(SPEC, "rb") as a, open(COPY, "rb") as b:
            if a.read() != b.read():
                problems.append(f"docs/behaviour.md is not a copy of {SPEC}: the contract changed; "
                                f"copy it (cp {SPEC} docs/behaviour.md) and commit")
            else:
                notes.append("docs/behaviour.md = ../shared/spec/behaviour.md")
    else:
        notes.append("no ../shared/spec/behaviour.md beside this clone: docs/behaviour.md not compared")
    pages = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                                   if f.endswith(".md"))
    links = 0
    for page in pages:
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            text = f.read()
        if "../shared" in text or "/work/" in text:
            problems.append(f"{page} names a path outside the repository (../shared or /work/)")
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue   # a URL, or an anchor in the page itself
            path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target.split("#")[0]))
            links += 1
            if os.path.commonpath([path, ROOT]) != ROOT:
                problems.append(f"{page}: the link {target} leaves the repository")
            elif not os.path.exists(path):
                problems.append(f"{page}: the link {target} names no file of the repository")
    notes.append(f"{links} relative links in {len(pages)} pages resolve inside the repository")
    for p in problems:
        print("docs: FAIL:", p)
    if not problems:
        print("docs: passed: " + "; ".join(notes))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
