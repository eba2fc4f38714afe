"""One client shared by many threads, as owd.h allows."""
import threading

import pytest

import opsworks_deployments as owd
from opsworks_deployments import Client

from conftest import new_stack

THREADS = 8
EACH = 25


def run_threads(target):
    errors = []

    def guarded(n):
        try:
            target(n)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_threads_sharing_one_client_lose_nothing(world, client):
    created = [[] for _ in range(THREADS)]

    def work(n):
        for _ in range(EACH):
            d = client.create_deployment(StackId=world.stack, Command={"Name": "configure"})["DeploymentId"]
            created[n].append(d)
            assert client.describe_deployments(DeploymentIds=[d])["Deployments"][0]["DeploymentId"] == d
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                client.describe_deployments(DeploymentIds=["nope-%d" % n])

    run_threads(work)
    everything = {d["DeploymentId"] for d in client.describe_deployments(StackId=world.stack)["Deployments"]}
    assert everything == {d for ids in created for d in ids}
    assert len(everything) == THREADS * EACH


def test_threads_completing_commands_of_one_deployment(world, client):
    instances = world.instances + [client.create_instance(StackId=world.stack, LayerIds=[world.layer],
                                                          InstanceType="t3.small")["InstanceId"]
                                   for _ in range(THREADS - 2)]
    for i in instances[2:]:
        client.start_instance(InstanceId=i)
    d = world.deploy()
    commands = client.describe_commands(DeploymentId=d)["Commands"]
    assert len(commands) == THREADS
    run_threads(lambda n: client.complete_command(CommandId=commands[n]["CommandId"], Status="successful"))
    assert client.describe_deployments(DeploymentIds=[d])["Deployments"][0]["Status"] == "successful"


def test_threads_with_a_file_store_and_as_user(tmp_path, clock):
    with Client(str(tmp_path / "s.owd"), clock=clock, durability="normal") as c:
        stack = new_stack(c)
        users = [c.as_user(None) for _ in range(THREADS)]
        run_threads(lambda n: [users[n].describe_stacks(StackIds=[stack]) for _ in range(EACH)])
        for u in users:
            u.close()


def test_close_waits_for_calls_in_progress(world, client):
    stop = threading.Event()
    seen = []

    def reader(n):
        while not stop.is_set():
            try:
                client.describe_deployments(StackId=world.stack)
            except owd.ClientClosedError:
                seen.append(n)
                return

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    client.close()
    stop.set()
    for t in threads:
        t.join()
    assert client.closed
