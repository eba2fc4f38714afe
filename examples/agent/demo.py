"""The whole loop of owd on this machine, as `make demo` shows it: a store, `owd serve`,
two `owd agent`s with the hooks of examples/agent/hooks, a deployment created with
boto3, the wait, and DescribeDeployments' answer. Everything lives in a temporary folder
removed at the end.

    python demo.py OWD_PROGRAM
"""
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import boto3
import botocore.session

OWD = os.path.abspath(sys.argv[1])
HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks")
REGION = "us-east-1"
ACCOUNT = "123456789012"


def first_line(process, what):
    line = process.stdout.readline().decode().strip()
    if not line:
        sys.exit(f"{what} did not start (exit {process.wait()})")
    return line


def main():
    folder = tempfile.mkdtemp(prefix="owd-demo-")
    processes = []
    try:
        key, secret = "AKIADEMO" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30)
        credentials = os.path.join(folder, "credentials.json")
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"Credentials": [{"AccessKeyId": key, "SecretAccessKey": secret}]}, f)

        started = time.monotonic()
        serve_log = open(os.path.join(folder, "serve.log"), "wb")
        server = subprocess.Popen([OWD, "serve", "--store", os.path.join(folder, "store.owd"), "--port", "0",
                                   "--credentials", credentials, "--region", REGION],
                                  stdout=subprocess.PIPE, stderr=serve_log)
        processes.append(server)
        line = first_line(server, "owd serve")
        url = line.rsplit(" ", 1)[1]
        print(f"$ owd serve --store {folder}/store.owd --port 0 ...\n{line}")

        models = os.path.join(folder, "models")
        subprocess.run([OWD, "model", "install", "--dir", models], check=True, capture_output=True)
        session = botocore.session.get_session()
        session.get_component("data_loader").search_paths.insert(0, models)
        client = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION,
                                       botocore_session=session).client("opsworks", endpoint_url=url)

        stack = client.create_stack(Name="demo", Region=REGION,
                                    ServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/aws-opsworks-service-role",
                                    DefaultInstanceProfileArn=f"arn:aws:iam::{ACCOUNT}:instance-profile/aws-opsworks-ec2-role")["StackId"]
        app = client.create_app(StackId=stack, Name="shop", Type="other",
                                AppSource={"Type": "git", "Url": "https://example.com/shop.git", "Revision": "v1.2",
                                           "Password": "not-shown-anywhere"})["AppId"]
        print(f"stack {stack}, app {app}")

        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
        logs = []
        for host in ("web1", "web2"):
            log_path = os.path.join(folder, f"agent-{host}.log")
            logs.append(log_path)
            agent = subprocess.Popen([OWD, "agent", "--endpoint", url, "--stack-id", stack, "--hooks", HOOKS,
                                      "--state-dir", os.path.join(folder, f"state-{host}"), "--hostname", host,
                                      "--region", REGION],
                                     stdout=subprocess.PIPE, stderr=open(log_path, "wb"), env=env)
            processes.append(agent)
            print(f"$ owd agent --hostname {host} --hooks examples/agent/hooks ...\n{first_line(agent, 'owd agent')}")

        created = time.monotonic()
        deployment = client.create_deployment(StackId=stack, AppId=app, Command={"Name": "deploy"},
                                              CustomJson='{"shop": {"workers": 4}}')["DeploymentId"]
        print(f"create_deployment: {deployment}")
        client.get_waiter("deployment_successful").wait(DeploymentIds=[deployment], WaiterConfig={"Delay": 0.05})
        print(f"waiter deployment_successful: done {1000 * (time.monotonic() - created):.0f} ms after the create")

        answer = client.describe_deployments(DeploymentIds=[deployment])
        answer.pop("ResponseMetadata", None)
        print("describe_deployments:")
        print(json.dumps(answer, indent=2))
        for c in client.describe_commands(DeploymentId=deployment)["Commands"]:
            log = client.get_command_log(CommandId=c["CommandId"]).get("Log", "")
            print(f"command {c['CommandId']} on {c['InstanceId']}: {c['Status']}, exit {c.get('ExitCode')}; its log:")
            print("".join("    " + line for line in log.splitlines(True)), end="")

        for p in processes[1:]:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        print("the agents' lines (stderr):")
        for path in logs:
            with open(path) as f:
                print("".join("    " + line for line in f), end="")
        # A graceful stop: the polls still waiting are answered at once, the store closed.
        server = processes[0]
        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(30)
        took = time.monotonic() - stopping
        print(f"owd serve: SIGTERM, exit {code} after {1000 * took:.0f} ms")
        if code != 0 or took > 5:
            raise SystemExit(f"owd serve did not stop promptly (exit {code}, {took:.1f} s)")
        print(f"the whole loop took {time.monotonic() - started:.1f} s")
    finally:
        for p in processes[1:]:
            if p.poll() is None:
                p.kill()
        if processes and processes[0].poll() is None:
            # Only on the way out of a failure (the normal end stops it with SIGTERM above).
            processes[0].kill()
            processes[0].wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
