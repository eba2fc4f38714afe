"""One SDK outside Python: the AWS SDK for Go v1 from Debian's archive (golang-go and
golang-github-aws-aws-sdk-go-dev, GOPATH mode, offline), endpoint set in code."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import DEPLOY, DEPLOY_ARN, SHOW, SHOW_ARN, OWNER, boto3_client, online_stack

HERE = os.path.dirname(os.path.abspath(__file__))
GO_CACHE = os.environ.get("OWD_GO_CACHE", os.path.join(HERE, "..", "..", ".build", "go-cache"))


@pytest.fixture(scope="module")
def owdgo(tmp_path_factory):
    go = shutil.which("go")
    assert go, "golang-go is not installed (make test-serve installs it)"
    binary = str(tmp_path_factory.mktemp("go") / "owdgo")
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOPROXY="off",
               GOPATH=os.path.join(HERE, "go") + ":/usr/share/gocode", GOCACHE=os.path.abspath(GO_CACHE))
    p = subprocess.run([go, "build", "-o", binary, "owdgo"], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return binary


def run(owdgo, server, credential, stack, app):
    env = dict(os.environ, OWD_KEY_ID=credential["AccessKeyId"], OWD_SECRET=credential["SecretAccessKey"])
    return subprocess.run([owdgo, server.url, stack, app], env=env, capture_output=True, text=True, timeout=60)


def test_go_sdk_creates_and_describes_a_deployment(owdgo, server):
    owner = boto3_client(server, OWNER)
    stack, _, instance, app = online_stack(owner)
    owner.create_user_profile(IamUserArn=DEPLOY_ARN)
    owner.set_permission(StackId=stack, IamUserArn=DEPLOY_ARN, Level="deploy")
    p = run(owdgo, server, DEPLOY, stack, app)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    [d] = out["Deployments"]
    assert d["DeploymentId"] == out["DeploymentId"]
    assert d["StackId"] == stack and d["AppId"] == app and d["Status"] == "running"
    assert d["Command"]["Name"] == "deploy" and d["Comment"] == "from the Go SDK"
    assert d["IamUserArn"] == DEPLOY_ARN and d["InstanceIds"] == [instance]
    # The same deployment, as boto3 sees it.
    [seen] = owner.describe_deployments(DeploymentIds=[out["DeploymentId"]])["Deployments"]
    assert seen["Comment"] == "from the Go SDK"


def test_go_sdk_reads_the_error_code_of_a_refusal(owdgo, server):
    owner = boto3_client(server, OWNER)
    stack, _, _, app = online_stack(owner)
    owner.create_user_profile(IamUserArn=SHOW_ARN)
    owner.set_permission(StackId=stack, IamUserArn=SHOW_ARN, Level="show")
    p = run(owdgo, server, SHOW, stack, app)
    assert p.returncode == 3
    assert p.stderr.startswith(f"AccessDeniedException: User: {SHOW_ARN} is not authorized to perform: "
                               "opsworks:CreateDeployment on resource: ")
    assert owner.describe_deployments(StackId=stack)["Deployments"] == []
    wrong = dict(DEPLOY, SecretAccessKey="wrong" * 8)
    p = run(owdgo, server, wrong, stack, app)
    assert p.returncode == 3 and p.stderr.startswith("InvalidSignatureException: ")
