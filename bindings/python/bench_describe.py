"""describe_deployments returning 10,000 deployments, against json.loads of the same
response text (the floor for producing Python dicts). Median of 5 runs each.

    OWD_LIBRARY=.build/release/libowd.so PYTHONPATH=bindings/python python3 bindings/python/bench_describe.py
"""
import gc
import json
import statistics
import sys
import time

from opsworks_deployments import Client

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
RUNS = 5


def medians(*functions):
    """Median seconds of each function, the runs interleaved so that a busy machine
    slows all of them alike."""
    times = [[] for _ in functions]
    for _ in range(RUNS):
        for f, t in zip(functions, times):
            gc.collect()
            start = time.perf_counter()
            f()
            t.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main():
    with Client(durability="off") as c:
        stack = c.create_stack(Name="bench", Region="us-east-1",
                               ServiceRoleArn="arn:aws:iam::123456789012:role/r",
                               DefaultInstanceProfileArn="arn:aws:iam::123456789012:instance-profile/p")["StackId"]
        layer = c.create_layer(StackId=stack, Type="custom", Name="web", Shortname="web")["LayerId"]
        app = c.create_app(StackId=stack, Name="app", Type="other")["AppId"]
        for _ in range(2):
            i = c.create_instance(StackId=stack, LayerIds=[layer], InstanceType="t3.small")["InstanceId"]
            c.start_instance(InstanceId=i)
        start = time.perf_counter()
        for n in range(COUNT):
            c.create_deployment(StackId=stack, AppId=app, Comment="release %d" % n,
                                Command={"Name": "deploy", "Args": {"migrate": ["false"]}})
        setup = time.perf_counter() - start

        text = c.call_text("DescribeDeployments", {"StackId": stack})
        assert len(json.loads(text)["Deployments"]) == COUNT
        describe, loads, call = medians(lambda: c.describe_deployments(StackId=stack),
                                        lambda: json.loads(text),
                                        lambda: c.call_text("DescribeDeployments", {"StackId": stack}))
    print("%d deployments (%d bytes of JSON; created in %.1f s)" % (COUNT, len(text), setup))
    print("describe_deployments   %8.1f ms  (median of %d)" % (describe * 1e3, RUNS))
    print("  of which owd (text)  %8.1f ms" % (call * 1e3))
    print("json.loads same text   %8.1f ms" % (loads * 1e3))
    print("ratio                  %8.2fx" % (describe / loads))


if __name__ == "__main__":
    main()
