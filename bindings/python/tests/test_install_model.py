"""python -m opsworks_deployments install-model: the documented OpsWorks model with owd's
own operations, where botocore and the aws CLI look (behaviour.md section 13, issue 15)."""
import json
import os
import subprocess
import sys


def test_install_model_writes_the_documented_model_with_owds_operations(tmp_path):
    p = subprocess.run([sys.executable, "-m", "opsworks_deployments", "install-model", "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    folder = tmp_path / "opsworks" / "2013-02-18"
    assert sorted(os.listdir(folder)) == ["paginators-1.json", "service-2.json", "waiters-2.json"]
    model = json.loads((folder / "service-2.json").read_text())
    assert len(model["operations"]) == 78
    assert {"AcknowledgeCommand", "CompleteCommand", "PollCommands", "GetCommandLog"} <= set(model["operations"])
    assert model["operations"]["DescribeDeployments"]["documentation"].startswith("<p>Requests a description")
    assert model["operations"]["CreateStack"]["input"] == {"shape": "CreateStackRequest"}
    assert "DeploymentSuccessful" in json.loads((folder / "waiters-2.json").read_text())["waiters"]


def test_install_model_defaults_to_the_aws_models_folder_of_home(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path))
    p = subprocess.run([sys.executable, "-m", "opsworks_deployments", "install-model"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / ".aws" / "models" / "opsworks" / "2013-02-18" / "service-2.json").exists()


def test_botocore_loads_the_installed_model(tmp_path):
    subprocess.run([sys.executable, "-m", "opsworks_deployments", "install-model", "--dir", str(tmp_path)],
                   check=True, capture_output=True)
    import botocore.session
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    model = session.get_service_model("opsworks")
    assert "CompleteCommand" in model.operation_names and "DescribeDeployments" in model.operation_names
