"""Checks owd's responses against the REAL OpsWorks model of botocore 1.39.17.

Run with a Python that has botocore==1.39.17 (the last botocore with OpsWorks):
    python conformance_check.py responses.json
responses.json: [[operation, response text], ...]. Prints every violation; exit 1 if any.
"""
import json
import os
import re
import sys

import botocore
import botocore.session

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


def check(shape, value, path, problems):
    if value is None:
        problems.append("%s: null" % path)
        return
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            problems.append("%s: %s, expected an object" % (path, type(value).__name__))
            return
        for key, v in value.items():
            if key not in shape.members:
                problems.append("%s.%s: a member the model (%s) lacks" % (path, key, shape.name))
            else:
                check(shape.members[key], v, "%s.%s" % (path, key), problems)
    elif t == "list":
        if not isinstance(value, list):
            problems.append("%s: %s, expected a list" % (path, type(value).__name__))
            return
        for i, v in enumerate(value):
            check(shape.member, v, "%s[%d]" % (path, i), problems)
    elif t == "map":
        if not isinstance(value, dict):
            problems.append("%s: %s, expected a map" % (path, type(value).__name__))
            return
        for k, v in value.items():
            check(shape.key, k, "%s key" % path, problems)
            check(shape.value, v, "%s[%r]" % (path, k), problems)
    elif t == "string":
        if not isinstance(value, str):
            problems.append("%s: %s, expected a string" % (path, type(value).__name__))
        elif shape.enum and value not in shape.enum:
            problems.append("%s: %r is not one of %s" % (path, value, shape.enum))
        elif shape.name == "DateTime" and not TIMESTAMP.match(value):
            problems.append("%s: %r is not YYYY-MM-DDTHH:MM:SS+00:00" % (path, value))
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append("%s: %r, expected an integer" % (path, value))
    elif t == "boolean":
        if not isinstance(value, bool):
            problems.append("%s: %r, expected a boolean" % (path, value))
    elif t in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append("%s: %r, expected a number" % (path, value))
    else:
        problems.append("%s: shape type %s not checked" % (path, t))


_OWD_MODEL = None


def owd_model():
    """The model the package ships (AWS's, stripped, with owd's extras merged by botocore's loader)."""
    global _OWD_MODEL
    if _OWD_MODEL is None:
        s = botocore.session.get_session()
        s.get_component("data_loader").search_paths.insert(
            0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "opsworks_deployments", "data"))
        _OWD_MODEL = s.get_service_model("opsworks")
    return _OWD_MODEL


def main(path):
    if botocore.__version__ != "1.39.17":
        sys.exit("needs botocore 1.39.17, found %s" % botocore.__version__)
    model = botocore.session.get_session().get_service_model("opsworks")
    with open(path) as f:
        responses = json.load(f)
    problems, checked = [], {}
    for operation, text in responses:
        response = json.loads(text)
        checked[operation] = checked.get(operation, 0) + 1
        # owd's own operations (behaviour.md sections 5 and 14), the ones AWS's model lacks:
        # their output shape in owd's model extras, or {}.
        if operation not in model.operation_names:
            output = owd_model().operation_model(operation).output_shape
            if output is not None:
                check(output, response, operation, problems)
            elif response != {}:
                problems.append("%s: %r, expected {}" % (operation, response))
            continue
        output = model.operation_model(operation).output_shape
        if output is None:
            if response != {}:
                problems.append("%s: %r, the model has no output" % (operation, response))
            continue
        check(output, response, operation, problems)
    for p in problems[:200]:
        print(p)
    print(json.dumps({"checked": checked, "problems": len(problems)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
