#!/usr/bin/env python3
"""The agent protocol's server side, measured through owd serve (section 14): latency from
CreateDeployment to the deployment's `successful`, with N agents that each long-poll
(WaitTimeSeconds 20), acknowledge and complete at once (a no-op hook), and deployments per
second through one server. The agents here are boto3 threads in one process (owd agent
is not built yet): the figures include botocore's own cost per call (signing, parsing),
which is most of them.

    .build/venv-serve/bin/python bench/agent_protocol_bench.py --owd .build/release/owd [--rounds 50]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

import boto3
import botocore.session
from botocore.config import Config

REGION = "us-east-1"


def start(owd, folder):
    store = os.path.join(folder, "store.owd")
    p = subprocess.Popen([owd, "serve", "--store", store, "--port", "0", "--no-auth", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    m = re.search(r"http://[\d.]+:\d+", line)
    assert m, line
    return p, m.group(0)


def client(url, models):
    s = botocore.session.get_session()
    s.get_component("data_loader").search_paths.insert(0, models)
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=REGION,
                                    botocore_session=s)
    return session.client("opsworks", endpoint_url=url, config=Config(retries={"max_attempts": 1}))


def agent(c, instance, stop):
    while not stop.is_set():
        for cmd in c.poll_commands(InstanceId=instance, WaitTimeSeconds=1)["Commands"]:
            c.acknowledge_command(CommandId=cmd["CommandId"])
            c.complete_command(CommandId=cmd["CommandId"], Status="successful", ExitCode=0, Log="ok\n")


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run(owd, models, agents, rounds):
    with tempfile.TemporaryDirectory() as folder:
        p, url = start(owd, folder)
        try:
            c = client(url, models)
            s = c.create_stack(Name="b", Region=REGION, ServiceRoleArn="arn:aws:iam::1:role/r",
                               DefaultInstanceProfileArn="arn:aws:iam::1:instance-profile/p")["StackId"]
            ids = [c.register_instance(StackId=s, Hostname=f"h{i}")["InstanceId"] for i in range(agents)]
            stop = threading.Event()
            threads = [threading.Thread(target=agent, args=(client(url, models), i, stop)) for i in ids]
            for t in threads:
                t.start()
            time.sleep(0.5)
            latencies = []
            began = time.monotonic()
            for _ in range(rounds):
                t0 = time.monotonic()
                d = c.create_deployment(StackId=s, Command={"Name": "configure"})["DeploymentId"]
                while c.describe_deployments(DeploymentIds=[d])["Deployments"][0]["Status"] != "successful":
                    time.sleep(0.001)
                latencies.append((time.monotonic() - t0) * 1000)
            elapsed = time.monotonic() - began
            stop.set()
            for t in threads:
                t.join()
            return latencies, rounds * agents / elapsed
        finally:
            p.terminate()
            p.wait()


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--owd", required=True)
    a.add_argument("--rounds", type=int, default=50)
    args = a.parse_args()
    models = tempfile.mkdtemp(prefix="owd-models-")
    subprocess.run([args.owd, "model", "install", "--dir", models], check=True, capture_output=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for n in (1, 10):
        lat, rate = run(args.owd, models, n, args.rounds)
        print(f"{n:2d} agent(s): CreateDeployment -> successful p50 {statistics.median(lat):.1f} ms, "
              f"p99 {percentile(lat, 99):.1f} ms ({len(lat)} deployments); {rate:.0f} commands/s "
              f"(one deployment at a time)")


if __name__ == "__main__":
    main()
