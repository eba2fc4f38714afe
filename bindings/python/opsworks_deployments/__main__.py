"""python -m opsworks_deployments install-model [--dir DIR]

Writes the OpsWorks model (botocore 1.39.17's service-2.json with its documentation,
waiters-2.json, paginators-1.json) with owd's own operations merged in, into
DIR/opsworks/2013-02-18/ (default ~/.aws/models, which botocore and the aws CLI search),
as `owd model install` does: so that an unchanged boto3 script or aws CLI command reaches
`owd serve` through AWS_ENDPOINT_URL_OPSWORKS."""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = os.path.join("opsworks", "2013-02-18")
# The wheel carries the model in model/; a source checkout has it at the repository's root.
SOURCES = [os.path.join(HERE, "model"), os.path.join(HERE, "..", "..", "..", "model")]
EXTRAS = os.path.join(HERE, "data", VERSION, "service-2.sdk-extras.json")
FILES = ["service-2.json", "waiters-2.json", "paginators-1.json"]


def merge(into, extra):
    """botocore's merge_dicts: objects merged key by key, all the way down; other values replaced."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def model_folder():
    for folder in SOURCES:
        if all(os.path.exists(os.path.join(folder, VERSION, f)) for f in FILES):
            return os.path.join(folder, VERSION)
    raise SystemExit("opsworks_deployments: the OpsWorks model is not in this installation (looked in %s)"
                     % ", ".join(os.path.normpath(s) for s in SOURCES))


def install_model(target):
    source = model_folder()
    folder = os.path.join(target, VERSION)
    os.makedirs(folder, exist_ok=True)
    written = []
    for name in FILES:
        with open(os.path.join(source, name), "rb") as f:
            data = f.read()
        if name == "service-2.json":
            with open(EXTRAS, encoding="utf-8") as f:
                extras = json.load(f)
            data = (json.dumps(merge(json.loads(data), extras["merge"]), indent=1, ensure_ascii=False) + "\n").encode()
        path = os.path.join(folder, name)
        tmp = "%s.tmp-%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m opsworks_deployments")
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install-model", help="write the OpsWorks model for botocore and the aws CLI")
    install.add_argument("--dir", default=os.path.join(os.path.expanduser("~"), ".aws", "models"),
                         help="the models folder (default: ~/.aws/models)")
    args = parser.parse_args(argv)
    for path in install_model(args.dir):
        print("opsworks_deployments: wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
