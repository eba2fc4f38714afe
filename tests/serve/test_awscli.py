"""The aws CLI (PyPI's awscli, current botocore, which has no OpsWorks model) against owd
serve: `owd model install` into a temporary HOME and AWS_ENDPOINT_URL_OPSWORKS, nothing else."""
import json
import os
import shutil
import subprocess
import sys

from conftest import OWD, OWNER, PROFILE, REGION, ROLE

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def cli_env(home, server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=OWNER["AccessKeyId"], AWS_SECRET_ACCESS_KEY=OWNER["SecretAccessKey"],
               AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL_OPSWORKS=server.url, AWS_MAX_ATTEMPTS="1",
               AWS_PAGER="")
    return env


def aws(env, *args, check=True):
    p = subprocess.run([AWS, "opsworks", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, f"aws opsworks {' '.join(args)}: {p.returncode}\n{p.stderr}"
        return json.loads(p.stdout) if p.stdout.strip() else None
    return p


def create_stack(env):
    """CreateStack's Region member collides with the CLI's global --region. The aws CLI of
    OpsWorks' day renamed it --stack-region (awscli/customizations/argrename.py); the
    current one dropped that rename with the model, so the member goes in as JSON."""
    request = {"Name": "web", "Region": REGION, "ServiceRoleArn": ROLE, "DefaultInstanceProfileArn": PROFILE}
    return aws(env, "create-stack", "--cli-input-json", json.dumps(request))["StackId"]


def test_without_the_model_the_cli_has_no_opsworks(tmp_path, server):
    p = aws(cli_env(tmp_path, server), "describe-stacks", check=False)
    assert p.returncode != 0
    assert "Invalid choice" in p.stderr or "invalid choice" in p.stderr


def test_aws_cli_scenario_from_create_stack_to_wait_deployment_successful(tmp_path, server):
    home = tmp_path / "home"
    home.mkdir()
    installed = subprocess.run([OWD, "model", "install"], env={"HOME": str(home), "PATH": os.environ["PATH"]},
                               capture_output=True, text=True, check=True)
    folder = home / ".aws" / "models" / "opsworks" / "2013-02-18"
    assert sorted(os.listdir(folder)) == ["paginators-1.json", "service-2.json", "waiters-2.json"]
    assert str(folder / "service-2.json") in installed.stdout
    env = cli_env(home, server)

    stack = create_stack(env)
    layer = aws(env, "create-layer", "--stack-id", stack, "--type", "custom", "--name", "app",
                "--shortname", "app")["LayerId"]
    instance = aws(env, "create-instance", "--stack-id", stack, "--layer-ids", layer,
                   "--instance-type", "t3.micro")["InstanceId"]
    assert aws(env, "start-instance", "--instance-id", instance) is None
    app = aws(env, "create-app", "--stack-id", stack, "--name", "site", "--type", "other")["AppId"]
    deployment = aws(env, "create-deployment", "--stack-id", stack, "--app-id", app,
                     "--command", '{"Name": "deploy"}')["DeploymentId"]

    [listed] = aws(env, "describe-deployments", "--stack-id", stack)["Deployments"]
    assert listed["DeploymentId"] == deployment and listed["Status"] == "running"
    assert listed["Command"]["Name"] == "deploy"
    [command] = aws(env, "describe-commands", "--deployment-id", deployment)["Commands"]
    assert command["InstanceId"] == instance and command["Status"] == "pending"

    # The agent's side, through the API (owd's own operations, in the installed model).
    aws(env, "acknowledge-command", "--command-id", command["CommandId"])
    aws(env, "complete-command", "--command-id", command["CommandId"], "--status", "successful", "--exit-code", "0")
    waited = subprocess.run([AWS, "opsworks", "wait", "deployment-successful", "--deployment-ids", deployment],
                            env=env, capture_output=True, text=True, timeout=120)
    assert waited.returncode == 0, waited.stderr
    [done] = aws(env, "describe-deployments", "--deployment-ids", deployment)["Deployments"]
    assert done["Status"] == "successful" and "CompletedAt" in done

    # An error, printed as AWS printed it.
    missing = "6ed0df4c-9ef7-4812-8dac-d54a05be1029"
    p = aws(env, "describe-stacks", "--stack-ids", missing, check=False)
    assert p.returncode == 255     # the aws CLI v1 exit status of a service error
    assert p.stderr.strip() == ("An error occurred (ResourceNotFoundException) when calling the DescribeStacks "
                                f"operation: Unable to find stack with ID {missing}")

    # The documentation came with the model.
    helped = subprocess.run([AWS, "opsworks", "describe-deployments", "help"], env=dict(env, PAGER="cat", MANPAGER="cat"),
                            capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "Requests a description of a specified set of deployments" in helped.stdout


def test_wait_deployment_successful_fails_on_a_failed_deployment(tmp_path, server):
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run([OWD, "model", "install", "--dir", str(home / ".aws" / "models")], check=True, capture_output=True)
    env = cli_env(home, server)
    stack = create_stack(env)
    layer = aws(env, "create-layer", "--stack-id", stack, "--type", "custom", "--name", "a", "--shortname", "a")["LayerId"]
    instance = aws(env, "create-instance", "--stack-id", stack, "--layer-ids", layer, "--instance-type", "t3.micro")["InstanceId"]
    aws(env, "start-instance", "--instance-id", instance)
    deployment = aws(env, "create-deployment", "--stack-id", stack, "--command", '{"Name": "setup"}')["DeploymentId"]
    [command] = aws(env, "describe-commands", "--deployment-id", deployment)["Commands"]
    aws(env, "complete-command", "--command-id", command["CommandId"], "--status", "failed", "--exit-code", "1")
    waited = subprocess.run([AWS, "opsworks", "wait", "deployment-successful", "--deployment-ids", deployment],
                            env=env, capture_output=True, text=True, timeout=120)
    assert waited.returncode == 255
    assert "Waiter DeploymentSuccessful failed" in waited.stderr


def test_python_install_model_writes_what_owd_model_install_writes(tmp_path):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "bindings", "python"),
               OWD_LIBRARY=os.path.join(root, ".build", "release", "libowd.so"))
    subprocess.run([sys.executable, "-m", "opsworks_deployments", "install-model", "--dir", str(tmp_path / "py")],
                   env=env, check=True, capture_output=True)
    subprocess.run([OWD, "model", "install", "--dir", str(tmp_path / "owd")], check=True, capture_output=True)
    for name in ("service-2.json", "waiters-2.json", "paginators-1.json"):
        a = json.loads((tmp_path / "py" / "opsworks" / "2013-02-18" / name).read_text())
        b = json.loads((tmp_path / "owd" / "opsworks" / "2013-02-18" / name).read_text())
        assert a == b, name
