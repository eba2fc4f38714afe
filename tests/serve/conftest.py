"""owd serve's suite: the real program on loopback, driven by the real aws CLI, boto3,
botocore's signer, raw sockets and the Go SDK. The server is started with --port 0 and
the test reads the port from its first line (`owd: listening on http://HOST:PORT`)."""
import json
import os
import re
import selectors
import signal
import subprocess
import time
import uuid

import pytest

OWD = os.environ.get("OWD_PROGRAM", os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "owd"))
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-opsworks-service-role"
PROFILE = f"arn:aws:iam::{ACCOUNT}:instance-profile/aws-opsworks-ec2-role"
SHOW_ARN = f"arn:aws:iam::{ACCOUNT}:user/show"
DEPLOY_ARN = f"arn:aws:iam::{ACCOUNT}:user/deploy"

# The owner (no IamUserArn) and two users. Secrets long and distinctive, so a grep of the
# log for any of them cannot miss.
CREDENTIALS = [
    {"AccessKeyId": "AKIAOWDOWNER0000001", "SecretAccessKey": "ownerSECRET/" + "o" * 28},
    {"AccessKeyId": "AKIAOWDSHOW00000001", "SecretAccessKey": "showSECRET/" + "s" * 29, "IamUserArn": SHOW_ARN},
    {"AccessKeyId": "AKIAOWDDEPLOY000001", "SecretAccessKey": "deploySECRET/" + "d" * 27, "IamUserArn": DEPLOY_ARN},
]
OWNER, SHOW, DEPLOY = CREDENTIALS


def write_credentials(path, credentials=CREDENTIALS, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        json.dump({"Credentials": credentials}, f)
    os.chmod(path, mode)
    return path


def first_line(process, timeout, name, read_log):
    """The first line `process` writes on stdout, within `timeout` seconds; else an
    AssertionError with `name` and the process's log (`read_log()`)."""
    sel = selectors.DefaultSelector()
    sel.register(process.stdout, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise AssertionError(f"{name}: no first line within {timeout} s; log: {read_log()}")
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"{name} exited ({process.wait()}); log: {read_log()}")
        data += chunk
    return data.split(b"\n")[0].decode()


class Server:
    """One `owd serve` process. stop() sends a signal and returns the exit status."""

    def __init__(self, folder, *args, store=None, auth=True, env=None):
        self.folder = str(folder)
        self.store = store or os.path.join(self.folder, "store.owd")
        self.log_path = os.path.join(self.folder, f"serve-{uuid.uuid4().hex[:8]}.log")
        command = [OWD, "serve", "--store", self.store, "--port", "0", "--region", REGION]
        if auth:
            command += ["--credentials", write_credentials(os.path.join(self.folder, "credentials.json"))]
        else:
            command += ["--no-auth"]
        command += list(args)
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                        env=env or os.environ.copy())
        line = self._first_line(30)
        match = re.fullmatch(r"owd: listening on (https?)://(127\.0\.0\.1|[0-9.]+):(\d+)", line)
        assert match, f"first line was {line!r}; log: {self.read_log()}"
        self.scheme, self.host, self.port = match.group(1), match.group(2), int(match.group(3))
        self.url = f"{self.scheme}://{self.host}:{self.port}"

    def _first_line(self, timeout):
        return first_line(self.process, timeout, "owd serve", self.read_log)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self.log.close()

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    if s.process.poll() is None:
        s.stop()


def boto3_client(server, credential=OWNER, verify=None, **config):
    import boto3
    from botocore.config import Config
    session = boto3.session.Session(aws_access_key_id=credential["AccessKeyId"],
                                    aws_secret_access_key=credential["SecretAccessKey"],
                                    region_name=REGION, botocore_session=model_session())
    return session.client("opsworks", endpoint_url=server.url, verify=verify,
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config))


_MODEL_DIR = None


def model_dir():
    """The model as `owd model install` writes it, once per test run."""
    global _MODEL_DIR
    if _MODEL_DIR is None:
        import tempfile
        _MODEL_DIR = tempfile.mkdtemp(prefix="owd-model-")
        subprocess.run([OWD, "model", "install", "--dir", _MODEL_DIR], check=True, capture_output=True)
    return _MODEL_DIR


def model_session():
    import botocore.session
    s = botocore.session.get_session()
    s.get_component("data_loader").search_paths.insert(0, model_dir())
    return s


def stack(client, name="web"):
    return client.create_stack(Name=name, Region=REGION, ServiceRoleArn=ROLE,
                               DefaultInstanceProfileArn=PROFILE)["StackId"]


def online_stack(client):
    """A stack with a layer, one online instance and an app: what a deployment needs."""
    s = stack(client)
    layer = client.create_layer(StackId=s, Type="custom", Name="app", Shortname="app")["LayerId"]
    instance = client.create_instance(StackId=s, LayerIds=[layer], InstanceType="t3.micro")["InstanceId"]
    client.start_instance(InstanceId=instance)
    app = client.create_app(StackId=s, Name="site", Type="other")["AppId"]
    return s, layer, instance, app
