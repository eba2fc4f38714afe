"""boto3_client(): a real botocore OpsWorks client whose requests owd answers in-process.

botocore 1.40+ ships no OpsWorks model, so the package's data folder (the stripped
model, its waiters, and service-2.sdk-extras.json adding owd's AcknowledgeCommand,
CompleteCommand and AccessDeniedException) goes first on the loader's search path.
A `before-send` hook hands the serialized request to owd and returns owd's answer as
the HTTP response AWS would have sent: 200 with the JSON body, or 400 with the AWS
JSON 1.1 error body, which botocore turns into client.exceptions.* as usual.
"""
import json
import os
import uuid
from email.utils import formatdate

from . import _lib
from . import exceptions as _exc

DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_TARGET_PREFIX = "OpsWorks_20130218."
# The host of every boto3_client() endpoint ends so (mock_opsworks leaves their requests to them).
ENDPOINT_SUFFIX = ".owd.invalid"


class _Body:
    """The `raw` of a botocore AWSResponse: what urllib3's response offers botocore."""

    def __init__(self, data):
        self._data = data

    def stream(self, **_):
        yield self._data

    def read(self, *_):
        data, self._data = self._data, b""
        return data


def _answer(owd_client, request, operation_name):
    from botocore.awsrequest import AWSResponse

    body = request.body or b"{}"
    if not isinstance(body, bytes):
        body = body.read() if hasattr(body, "read") else body.encode("utf-8")
    try:
        # The body as botocore serialized it, through libowd's one JSON-text entry.
        status, data = 200, owd_client.call_json_text(operation_name, body)
    except _exc.ClientError as e:
        error = e.response["Error"]
        status, data = 400, json.dumps({"__type": error["Code"], "message": error["Message"]}).encode("utf-8")
    headers = {"x-amzn-RequestId": str(uuid.uuid4()),
               "Content-Type": "application/x-amz-json-1.1",
               "Content-Length": str(len(data)),
               "Date": formatdate(usegmt=True)}
    return AWSResponse(request.url, status, headers, _Body(data))


def _operation_name(request, event_name):
    """The OpsWorks operation of a serialized request: its X-Amz-Target, else the event's last part."""
    target = request.headers.get("X-Amz-Target", b"")
    if isinstance(target, bytes):
        target = target.decode("ascii")
    return target[len(_TARGET_PREFIX):] if target.startswith(_TARGET_PREFIX) else event_name.rsplit(".", 1)[-1]


def boto3_client(client, *, region_name="us-east-1", config=None, session=None):
    """A botocore client for "opsworks" (what boto3.client("opsworks") returns) answered by
    `client`, an opsworks_deployments.Client. No request leaves the process.

    region_name: the client's region (owd's stacks keep their own Region).
    config: a botocore.config.Config, e.g. to turn off client-side parameter validation.
    session: a botocore Session to build the client from (default: a new one).
    """
    try:
        import botocore.session
    except ImportError as e:
        raise ImportError('boto3_client() needs botocore, which is not installed: '
                          'pip install "opsworks-deployments[boto3]"', name=e.name) from e

    if session is None:
        session = botocore.session.Session()
    loader = session.get_component("data_loader")
    if DATA_PATH not in loader.search_paths:
        loader.search_paths.insert(0, DATA_PATH)
    bridged = session.create_client(
        "opsworks", region_name=region_name, config=config,
        endpoint_url="https://opsworks.%s%s" % (region_name, ENDPOINT_SUFFIX),
        aws_access_key_id="owd", aws_secret_access_key="owd", aws_session_token=None)

    def before_send(request, **kwargs):
        return _answer(client, request, _operation_name(request, kwargs["event_name"]))

    bridged.meta.events.register_first("before-send.opsworks", before_send,
                                       unique_id="opsworks_deployments.before_send")
    # The bridged client keeps the owd client (and so its store) alive.
    bridged._owd_client = client
    return bridged
