"""Beside moto: @mock_aws answers EC2, @mock_opsworks answers OpsWorks, in either order
(on botocore 1.39 with moto 5.1.11, whose own OpsWorks backend never answers an OpsWorks
request while owd's activation is open)."""
import boto3
import moto
from moto import mock_aws

import deploys
from opsworks_deployments import mock_opsworks


def ec2_and_opsworks():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    reservation = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.small")
    ec2_instance = reservation["Instances"][0]["InstanceId"]
    described = ec2.describe_instances(InstanceIds=[ec2_instance])["Reservations"][0]["Instances"]
    assert [i["InstanceId"] for i in described] == [ec2_instance]
    # OpsWorks deployments: never served by moto (not even by 5.1.11's OpsWorks backend).
    stack, app = deploys.create_web_stack("beside-moto")
    deployment = deploys.deploy(stack, app)
    assert deploys.deployment_status(deployment) == "running"
    opsworks = boto3.client("opsworks")
    commands = opsworks.describe_commands(DeploymentId=deployment)["Commands"]
    assert [c["Type"] for c in commands] == ["deploy"]
    assert deploys.stack_names() == ["beside-moto"]
    return ec2_instance


@mock_aws
@mock_opsworks
def test_mock_aws_outside():
    ec2_and_opsworks()


@mock_opsworks
@mock_aws
def test_mock_aws_inside():
    ec2_and_opsworks()


def test_context_managers_interleaved_and_each_fresh():
    with mock_opsworks():
        with mock_aws():
            first = ec2_and_opsworks()
        with mock_aws():
            # moto reset EC2; owd kept its store (same activation).
            assert boto3.client("ec2", region_name="us-east-1").describe_instances()["Reservations"] == []
            assert deploys.stack_names() == ["beside-moto"]
    with mock_aws():
        with mock_opsworks():
            assert deploys.stack_names() == []
            assert ec2_and_opsworks() != first


def test_moto_alone_does_not_answer_deployments():
    """What the tests above rely on: without mock_opsworks, moto gives no deployments."""
    import botocore
    import botocore.exceptions
    import pytest
    with mock_aws():
        if tuple(int(p) for p in botocore.__version__.split(".")[:3]) >= (1, 40, 19):
            with pytest.raises(botocore.exceptions.UnknownServiceError):
                boto3.client("opsworks", region_name="us-east-1")
        else:
            # botocore 1.39's model with moto's own backend (5.1.11): no deployments there.
            opsworks = boto3.client("opsworks", region_name="us-east-1")
            with pytest.raises(NotImplementedError, match="create_deployment"):
                opsworks.create_deployment(StackId="x", Command={"Name": "configure"})
