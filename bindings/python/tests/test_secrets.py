"""behaviour.md section 10 through the Python client and the boto3 bridge: no answer holds a
secret it was given (AWS answered *****FILTERED*****)."""
import json
import os

import pytest

from opsworks_deployments import OPERATIONS, boto3_client
from opsworks_deployments.client import snake_case

from conftest import ALICE, PROFILE, ROLE

SECRETS = ["py-app-password", "py-app-ssh-key", "py-ssl-private-key", "py-secure-env", "py-mysql-root",
           "py-haproxy-stats", "py-ganglia", "py-cookbooks-password", "py-cookbooks-ssh-key"]
FILTERED = "*****FILTERED*****"


@pytest.fixture
def secret_world(client):
    stack = client.create_stack(
        Name="secret", Region="us-east-1", ServiceRoleArn=ROLE, DefaultInstanceProfileArn=PROFILE,
        UseCustomCookbooks=True,
        CustomCookbooksSource={"Type": "git", "Url": "u", "Password": SECRETS[7], "SshKey": SECRETS[8]})["StackId"]
    layer = client.create_layer(StackId=stack, Type="php-app", Name="PHP", Shortname="php-app",
                                Attributes={"MysqlRootPassword": SECRETS[4], "HaproxyStatsPassword": SECRETS[5],
                                            "GangliaPassword": SECRETS[6]})["LayerId"]
    app = client.create_app(StackId=stack, Name="SimpleJSP", Type="java",
                            AppSource={"Type": "git", "Url": "u", "Password": SECRETS[0], "SshKey": SECRETS[1]},
                            EnableSsl=True, SslConfiguration={"Certificate": "c", "PrivateKey": SECRETS[2]},
                            Environment=[{"Key": "DB", "Value": SECRETS[3], "Secure": True},
                                         {"Key": "PLAIN", "Value": "visible", "Secure": False}])["AppId"]
    instance = client.create_instance(StackId=stack, LayerIds=[layer], InstanceType="t3.small")["InstanceId"]
    client.start_instance(InstanceId=instance)
    deployment = client.create_deployment(StackId=stack, AppId=app, Command={"Name": "deploy"})["DeploymentId"]
    client.create_user_profile(IamUserArn=ALICE)
    client.set_permission(StackId=stack, IamUserArn=ALICE, Level="show")
    arn = client.describe_stacks(StackIds=[stack])["Stacks"][0]["Arn"]
    return {"StackId": stack, "StackIds": [stack], "LayerId": layer, "LayerIds": [layer], "AppId": app,
            "AppIds": [app], "InstanceId": instance, "InstanceIds": [instance], "DeploymentId": deployment,
            "DeploymentIds": [deployment], "ResourceArn": arn}


def read_requests(client, world):
    """Every read operation of the table, with no parameter and with each ID member it takes."""
    from opsworks_deployments.bridge import DATA_PATH
    with open(os.path.join(DATA_PATH, "opsworks", "2013-02-18", "service-2.json")) as f:
        shapes = json.load(f)
    for operation in OPERATIONS:
        if not operation.startswith(("Describe", "List", "Get")):
            continue
        yield operation, {}
        spec = shapes["operations"].get(operation)
        members = shapes["shapes"][spec["input"]["shape"]]["members"] if spec and "input" in spec else {}
        for member in members:
            if member in world:
                yield operation, {member: world[member]}


def test_no_answer_of_the_client_holds_a_secret(client, secret_world):
    walked = 0
    for caller in (client, client.as_user(ALICE)):
        for operation, request in read_requests(caller, secret_world):
            try:
                text = caller.call_text(operation, request).decode()
            except Exception as e:  # an error message must not hold one either
                text = str(e)
            walked += 1
            for secret in SECRETS:
                assert secret not in text, (operation, request, text)
    assert walked > 20
    [app] = client.describe_apps(AppIds=secret_world["AppIds"])["Apps"]
    assert app["AppSource"]["Password"] == FILTERED and app["SslConfiguration"]["PrivateKey"] == FILTERED
    assert [e["Value"] for e in app["Environment"]] == [FILTERED, "visible"]
    [layer] = client.describe_layers(LayerIds=secret_world["LayerIds"])["Layers"]
    assert set(layer["Attributes"].values()) == {FILTERED}
    [stack] = client.describe_stacks(StackIds=secret_world["StackIds"])["Stacks"]
    assert stack["CustomCookbooksSource"]["SshKey"] == FILTERED


def test_no_answer_of_the_boto3_bridge_holds_a_secret(client, secret_world):
    pytest.importorskip("botocore")
    opsworks = boto3_client(client)
    walked = 0
    for operation, request in read_requests(client, secret_world):
        try:
            text = json.dumps(getattr(opsworks, snake_case(operation))(**request), default=str)
        except Exception as e:
            text = str(e)
        walked += 1
        for secret in SECRETS:
            assert secret not in text, (operation, request, text)
    assert walked > 10
