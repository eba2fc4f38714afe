#!/usr/bin/env python3
"""Writes owd's request-shape table (Sources/OwdCore/OperationShapes.generated.swift) as
JSON, so that the C bad-input matrix and the fuzzers walk exactly the table the validator
uses. The Swift file is a literal (tools/gen_shapes.py writes it), so a few textual
substitutions turn it into a Python expression.

    {"Operation": {"kind": "structure", "members": [{"name": ..., "required": bool,
                   "shape": {"kind": "string", "max": N, "values": [...] | null}}, ...]}}
"""
import json
import re
import sys

LIMITS = {"Limits.string": 65536, "Limits.customJson": 122880}


def string(max, values):
    return {"kind": "string", "max": max, "values": values}


def lst(element):
    return {"kind": "list", "element": element}


def mp(element):
    return {"kind": "map", "element": element}


def struct(members):
    return {"kind": "structure", "members": members}


def member(name, shape, required=False):
    return {"name": name, "shape": shape, "required": required}


def load(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"static let requests: \[String: Shape\] = \[(.*?)\n    \]\n", text, re.S)
    if not m:
        sys.exit(f"{path}: no `static let requests` table found")
    body = m.group(1)
    for k, v in LIMITS.items():
        body = body.replace(k, str(v))
    body = re.sub(r"\.string\(max: (\d+), values: ", r"string(\1, ", body)
    body = body.replace("nil", "None").replace("required: true", "required=True")
    body = body.replace(".integer", '{"kind": "integer"}').replace(".boolean", '{"kind": "boolean"}')
    body = body.replace(".list(", "lst(").replace(".map(", "mp(").replace(".structure(", "struct(")
    body = body.replace("Member(", "member(")
    table = eval("{" + body + "}", {"string": string, "lst": lst, "mp": mp, "struct": struct, "member": member})
    if len(table) < 20:
        sys.exit(f"{path}: only {len(table)} operations parsed")
    return table


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else "Sources/OwdCore/OperationShapes.generated.swift"
    out = json.dumps(load(source), indent=1, sort_keys=True)
    if len(sys.argv) > 2:
        open(sys.argv[2], "w").write(out + "\n")
    else:
        print(out)
