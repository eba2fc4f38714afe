#!/usr/bin/env python3
"""owd's one operation table, and everything derived from it.

The table is OPERATIONS below (the operations owd answers, each with the permission level
of behaviour.md section 7 it needs) plus botocore 1.39.17's OpsWorks model (member names,
types, required members, output shapes, errors) and owd's own operations (OWD_OPERATIONS).
From it this script writes, all committed:

  Sources/OwdCore/Operations.generated.swift   the Operation enum, its permission level
      and whether it writes, the request-shape table the validator walks, one typed
      request struct per operation, and the one dispatch switch
  tests/hardening/shapes.json                   the request shapes for the bad-input matrix
                                                and the structure-aware fuzzer
  fuzz/owd.dict, fuzz/corpus/seed/table-<Operation>   the fuzz dictionary and one seed per
                                                operation (the other seeds are hand-written)
  bindings/python/opsworks_deployments/_operations.py   the Python methods' list
  bindings/python/opsworks_deployments/client.pyi       the typed stub (PEP 561)
  bindings/python/opsworks_deployments/data/opsworks/2013-02-18/*.json
      the stripped model, its waiter and owd's additions, for botocore's loader
  docs/operations.md                            the per-operation reference, with examples
      produced by running each example against a fresh in-memory store (needs --lib)

    python3 -m venv /tmp/bc && /tmp/bc/bin/pip install botocore==1.39.17
    /tmp/bc/bin/python tools/gen_shapes.py --lib .build/release/libowd.so      # write
    /tmp/bc/bin/python tools/gen_shapes.py --lib .build/release/libowd.so --check

--check writes nothing and fails, naming the files, when any committed file differs from
a fresh generation (`make test-generated`, part of `make test`).

Adding an operation: one line in OPERATIONS (its permission level), its handler
`Store.<lowerCamelName>(_:_:)` in Sources/OwdCore, its tests; then run this script.
"""
import argparse
import ctypes
import gzip
import hashlib
import json
import os
import re
import sys

import botocore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(os.path.dirname(botocore.__file__), "data", "opsworks", "2013-02-18")

# Permission levels (behaviour.md section 7): what an identified caller needs on the stack a
# request concerns. "anyone": any caller; "embedder": only the embedding program (no identity);
# "self": the caller's own user profile, with self-management allowed (AWS's My* operations).
SHOW, DEPLOY, MANAGE, ANYONE, EMBEDDER, SELF = "show", "deploy", "manage", "anyone", "embedder", "self"

# THE list: every operation owd answers, in behaviour.md's order, with the level it needs.
# An operation writes unless its name starts with one of READ_PREFIXES (Describe, List, Get).
OPERATIONS = [
    ("DescribeDeployments", SHOW),
    ("CreateDeployment", DEPLOY),
    ("DescribeCommands", SHOW),
    ("AcknowledgeCommand", MANAGE),
    ("CompleteCommand", MANAGE),
    # Section 14: the agent protocol.
    ("PollCommands", MANAGE),
    ("GetCommandLog", SHOW),
    ("CreateStack", ANYONE),
    ("DescribeStacks", SHOW),
    ("CreateLayer", MANAGE),
    ("DescribeLayers", SHOW),
    ("CreateApp", MANAGE),
    ("DescribeApps", SHOW),
    ("UpdateApp", DEPLOY),
    ("CreateInstance", MANAGE),
    ("StartInstance", MANAGE),
    ("StopInstance", MANAGE),
    ("DescribeInstances", SHOW),
    ("CreateUserProfile", EMBEDDER),
    ("DescribeUserProfiles", EMBEDDER),
    ("SetPermission", MANAGE),
    ("DescribePermissions", MANAGE),
    # Section 12: stacks, layers, apps and tags (the levels of the model's "Required
    # Permissions"; manage where it names none and the operation changes a stack; CloneStack
    # names none and copies the source's whole configuration: manage on the source).
    ("UpdateStack", MANAGE),
    ("DeleteStack", MANAGE),
    ("CloneStack", MANAGE),
    ("DescribeStackSummary", SHOW),
    ("DescribeStackProvisioningParameters", SHOW),
    ("UpdateLayer", MANAGE),
    ("DeleteLayer", MANAGE),
    ("DeleteApp", MANAGE),
    ("TagResource", MANAGE),
    ("UntagResource", MANAGE),
    ("ListTags", SHOW),
    # Section 12: instances, stacks' instances, user profiles, the catalog (levels: the
    # model's "Required Permissions").
    ("UpdateInstance", MANAGE),
    ("DeleteInstance", MANAGE),
    ("RebootInstance", MANAGE),
    ("RegisterInstance", MANAGE),
    ("DeregisterInstance", MANAGE),
    ("AssignInstance", MANAGE),
    ("UnassignInstance", MANAGE),
    ("GetHostnameSuggestion", MANAGE),
    ("StartStack", MANAGE),
    ("StopStack", MANAGE),
    ("UpdateUserProfile", EMBEDDER),
    ("DeleteUserProfile", EMBEDDER),
    ("DescribeMyUserProfile", SELF),
    ("UpdateMyUserProfile", SELF),
    ("DescribeOperatingSystems", ANYONE),
    ("DescribeAgentVersions", SHOW),
    ("DescribeServiceErrors", SHOW),
]

# owd's own operations (the agents' private channel of AWS, behaviour.md section 5).
OWD_OPERATIONS = {
    "AcknowledgeCommand": {"type": "structure", "required": ["CommandId"],
                           "members": {"CommandId": {"shape": "String"}}},
    "CompleteCommand": {"type": "structure", "required": ["CommandId", "Status"],
                        "members": {"CommandId": {"shape": "String"},
                                    "Status": {"shape": "OwdCommandResult"},
                                    "ExitCode": {"shape": "Integer"},
                                    "LogUrl": {"shape": "String"},
                                    "Log": {"shape": "String"}}},
    "PollCommands": {"type": "structure", "required": ["InstanceId"],
                     "members": {"InstanceId": {"shape": "String"},
                                 "WaitTimeSeconds": {"shape": "Integer"}}},
    "GetCommandLog": {"type": "structure", "required": ["CommandId"],
                      "members": {"CommandId": {"shape": "String"}}},
}
# The answers of owd's own operations that answer more than {} (SDKs parse them by these).
OWD_OUTPUT_SHAPES = {
    "PollCommandsResult": {"type": "structure", "members": {"Commands": {"shape": "OwdAgentCommands"},
                                                            "SecretsWithheld": {"shape": "String"}}},
    "OwdAgentCommands": {"type": "list", "member": {"shape": "OwdAgentCommand"}},
    "OwdAgentCommand": {"type": "structure", "members": {
        "CommandId": {"shape": "String"}, "DeploymentId": {"shape": "String"}, "Type": {"shape": "String"},
        "Args": {"shape": "DeploymentCommandArgs"}, "AppId": {"shape": "String"},
        "CustomJson": {"shape": "String"}, "App": {"shape": "App"}}},
    "GetCommandLogResult": {"type": "structure", "members": {"Log": {"shape": "String"}}},
}
# What owd's own operations answer (docs); the others answer {}.
OWD_OUTPUTS = {
    "PollCommands": '`{"Commands": [...]}`: the instance\'s pending, not yet acknowledged commands, '
                    'oldest first, each with `CommandId`, `DeploymentId`, `Type`, `Args`, `AppId`, '
                    '`CustomJson` and, for app commands, `App` (the app as deployed, secrets included); '
                    'through `owd serve` over plain HTTP from another machine, the secrets are '
                    '`*****FILTERED*****` and `SecretsWithheld` says why',
    "GetCommandLog": '`{"Log": "..."}` (no `Log` when the command has none stored)',
}
OWD_SHAPES = {"OwdCommandResult": {"type": "string", "enum": ["successful", "failed", "skipped"]}}
# Every operation may answer these (owd adds AccessDeniedException to AWS's list).
ERRORS = ["ValidationException", "ResourceNotFoundException", "AccessDeniedException"]
# Resources whose describe call returns what the create call was given: the output
# members a stored create request may contribute; and every record `owd import` reads
# (Deployment, Command, Permission: the members a file's record may hold).
RESOURCE_SHAPES = {"Stack": "Stack", "Layer": "Layer", "App": "App", "Instance": "Instance",
                   "UserProfile": "UserProfile", "Deployment": "Deployment", "Command": "Command",
                   "Permission": "Permission"}

# Examples (docs, fuzz seeds). By default an example is the request's required members,
# filled from MEMBER_VALUES (by member name) or from its type; $STACK ... $USER stand for
# the IDs of the fixture every example runs against (fuzz/fuzz_owd.c makes the same one).
PLACEHOLDERS = {"StackId": "$STACK", "LayerId": "$LAYER", "AppId": "$APP", "InstanceId": "$INSTANCE",
                "DeploymentId": "$DEPLOYMENT", "CommandId": "$COMMAND", "IamUserArn": "$USER"}
MEMBER_VALUES = {
    "Region": "us-east-1", "Name": "shop", "Shortname": "shop", "InstanceType": "t2.micro",
    "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
    "DefaultInstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role",
    # The fixture's stack, made by the embedding program (account 000000000000) in us-east-1.
    "ResourceArn": "arn:aws:opsworks:us-east-1:000000000000:stack/$STACK/",
}
# Where the default would not show the operation well (or would fail on the fixture).
EXAMPLES = {
    "DescribeDeployments": {"StackId": "$STACK"},
    "CreateDeployment": {"StackId": "$STACK", "AppId": "$APP", "Command": {"Name": "deploy"},
                         "Comment": "release 1.2"},
    "DescribeCommands": {"DeploymentId": "$DEPLOYMENT"},
    "CompleteCommand": {"CommandId": "$COMMAND", "Status": "successful", "ExitCode": 0,
                        "Log": "deployed shop 1.2\n"},
    "PollCommands": {"InstanceId": "$REGISTERED"},
    "CreateLayer": {"StackId": "$STACK", "Type": "custom", "Name": "db", "Shortname": "db"},
    "CreateApp": {"StackId": "$STACK", "Name": "api", "Type": "other"},
    "UpdateApp": {"AppId": "$APP", "Name": "shop-v2"},
    "CreateUserProfile": {"IamUserArn": "arn:aws:iam::123456789012:user/carol"},
    "SetPermission": {"StackId": "$STACK", "IamUserArn": "$USER", "Level": "deploy"},
    "DescribePermissions": {"StackId": "$STACK"},
    "UpdateInstance": {"InstanceId": "$INSTANCE", "InstanceType": "t3.small", "Hostname": "web-main"},
    "RegisterInstance": {"StackId": "$STACK", "Hostname": "build-box", "PrivateIp": "10.0.0.7"},
    "AssignInstance": {"InstanceId": "$REGISTERED", "LayerIds": ["$LAYER"]},
    "UnassignInstance": {"InstanceId": "$REGISTERED"},
    "UpdateUserProfile": {"IamUserArn": "$USER", "SshUsername": "bob-ops"},
    "UpdateMyUserProfile": {"SshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample bob@laptop"},
    "DescribeAgentVersions": {"StackId": "$STACK"},
    "DescribeServiceErrors": {"StackId": "$STACK"},
    "UpdateStack": {"StackId": "$STACK", "Name": "shop-eu", "DefaultOs": "Ubuntu 22.04 LTS"},
    "CloneStack": {"SourceStackId": "$STACK", "Name": "shop-staging", "CloneAppIds": ["$APP"],
                   "ServiceRoleArn": "arn:aws:iam::123456789012:role/aws-opsworks-service-role"},
    "UpdateLayer": {"LayerId": "$LAYER", "Name": "web servers", "Packages": ["nginx"]},
    "TagResource": {"ResourceArn": MEMBER_VALUES["ResourceArn"], "Tags": {"team": "payments"}},
    "UntagResource": {"ResourceArn": MEMBER_VALUES["ResourceArn"], "TagKeys": ["team"]},
}
# Examples of docs/operations.md that need a resource the fixture lacks: the calls made
# first, each giving the ID that replaces the example's member of the same name (the
# fuzz seeds keep the fixture's, whose deletion is refused: a seed all the same).
DOC_SETUP = {
    "DeleteStack": [("CreateStack", {"Name": "old", "Region": "us-east-1",
                                     "ServiceRoleArn": MEMBER_VALUES["ServiceRoleArn"],
                                     "DefaultInstanceProfileArn": MEMBER_VALUES["DefaultInstanceProfileArn"]},
                     "StackId")],
    "DeleteLayer": [("CreateLayer", {"StackId": "$STACK", "Type": "custom", "Name": "old", "Shortname": "old"},
                     "LayerId")],
}
# Calls an example needs first (on the fixture); "$NAME": member stores that member of the
# answer under $NAME.
SETUP = {
    "PollCommands": [("RegisterInstance", {"StackId": "$STACK", "Hostname": "build-box"},
                      {"$REGISTERED": "InstanceId"}),
                     ("CreateDeployment", {"StackId": "$STACK", "InstanceIds": ["$REGISTERED"],
                                           "Command": {"Name": "configure"}}, {})],
    "DeleteInstance": [("StopInstance", {"InstanceId": "$INSTANCE"}, {})],
    "AssignInstance": [("RegisterInstance", {"StackId": "$STACK", "Hostname": "build-box"},
                        {"$REGISTERED": "InstanceId"})],
    "UnassignInstance": [("RegisterInstance", {"StackId": "$STACK", "Hostname": "build-box"},
                          {"$REGISTERED": "InstanceId"}),
                         ("AssignInstance", {"InstanceId": "$REGISTERED", "LayerIds": ["$LAYER"]}, {})],
}
# What docs/operations.md says of an operation beyond its table row (owd's decisions where
# behaviour.md leaves them to owd).
NOTES = {
    "CreateInstance": (
        "Defaults (behaviour.md section 11): `Os` the stack's `DefaultOs` (`Amazon Linux 2` when it has "
        "none), `Architecture` `x86_64`, `RootDeviceType` the stack's `DefaultRootDeviceType` "
        "(`instance-store`), `InstallUpdatesOnBoot` true, `EbsOptimized` false, `AgentVersion` `INHERIT`, "
        "`SshKeyName`/`AvailabilityZone`/`SubnetId`/`InstanceProfileArn` the stack's defaults when it has "
        "them, `InfrastructureClass` `ec2`, `Arn` `arn:aws:opsworks:<region>:<account>:instance/<id>`. "
        "Hostname, when not given: a word followed by the smallest integer >= 1 that no instance of the "
        "stack has as its Hostname. The word: with the stack's `HostnameTheme` `Layer_Dependent` (the "
        "default), the first layer's `Shortname` (`php-app1`, `php-app2`, ...; `instance` for an "
        "instance without layers); with any other theme, the theme's name in lowercase with `-` for `_` "
        "(`Baked_Goods`: `baked-goods1`, `baked-goods2`, ...). Given values always win. Every layer must "
        "be of the instance's stack (`Please only provide layer IDs from the same stack`)."),
    "GetHostnameSuggestion": (
        "The Hostname that CreateInstance would give, now, to an instance whose first layer is this one "
        "(the scheme is under CreateInstance). Nothing is reserved: two suggestions in a row are the same."),
    "RegisterInstance": (
        "The instance is `online` at once, without layers (AssignInstance adds them), with "
        "`InfrastructureClass` `on-premises` and `RegisteredBy` the caller's ARN (absent for the "
        "embedding program). It takes CreateInstance's defaults except EC2's own (`RootDeviceType`, "
        "`EbsOptimized`, `SshKeyName`, `AvailabilityZone`, `SubnetId`, `InstanceProfileArn`)."),
    "StopInstance": (
        "Each `pending` command of the instance becomes `failed` (`CompletedAt` now, no `ExitCode`) in the "
        "same transaction, and its deployment rolls up (behaviour.md section 5). So do StopStack, "
        "DeleteInstance and DeregisterInstance."),
    "StartStack": "Starts every instance the stack created (CreateInstance); registered machines are left alone.",
    "StopStack": (
        "Stops every instance the stack created (CreateInstance), failing their pending commands as "
        "StopInstance does; registered machines are left alone."),
    "DeleteInstance": (
        "Refused while the instance is `online`. Its deployments and commands stay, visible by `StackId`, "
        "`DeploymentIds`, `CommandIds` and with no parameter; `DescribeCommands` naming its `InstanceId` "
        "is `ResourceNotFoundException`."),
    "DeregisterInstance": "Any instance in any state leaves the stack, its history staying as for DeleteInstance.",
    "AssignInstance": "Registered instances only; the layers are added to those the instance has.",
    "UnassignInstance": "Registered instances only; the instance leaves every layer and stays in the stack.",
    "RebootInstance": "Needs an `online` instance, which stays `online` (owd has no machine to reboot).",
    "DeleteUserProfile": "Removes the user's permissions on every stack with the profile.",
    "DescribeMyUserProfile": (
        "The caller's own profile (a store opened without an identity has none: `ValidationException`); "
        "a profile without `AllowSelfManagement` is refused, as AWS did."),
    "UpdateMyUserProfile": "As DescribeMyUserProfile: the caller's own profile, with self-management allowed.",
    "DescribeAgentVersions": (
        "owd's agent is the one agent version (`owd-1`) for Chef 11.10, 12 and 12.2; a stack's answer is "
        "for its `ConfigurationManager` (Chef 12 when it has none). Needs a `StackId` or a "
        "`ConfigurationManager`."),
    "DescribeServiceErrors": "Always empty: owd runs no EC2 machinery that could fail.",
}
# Examples that run as the fixture's user ($USER) rather than as the embedding program.
AS_USER = {"DescribeMyUserProfile", "UpdateMyUserProfile"}

SWIFT_KEYWORDS = {"default", "protocol", "in", "is", "as", "class", "struct", "enum", "case", "func",
                  "import", "init", "let", "var", "return", "self", "super", "operator", "extension",
                  "static", "where", "while", "repeat", "switch", "internal", "private", "public",
                  "subscript", "typealias", "true", "false", "nil", "value"}


# Operations that only read (answered from the cache after a sync); every other one writes.
READ_PREFIXES = ("Describe", "List", "Get")


def writes(name):
    return not name.startswith(READ_PREFIXES)


def unsupported(model):
    """The model's operations owd does not answer: each is UnsupportedOperationException
    (behaviour.md section 12: owd manages no AWS resources)."""
    served = {o for o, _ in OPERATIONS}
    return sorted(o for o in model.raw["operations"] if o not in served)


def lower_camel(name):
    m = re.match(r"^[A-Z]+(?=[A-Z][a-z]|$)|^[A-Z]", name)
    head = m.group(0)
    return head.lower() + name[len(head):]


def snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def swift_field(name):
    f = lower_camel(name)
    return "`%s`" % f if f in SWIFT_KEYWORDS else f


class Model:
    def __init__(self, raw):
        self.raw = raw
        self.shapes = dict(raw["shapes"])
        self.shapes.update(OWD_SHAPES)
        for name in [o for o, _ in OPERATIONS]:
            if name not in OWD_OPERATIONS and name not in raw["operations"]:
                raise SystemExit("%s is not an operation of the model" % name)

    def input(self, op):
        if op in OWD_OPERATIONS:
            return op + "Request", OWD_OPERATIONS[op]
        if "input" not in self.raw["operations"][op]:
            # Operations without an input shape (DescribeMyUserProfile, ...) take {}.
            return op + "Request", {"type": "structure", "members": {}}
        name = self.raw["operations"][op]["input"]["shape"]
        return name, self.shapes[name]

    def output(self, op):
        if op in OWD_OPERATIONS:
            return None, None
        o = self.raw["operations"][op].get("output")
        if not o:
            return None, None
        return o["shape"], self.shapes[o["shape"]]


def load_model():
    with gzip.open(os.path.join(MODEL_DIR, "service-2.json.gz")) as f:
        return json.load(f)


# --- outputs are collected, then written or compared -----------------------------------------

class Outputs:
    def __init__(self):
        self.files = {}

    def add(self, path, text):
        self.files[os.path.join(ROOT, path)] = text

    def write(self):
        for path, text in sorted(self.files.items()):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote", os.path.relpath(path, ROOT))

    def check(self, owned_dirs):
        stale = []
        for path, text in sorted(self.files.items()):
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() == text:
                        continue
            except FileNotFoundError:
                pass
            stale.append(os.path.relpath(path, ROOT))
        # Generated files of a folder the generator owns that it would no longer write.
        for folder, prefix in owned_dirs:
            full = os.path.join(ROOT, folder)
            for name in sorted(os.listdir(full)):
                p = os.path.join(full, name)
                if prefix(name) and p not in self.files:
                    stale.append(os.path.relpath(p, ROOT) + " (no longer generated)")
        return stale


# --- Swift ---------------------------------------------------------------------------------------

def swift_shape(shapes, name, member_name, depth=0):
    s = shapes[name]
    t = s["type"]
    if t == "string":
        limit = {"CustomJson": "Limits.customJson", "Log": "Limits.log"}.get(member_name, "Limits.string")
        enum = s.get("enum")
        if enum:
            return '.string(max: %s, values: [%s])' % (limit, ", ".join(json.dumps(v) for v in enum))
        return ".string(max: %s, values: nil)" % limit
    if t == "integer":
        return ".integer"
    if t == "boolean":
        return ".boolean"
    if t == "list":
        return ".list(%s)" % swift_shape(shapes, s["member"]["shape"], member_name, depth + 1)
    if t == "map":
        return ".map(%s)" % swift_shape(shapes, s["value"]["shape"], member_name, depth + 1)
    if t == "structure":
        return swift_structure(shapes, s, depth + 1)
    raise SystemExit("unsupported shape type %s (%s)" % (t, name))


def swift_structure(shapes, s, depth):
    req = set(s.get("required", []))
    pad = "    " * (depth + 2)
    members = []
    for mname, m in s["members"].items():
        members.append('%sMember("%s", %s%s)' % (
            pad, mname, swift_shape(shapes, m["shape"], mname, depth),
            ", required: true" if mname in req else ""))
    if not members:
        return ".structure([])"
    return ".structure([\n%s,\n%s])" % (",\n".join(members), "    " * (depth + 1))


class SwiftTypes:
    """Swift types and decoders for request shapes; nested structures become Model.<Shape>."""

    def __init__(self, shapes):
        self.shapes = shapes
        self.structs = {}   # shape name -> code, in first-use order

    def type_and_decoder(self, name):
        s = self.shapes[name]
        t = s["type"]
        if t == "string":
            return "String", "Decode.string"
        if t == "integer":
            return "Int64", "Decode.integer"
        if t == "boolean":
            return "Bool", "Decode.boolean"
        if t == "list":
            et, ed = self.type_and_decoder(s["member"]["shape"])
            if et == "String":
                return "[String]", "Decode.strings"
            return "[%s]" % et, "{ try Decode.list($0, %s) }" % ed
        if t == "map":
            et, ed = self.type_and_decoder(s["value"]["shape"])
            return "[(String, %s)]" % et, "{ try Decode.map($0, %s) }" % ed
        if t == "structure":
            self.struct(name, s)
            return "Model.%s" % name, "Model.%s.init" % name
        raise SystemExit("unsupported shape type %s (%s)" % (t, name))

    def fields(self, s):
        req = set(s.get("required", []))
        out = []
        for mname, m in s["members"].items():
            t, d = self.type_and_decoder(m["shape"])
            out.append((mname, swift_field(mname), t, d, mname in req))
        return out

    def struct(self, name, s):
        if name in self.structs:
            return
        self.structs[name] = None   # reserved: recursion
        self.structs[name] = self.body("struct %s" % name, s, keep_value=False, indent="    ")

    def body(self, header, s, keep_value, indent):
        fields = self.fields(s)
        lines = ["%s%s {" % (indent, header)]
        if keep_value:
            lines.append("%s    /// The validated request, members in the model's order." % indent)
            lines.append("%s    let value: Value" % indent)
        for mname, f, t, _, required in fields:
            lines.append("%s    let %s: %s%s" % (indent, f, t, "" if required else "?"))
        lines.append("")
        lines.append("%s    init(_ v: Value) throws {" % indent)
        if keep_value:
            lines.append("%s        value = v" % indent)
        for mname, f, t, d, required in fields:
            lines.append('%s        %s = try v.%s("%s", %s)' % (indent, f, "required" if required else "optional", mname, d))
        lines.append("%s    }" % indent)
        lines.append("%s}" % indent)
        return "\n".join(lines)


def generate_swift(model, out):
    shapes = model.shapes
    types = SwiftTypes(shapes)
    level = {SHOW: ".stack(.show)", DEPLOY: ".stack(.deploy)", MANAGE: ".stack(.manage)",
             ANYONE: ".anyone", EMBEDDER: ".embedder", SELF: ".selfManaged"}
    o = ["// Generated by tools/gen_shapes.py from botocore 1.39.17's OpsWorks model and owd's own",
         "// operations. Do not edit: change OPERATIONS there and run it.",
         "import CJansson",
         "",
         "/// Every operation owd answers, by AWS name, in behaviour.md's order.",
         "public enum Operation: String, CaseIterable, Sendable {"]
    for name, _ in OPERATIONS:
        o.append('    case %s = "%s"' % (lower_camel(name), name))
    o += ["}", "", "extension Operation {",
          "    /// The model's other operations (behaviour.md section 12): UnsupportedOperationException.",
          "    static let unsupported: Set<String> = ["]
    o += ['        "%s",' % n for n in unsupported(model)]
    o += ["    ]", "",
          "    /// What the caller needs (behaviour.md section 7).",
          "    var permission: Permission {",
          "        switch self {"]
    for name, lvl in OPERATIONS:
        o.append("        case .%s: return %s" % (lower_camel(name), level[lvl]))
    o += ["        }", "    }", "",
          "    /// Whether the operation changes the store (reads are answered from the cache).",
          "    public var writes: Bool {",
          "        switch self {",
          "        case %s: return true" % ", ".join("." + lower_camel(n) for n, _ in OPERATIONS if writes(n)),
          "        case %s: return false" % ", ".join("." + lower_camel(n) for n, _ in OPERATIONS if not writes(n)),
          "        }", "    }", "",
          "    /// The model's output shape (nil: owd's own operations, which answer {}).",
          "    public var responseShape: String? {",
          "        switch self {"]
    for name, _ in OPERATIONS:
        out_name, _ = model.output(name)
        o.append("        case .%s: return %s" % (lower_camel(name), json.dumps(out_name) if out_name else "nil"))
    o += ["        }", "    }", "",
          "    /// The request's shape, which the validator walks.",
          "    var requestShape: Shape {",
          "        switch self {"]
    for name, _ in OPERATIONS:
        o.append("        case .%s: return OperationShapes.%s" % (lower_camel(name), lower_camel(name)))
    o += ["        }", "    }", "}", "",
          "extension OperationShapes {"]
    for name, _ in OPERATIONS:
        _, s = model.input(name)
        o.append("    static let %s: Shape = %s" % (lower_camel(name), swift_structure(shapes, s, 0)))
    o += ["",
          "    /// The members each resource's describe call may return, by output shape name.",
          "    static let outputMembers: [String: Set<String>] = ["]
    for key, shape in RESOURCE_SHAPES.items():
        names = ", ".join(json.dumps(m) for m in shapes[shape]["members"])
        o.append('        "%s": [%s],' % (key, names))
    o += ["    ]", "",
          "    /// The describe output shapes of the records `owd import` reads (type checks).",
          "    static let outputShapes: [String: Shape] = ["]
    for key, shape in RESOURCE_SHAPES.items():
        # Nothing is required of an answer (AWS answered "SslConfiguration": {}).
        o.append('        "%s": %s,' % (key, swift_structure(shapes, shapes[shape], 1).replace(", required: true", "")))
    o += ["    ]", "",
          "    /// DescribeStackSummary's InstancesCount members (one per instance status).",
          "    static let instancesCountMembers: [String] = [%s]" % ", ".join(
              json.dumps(m) for m in shapes["InstancesCount"]["members"]),
          "}", ""]
    # Typed requests.
    requests = []
    for name, _ in OPERATIONS:
        _, s = model.input(name)
        requests.append("/// %s's request, validated." % name)
        requests.append(types.body("struct %sRequest" % name, s, keep_value=True, indent=""))
        requests.append("")
    o += requests
    o.append("/// The request members' structures, by the model's shape names.")
    o.append("enum Model {")
    o.append("\n\n".join(code for code in types.structs.values()))
    o += ["}", "",
          "extension Store {",
          "    /// The one dispatch: the typed request to its handler, with the authorizer.",
          "    func dispatch(_ operation: Operation, _ request: Value, _ access: Access) throws -> UnsafeMutablePointer<json_t> {",
          "        switch operation {"]
    for name, _ in OPERATIONS:
        o.append("        case .%s: return try %s(%sRequest(request), access)" % (lower_camel(name), lower_camel(name), name))
    o += ["        }", "    }", "}"]
    out.add("Sources/OwdCore/Operations.generated.swift", "\n".join(o) + "\n")


# --- shapes as JSON (bad-input matrix, fuzzers) -----------------------------------------------------

def json_shape(shapes, name, member_name):
    s = shapes[name]
    t = s["type"]
    if t == "string":
        return {"kind": "string", "max": {"CustomJson": 122880, "Log": 8 * 1024 * 1024}.get(member_name, 65536),
                "values": s.get("enum")}
    if t in ("integer", "boolean"):
        return {"kind": t}
    if t == "list":
        return {"kind": "list", "element": json_shape(shapes, s["member"]["shape"], member_name)}
    if t == "map":
        return {"kind": "map", "element": json_shape(shapes, s["value"]["shape"], member_name)}
    return json_structure(shapes, s)


def json_structure(shapes, s):
    req = set(s.get("required", []))
    return {"kind": "structure", "members": [
        {"name": m, "required": m in req, "shape": json_shape(shapes, v["shape"], m)}
        for m, v in s["members"].items()]}


def generate_shapes_json(model, out):
    table = {name: json_structure(model.shapes, model.input(name)[1]) for name, _ in OPERATIONS}
    out.add("tests/hardening/shapes.json", json.dumps(table, indent=1, sort_keys=True) + "\n")


# --- examples, fuzz dictionary and seeds --------------------------------------------------------------

def default_value(shapes, shape_name, member_name):
    if member_name in PLACEHOLDERS:
        return PLACEHOLDERS[member_name]
    if member_name.endswith("Ids") and member_name[:-1] in PLACEHOLDERS:
        return [PLACEHOLDERS[member_name[:-1]]]
    if member_name.endswith("Arns") and member_name[:-1] in PLACEHOLDERS:
        return [PLACEHOLDERS[member_name[:-1]]]
    if member_name in MEMBER_VALUES:
        return MEMBER_VALUES[member_name]
    s = shapes[shape_name]
    t = s["type"]
    if t == "string":
        return s["enum"][0] if s.get("enum") else "example"
    if t == "integer":
        return 1
    if t == "boolean":
        return True
    if t == "list":
        return [default_value(shapes, s["member"]["shape"], member_name)]
    if t == "map":
        return {}
    return {m: default_value(shapes, v["shape"], m) for m, v in s["members"].items() if m in s.get("required", [])}


def example(model, name):
    if name in EXAMPLES:
        return EXAMPLES[name]
    _, s = model.input(name)
    return {m: default_value(model.shapes, v["shape"], m)
            for m, v in s["members"].items() if m in s.get("required", [])}


def generate_fuzz(model, out):
    # SetPermission's Level is a plain string in the model; owd knows these (section 7).
    words = {" as-user", "deny", "iam_only", "show", "deploy", "manage"} | set(PLACEHOLDERS.values())

    def walk(shape):
        if shape["kind"] == "structure":
            for m in shape["members"]:
                words.add(m["name"])
                walk(m["shape"])
        elif shape["kind"] in ("list", "map"):
            walk(shape["element"])
        elif shape["kind"] == "string" and shape["values"]:
            words.update(shape["values"])

    for name, _ in OPERATIONS:
        words.add(name)
        walk(json_structure(model.shapes, model.input(name)[1]))
    # The model's other operations: the fuzzer reaches UnsupportedOperationException too.
    words.update(unsupported(model))
    lines = ["# libFuzzer dictionary: operation names (the unsupported ones too), member names, enum values and the fixture's",
             "# placeholders. Generated by tools/gen_shapes.py from the operation table. Do not edit."]
    lines += [json.dumps(w) for w in sorted(words)]
    out.add("fuzz/owd.dict", "\n".join(lines) + "\n")
    for name, _ in OPERATIONS:
        # Beside the hand-written seeds (richer variants), one per operation of the table.
        out.add("fuzz/corpus/seed/table-%s" % name, name + "\n" + json.dumps(example(model, name), separators=(",", ":")))


# --- Python ----------------------------------------------------------------------------------------------

def generate_python_operations(model, out):
    o = ['"""The operations owd answers, in behaviour.md\'s order. Generated by tools/gen_shapes.py',
         'from the operation table. Do not edit."""', "",
         "# Every operation by AWS name; each becomes a snake_case method of Client.",
         "OPERATIONS = ("]
    o += ['    "%s",' % n for n, _ in OPERATIONS]
    o += [")", "", "# The model's other operations: methods that raise UnsupportedOperationException.",
          "UNSUPPORTED_OPERATIONS = ("]
    o += ['    "%s",' % n for n in unsupported(model)]
    o += [")", "", "# owd's own operations (behaviour.md section 5): not in AWS's model, they answer {}.",
          "OWD_OPERATIONS = frozenset({%s})" % ", ".join('"%s"' % n for n in OWD_OPERATIONS), "",
          "# The permission level each needs (behaviour.md section 7).",
          "PERMISSIONS = {"]
    o += ['    "%s": "%s",' % (n, lvl) for n, lvl in OPERATIONS]
    o += ["}", ""]
    out.add("bindings/python/opsworks_deployments/_operations.py", "\n".join(o))


class PyTypes:
    def __init__(self, shapes):
        self.shapes = shapes
        self.defs = {}

    def type(self, name, top_input=False):
        s = self.shapes[name]
        t = s["type"]
        if t == "string":
            if s.get("enum"):
                return "Literal[%s]" % ", ".join(json.dumps(v) for v in s["enum"])
            return "str"
        if t in ("integer", "long"):
            return "int"
        if t == "boolean":
            return "bool"
        if t in ("double", "float"):
            return "float"
        if t == "timestamp":
            return "str"
        if t == "list":
            inner = self.type(s["member"]["shape"])
            return ("Sequence[%s]" if top_input else "List[%s]") % inner
        if t == "map":
            inner = self.type(s["value"]["shape"])
            return ("Mapping[str, %s]" if top_input else "Dict[str, %s]") % inner
        if t == "structure":
            self.typed_dict(name, s)
            return "%sTypeDef" % name
        raise SystemExit("unsupported shape type %s (%s)" % (t, name))

    def typed_dict(self, name, s, extra=()):
        key = "%sTypeDef" % name
        if key in self.defs:
            return key
        self.defs[key] = None
        req = set(s.get("required", []))
        members = [(m, self.type(v["shape"]), m in req) for m, v in s["members"].items()]
        members += list(extra)
        required = [(m, t) for m, t, r in members if r]
        optional = [(m, t) for m, t, r in members if not r]
        code = []
        if required:
            code.append("class _%sRequired(TypedDict):" % key)
            code += ["    %s: %s" % (m, t) for m, t in required]
            code.append("")
            code.append("class %s(_%sRequired, total=False):" % (key, key))
        else:
            code.append("class %s(TypedDict, total=False):" % key)
        code += ["    %s: %s" % (m, t) for m, t in optional] or ["    pass"]
        self.defs[key] = "\n".join(code)
        return key


def generate_python_stub(model, out):
    types = PyTypes(model.shapes)
    types.defs["ResponseMetadataTypeDef"] = "\n".join([
        "class ResponseMetadataTypeDef(TypedDict):",
        "    RequestId: str",
        "    HTTPStatusCode: int",
        "    HTTPHeaders: Dict[str, str]",
        "    RetryAttempts: int"])
    meta = [("ResponseMetadata", "ResponseMetadataTypeDef", False)]
    methods = []
    for name, _ in OPERATIONS:
        _, s = model.input(name)
        req = set(s.get("required", []))
        args = []
        for m, v in s["members"].items():
            t = types.type(v["shape"], top_input=True)
            args.append("%s: %s%s" % (m, t, "" if m in req else " = ..."))
        out_name, out_shape = model.output(name)
        if out_name is None:
            out_name, out_shape = name + "Result", {"type": "structure", "members": {}}
        result = types.typed_dict(out_name, out_shape, extra=meta)
        sig = ", ".join(["self", "*"] + args) if args else "self"
        methods.append("    def %s(%s) -> %s:\n        \"\"\"OpsWorks %s (needs %s).\"\"\"\n        ..." % (
            snake_case(name), sig, result, name, dict(OPERATIONS)[name]))
    for name in unsupported(model):
        methods.append("    def %s(self, **kwargs: Any) -> NoReturn:\n        \"\"\"OpsWorks %s: raises "
                       "UnsupportedOperationException (owd manages no AWS resources).\"\"\"\n        ..." % (
                           snake_case(name), name))
    o = ['"""Type information for opsworks_deployments.client (PEP 561). Generated by',
         'tools/gen_shapes.py from the operation table and botocore 1.39.17\'s model. Do not edit."""',
         "import sys",
         "from typing import Any, Callable, Dict, List, Mapping, NoReturn, Optional, Sequence, Type, Union",
         "",
         "if sys.version_info >= (3, 8):",
         "    from typing import Literal, TypedDict",
         "else:",
         "    from typing_extensions import Literal, TypedDict",
         "",
         "from . import exceptions as _exceptions",
         "from .waiter import Waiter",
         "",
         "OPERATIONS: tuple",
         "",
         "def snake_case(operation: str) -> str: ...",
         ""]
    o += [code + "\n" for code in types.defs.values()]
    o += ["",
          "class Client:",
          '    """A boto3-compatible OpsWorks client on an owd store."""',
          "    exceptions: Any",
          "    waiter_names: List[str]",
          "    path: Optional[str]",
          "    iam_user_arn: Optional[str]",
          "    def __init__(self, path: Optional[str] = ..., *, iam_user_arn: Optional[str] = ...,",
          "                 clock: Optional[Callable[[], Union[int, float]]] = ..., busy_timeout_ms: int = ...,",
          "                 durability: Literal[\"full\", \"normal\", \"off\"] = ...) -> None: ...",
          "    def as_user(self, iam_user_arn: Optional[str]) -> \"Client\": ...",
          "    def close(self) -> None: ...",
          "    @property",
          "    def closed(self) -> bool: ...",
          "    def __enter__(self) -> \"Client\": ...",
          "    def __exit__(self, *exc_info: Any) -> None: ...",
          "    def call(self, operation: str, request: Optional[Mapping[str, Any]] = ...) -> Dict[str, Any]: ...",
          "    def call_text(self, operation: str, request: Optional[Mapping[str, Any]] = ...) -> bytes: ...",
          "    def call_json_text(self, operation: str, text: bytes) -> bytes: ...",
          "    def get_waiter(self, waiter_name: str) -> Waiter: ...",
          "    def can_paginate(self, operation_name: str) -> bool: ...",
          ""]
    o.append("\n\n".join(methods))
    out.add("bindings/python/opsworks_deployments/client.pyi", "\n".join(o) + "\n")


def strip_docs(node):
    if isinstance(node, dict):
        return {k: strip_docs(v) for k, v in node.items() if k not in ("documentation", "documentationUrl")}
    if isinstance(node, list):
        return [strip_docs(v) for v in node]
    return node


def generate_python_model(model, out):
    """The OpsWorks operations owd implements with every shape they reach, for botocore's
    loader (botocore 1.40+ ships no OpsWorks model), plus owd's additions (sdk-extras)."""
    raw = model.raw
    shapes = raw["shapes"]
    keep = set()

    def reach(name):
        if name in keep:
            return
        keep.add(name)
        s = shapes[name]
        for m in s.get("members", {}).values():
            reach(m["shape"])
        for k in ("member", "key", "value"):
            if k in s:
                reach(s[k]["shape"])

    ops = {}
    # The unsupported ones too, so that a boto3 client has their methods and gets owd's
    # UnsupportedOperationException from them, as a Client does.
    for o in [o for o, _ in OPERATIONS] + unsupported(model):
        if o in OWD_OPERATIONS:
            continue
        op = raw["operations"][o]
        ops[o] = op
        for k in ("input", "output"):
            if k in op:
                reach(op[k]["shape"])
        for e in op.get("errors", []):
            reach(e["shape"])
    stripped = strip_docs({"version": raw.get("version", "2.0"), "metadata": raw["metadata"],
                           "operations": ops, "shapes": {k: shapes[k] for k in sorted(keep)}})
    base = "bindings/python/opsworks_deployments/data/opsworks/2013-02-18/"
    out.add(base + "service-2.json", json.dumps(stripped, indent=1, sort_keys=True) + "\n")
    with open(os.path.join(MODEL_DIR, "waiters-2.json")) as f:
        waiters = json.load(f)
    out.add(base + "waiters-2.json", json.dumps(
        {"version": waiters["version"],
         "waiters": {"DeploymentSuccessful": waiters["waiters"]["DeploymentSuccessful"]}},
        indent=1, sort_keys=True) + "\n")
    extra_ops, extra_shapes = {}, {e: {
        "exception": True, "members": {"message": {"shape": "String"}}, "type": "structure"}
        for e in ("AccessDeniedException", "UnsupportedOperationException")}
    for o in unsupported(model):
        extra_ops[o] = {"errors": [{"shape": "UnsupportedOperationException"}]}
    for o, _ in OPERATIONS:
        entry = {"errors": [{"shape": e} for e in ERRORS]}
        if o in OWD_OPERATIONS:
            entry.update({"http": {"method": "POST", "requestUri": "/"},
                          "input": {"shape": o + "Request"}, "name": o})
            extra_shapes[o + "Request"] = OWD_OPERATIONS[o]
            if o + "Result" in OWD_OUTPUT_SHAPES:
                entry["output"] = {"shape": o + "Result"}
        extra_ops[o] = entry
    extra_shapes.update(OWD_SHAPES)
    extra_shapes.update(OWD_OUTPUT_SHAPES)
    out.add(base + "service-2.sdk-extras.json", json.dumps(
        {"version": 1.0, "merge": {"operations": extra_ops, "shapes": extra_shapes}},
        indent=1, sort_keys=True) + "\n")


# --- docs/operations.md -----------------------------------------------------------------------------------

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
DOC_TIME = 1374778654   # 2013-07-25T18:57:34+00:00, the CreatedAt of AWS's example deployment


def display_uuid(n):
    """A fixed, valid-looking v4 UUID for the n-th ID an example shows."""
    h = hashlib.sha256(b"owd-docs-%d" % n).hexdigest()
    return "%s-%s-4%s-%s%s-%s" % (h[0:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) % 4], h[17:20], h[20:32])


class Library:
    """libowd through ctypes: fresh in-memory stores with a fixed clock."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.clock = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(lambda _c: DOC_TIME)
        self.lib.owd_call_json.argtypes = [ctypes.POINTER(ctypes.c_char_p if False else ctypes.c_void_p),
                                           ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        self.lib.owd_call_json.restype = ctypes.c_int
        self.lib.owd_store_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_void_p]
        self.lib.owd_store_close.argtypes = [ctypes.c_void_p]
        self.lib.owd_store_as.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p, ctypes.c_char_p]
        self.lib.owd_free.argtypes = [ctypes.c_void_p]

    def open(self):
        class Options(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint), ("iam_user_arn", ctypes.c_char_p),
                        ("clock", ctypes.c_void_p), ("clock_context", ctypes.c_void_p),
                        ("busy_timeout_ms", ctypes.c_int), ("durability", ctypes.c_int)]
        opts = Options(1, None, ctypes.cast(self.clock, ctypes.c_void_p), None, 5000, 0)
        store = ctypes.c_void_p()
        if self.lib.owd_store_open(ctypes.byref(store), b":memory:", ctypes.byref(opts)) != 0:
            raise SystemExit("owd_store_open failed")
        return store

    def acting_as(self, store, arn):
        out = ctypes.c_void_p()
        if self.lib.owd_store_as(ctypes.byref(out), store, arn.encode()) != 0:
            raise SystemExit("owd_store_as failed")
        return out

    def call(self, store, op, request):
        out = ctypes.c_void_p()
        rc = self.lib.owd_call_json(ctypes.byref(out), store, op.encode(), json.dumps(request).encode())
        text = ctypes.string_at(out.value).decode() if out.value else ""
        self.lib.owd_free(out)
        return rc, json.loads(text)


def fixture(lib):
    """The world every example runs in: a user profile, a stack with a layer, an app, an
    online instance, and a deployment with its command."""
    s = lib.open()

    def must(op, req):
        rc, body = lib.call(s, op, req)
        if rc != 0:
            raise SystemExit("fixture: %s failed: %s" % (op, body))
        return body

    ids = {"$USER": "arn:aws:iam::123456789012:user/bob"}
    must("CreateUserProfile", {"IamUserArn": ids["$USER"], "AllowSelfManagement": True})
    ids["$STACK"] = must("CreateStack", {k: MEMBER_VALUES[k] for k in ("Name", "Region", "ServiceRoleArn",
                                                                       "DefaultInstanceProfileArn")})["StackId"]
    ids["$LAYER"] = must("CreateLayer", {"StackId": ids["$STACK"], "Type": "custom", "Name": "web",
                                         "Shortname": "web"})["LayerId"]
    ids["$APP"] = must("CreateApp", {"StackId": ids["$STACK"], "Name": "shop", "Type": "other"})["AppId"]
    ids["$INSTANCE"] = must("CreateInstance", {"StackId": ids["$STACK"], "LayerIds": [ids["$LAYER"]],
                                               "InstanceType": "t2.micro", "Hostname": "web1"})["InstanceId"]
    must("StartInstance", {"InstanceId": ids["$INSTANCE"]})
    ids["$DEPLOYMENT"] = must("CreateDeployment", {"StackId": ids["$STACK"], "AppId": ids["$APP"],
                                                   "Command": {"Name": "deploy"}})["DeploymentId"]
    ids["$COMMAND"] = must("DescribeCommands", {"DeploymentId": ids["$DEPLOYMENT"]})["Commands"][0]["CommandId"]
    must("SetPermission", {"StackId": ids["$STACK"], "IamUserArn": ids["$USER"], "Level": "show"})
    return s, ids


def substitute(value, ids):
    if isinstance(value, str):
        if value in ids:
            return ids[value]
        for k in sorted(ids, key=len, reverse=True):   # inside an Arn
            value = value.replace(k, ids[k])
        return value
    if isinstance(value, list):
        return [substitute(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, ids) for k, v in value.items()}
    return value


def type_text(shapes, name, depth=0):
    s = shapes[name]
    t = s["type"]
    if t == "string":
        return "string (one of %s)" % ", ".join("`%s`" % v for v in s["enum"]) if s.get("enum") else "string"
    if t == "list":
        return "list of " + type_text(shapes, s["member"]["shape"], depth + 1)
    if t == "map":
        return "map of string to " + type_text(shapes, s["value"]["shape"], depth + 1)
    if t == "structure":
        return "structure `%s`" % name
    return t


def member_rows(shapes, s, prefix, rows, seen):
    req = set(s.get("required", []))
    for m, v in s["members"].items():
        path = prefix + m
        rows.append("| `%s` | %s | %s |" % (path, "yes" if m in req else "", type_text(shapes, v["shape"])))
        inner = shapes[v["shape"]]
        while inner["type"] in ("list", "map"):
            inner = shapes[inner["member" if inner["type"] == "list" else "value"]["shape"]]
        if inner["type"] == "structure" and v["shape"] not in seen and len(prefix) < 40:
            sep = "[]." if shapes[v["shape"]]["type"] == "list" else "." if shapes[v["shape"]]["type"] == "structure" else ".<key>."
            member_rows(shapes, inner, path + sep, rows, seen | {v["shape"]})


LEVEL_TEXT = {
    SHOW: "`show` on the stack the request concerns (describe calls without a stack list only what the caller may see)",
    DEPLOY: "`deploy` on the stack",
    MANAGE: "`manage` on the stack",
    ANYONE: "any caller",
    EMBEDDER: "the embedding program only (a store opened without an identity)",
    SELF: "an identified caller whose own user profile allows self-management (`AllowSelfManagement`)",
}


def generate_docs(model, lib, out):
    shapes = model.shapes
    o = ["# owd operations",
         "",
         "Generated by `tools/gen_shapes.py` from the operation table (botocore 1.39.17's OpsWorks",
         "model plus owd's own operations). Do not edit: `make test` checks that this file equals a",
         "fresh generation. The rules behind every operation are in [behaviour.md](behaviour.md).",
         "",
         "Every example ran, as written here, against a fresh in-memory store holding a user profile",
         "(`arn:aws:iam::123456789012:user/bob`, self-management allowed, `show` on the stack), a stack",
         "with a layer, an app, an online instance and one deployment, with the clock at",
         "2013-07-25T18:57:34+00:00; the `My*` examples run as bob, the others as the embedding program.",
         "IDs are replaced by fixed ones so that the file does not change between runs.",
         "",
         "Every operation may fail with `ValidationException` (a malformed request or a broken",
         "rule), `ResourceNotFoundException` (an ID that does not exist) and `AccessDeniedException`",
         "(the caller's permission level, behaviour.md section 7); owd's own library-level failures",
         "(`InvalidArgument`, `StoreBusy`, `StoreError`, ...) are in `include/owd.h`.",
         "",
         "| operation | permission | writes |",
         "| --- | --- | --- |"]
    for name, lvl in OPERATIONS:
        o.append("| [%s](#%s) | %s | %s |" % (name, name.lower(), lvl, "yes" if writes(name) else "no"))
    o += ["",
          "The model's other operations are not served: each answers `UnsupportedOperationException`",
          "(`OWD_EUNSUPPORTED` in C, `UnsupportedOperationException` in Python), naming the operation",
          "and saying that owd manages no AWS resources. They are methods of the Python `Client` and",
          "of the boto3 bridge all the same. A name the model lacks is `UnknownOperationException`.",
          "",
          ", ".join("`%s`" % n for n in unsupported(model)) + ".",
          ""]
    for name, lvl in OPERATIONS:
        in_name, s = model.input(name)
        out_name, _ = model.output(name)
        o += ["## %s" % name, ""]
        if name in OWD_OPERATIONS:
            o += ["owd's own operation (not in AWS's model): it answers %s." % OWD_OUTPUTS.get(name, "`{}`"), ""]
        o += ["- Permission: %s." % LEVEL_TEXT[lvl],
              "- Writes: %s." % ("yes (one transaction)" if writes(name) else "no (answered from the cache of the store)"),
              "- Errors: %s." % ", ".join("`%s`" % e for e in ERRORS),
              "- Request shape `%s`; response shape %s." % (in_name, "`%s`" % out_name if out_name else "as above" if name in OWD_OUTPUTS else "none (`{}`)"),
              ""]
        if name in NOTES:
            o += [NOTES[name], ""]
        rows = []
        member_rows(shapes, s, "", rows, {in_name})
        if rows:
            o += ["| member | required | type |", "| --- | --- | --- |"] + rows + [""]
        else:
            o += ["No members.", ""]
        store, ids = fixture(lib)
        for op, req, keep in SETUP.get(name, []):
            rc, got = lib.call(store, op, substitute(req, ids))
            if rc != 0:
                raise SystemExit("the setup of %s's example failed: %s %s" % (name, op, got))
            for key, member in keep.items():
                ids[key] = got[member]
        request = dict(example(model, name))
        for op, setup, member in DOC_SETUP.get(name, []):
            rc, made = lib.call(store, op, substitute(setup, ids))
            if rc != 0:
                raise SystemExit("the setup of %s's example failed: %s" % (name, made))
            request[member] = made[member]
        caller = lib.acting_as(store, ids["$USER"]) if name in AS_USER else store
        rc, answer = lib.call(caller, name, substitute(request, ids))
        if caller is not store:
            lib.lib.owd_store_close(caller)
        lib.lib.owd_store_close(store)
        if rc != 0:
            raise SystemExit("the example of %s failed: %s" % (name, answer))
        shown = {}
        for key in ("$USER", "$STACK", "$LAYER", "$APP", "$INSTANCE", "$DEPLOYMENT", "$COMMAND", "$REGISTERED"):
            if key not in ids:
                continue
            if UUID_RE.fullmatch(ids[key]):
                shown[ids[key]] = display_uuid(len(shown))
        text_req = json.dumps(substitute(request, ids), indent=2)
        text_ans = json.dumps(answer, indent=2)

        def fixed(m):
            if m.group(0) not in shown:
                shown[m.group(0)] = display_uuid(len(shown))
            return shown[m.group(0)]

        text_req = UUID_RE.sub(fixed, text_req)
        text_ans = UUID_RE.sub(fixed, text_ans)
        o += ["Example request:", "", "```json", text_req, "```", "", "Answer:", "", "```json", text_ans, "```", ""]
    out.add("docs/operations.md", "\n".join(o))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    ap.add_argument("--lib", help="libowd.so, to run the examples of docs/operations.md")
    args = ap.parse_args()
    if not botocore.__version__.startswith("1.39."):
        sys.exit("needs botocore 1.39.x (found %s)" % botocore.__version__)
    model = Model(load_model())
    out = Outputs()
    generate_swift(model, out)
    generate_shapes_json(model, out)
    generate_fuzz(model, out)
    generate_python_operations(model, out)
    generate_python_stub(model, out)
    generate_python_model(model, out)
    if args.lib:
        generate_docs(model, Library(args.lib), out)
    elif args.check:
        sys.exit("--check needs --lib (docs/operations.md runs its examples)")
    if args.check:
        stale = out.check([("fuzz/corpus/seed", lambda n: n.startswith("table-"))])
        if stale:
            sys.exit("generated files differ from tools/gen_shapes.py's output (run it and commit):\n  "
                     + "\n  ".join(stale))
        print("gen_shapes: %d generated files are current" % len(out.files))
    else:
        out.write()


if __name__ == "__main__":
    main()
