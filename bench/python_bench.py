"""(8) of issue 7: the Python binding's describe_deployments against json.loads of the same
text, and against moto's in-process CodeDeploy mock; (8c) of issue 12: the same with the
binding decoding through orjson, against json.loads and orjson.loads of the same text.
Prints one JSON line per measurement.

    python_bench.py STORE STACK_ID RUNS [MOTO_COUNT]      (MOTO_COUNT 0: no moto part)

STORE holds STACK_ID's 10,000 deployments (bench/run.py passes the 10,000-deployment store).
Run with the bench venv's python (boto3 and moto) and PYTHONPATH=bindings/python.
"""
import gc
import json
import os
import sys
import time


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def owd_part(store, stack_id, runs):
    try:
        from opsworks_deployments import Client
    except Exception as e:   # the binding is another engineer's work in progress
        print(json.dumps({"name": "python", "error": "opsworks_deployments not usable: %r" % (e,)}))
        return None
    from opsworks_deployments import client as client_module
    client_module._loads = json.loads   # (8) is the json path, whether orjson is installed or not
    client = Client(store)
    text = client.call_text("DescribeDeployments", {"StackId": stack_id})
    count = len(client.describe_deployments(StackId=stack_id)["Deployments"])
    owd, loads = [], []
    for _ in range(runs):   # interleaved: noise hits both alike
        owd += timed(lambda: client.describe_deployments(StackId=stack_id), 1)
        loads += timed(lambda: json.loads(text), 1)
    client.close()
    print(json.dumps({"name": "python", "results": count, "bytes": len(text), "owd": owd, "floor": loads}))
    sys.stdout.flush()
    return owd


def orjson_part(store, stack_id, runs):
    """describe_deployments decoding with json and with orjson, and both decoders alone on
    the same text, interleaved."""
    try:
        import orjson
        from opsworks_deployments import Client, client as client_module
    except Exception as e:
        print(json.dumps({"name": "orjson", "error": "orjson or opsworks_deployments not importable: %r" % (e,)}))
        return
    client = Client(store)
    text = client.call_text("DescribeDeployments", {"StackId": stack_id})
    assert orjson.loads(text) == json.loads(text)
    describe = lambda: client.describe_deployments(StackId=stack_id)
    samples = {"json": [], "orjson": [], "floor": [], "floor_orjson": []}
    for _ in range(runs):
        client_module._loads = json.loads
        samples["json"] += timed(describe, 1)
        client_module._loads = orjson.loads
        samples["orjson"] += timed(describe, 1)
        samples["floor"] += timed(lambda: json.loads(text), 1)
        samples["floor_orjson"] += timed(lambda: orjson.loads(text), 1)
    client.close()
    count = len(json.loads(text)["Deployments"])
    print(json.dumps(dict(name="orjson", results=count, bytes=len(text), version=orjson.__version__, **samples)))
    sys.stdout.flush()


def moto_part(count, runs):
    try:
        import boto3
        from moto import mock_aws
    except Exception as e:
        print(json.dumps({"name": "moto", "error": "moto/boto3 not importable: %r" % (e,)}))
        return
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        cd = boto3.client("codedeploy", region_name="us-east-1")
        cd.create_application(applicationName="shop", computePlatform="Server")
        cd.create_deployment_group(applicationName="shop", deploymentGroupName="web",
                                   serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")
        t0 = time.perf_counter()
        ids = []
        for i in range(count):
            r = cd.create_deployment(
                applicationName="shop", deploymentGroupName="web", description="release %d" % i,
                revision={"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k%d" % i,
                                                              "bundleType": "zip"}})
            ids.append(r["deploymentId"])
        create = time.perf_counter() - t0

        def fetch():
            got = 0
            for i in range(0, len(ids), 100):
                got += len(cd.batch_get_deployments(deploymentIds=ids[i:i + 100])["deploymentsInfo"])
            assert got == len(ids), got

        samples = timed(fetch, runs)
    print(json.dumps({"name": "moto", "results": count, "create_seconds": create, "moto": samples}))


def main():
    store, stack_id, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    owd_part(store, stack_id, runs)
    orjson_part(store, stack_id, runs)
    if count:
        moto_part(count, runs)


if __name__ == "__main__":
    main()
