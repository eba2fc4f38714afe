"""opsworks_deployments: AWS OpsWorks Stacks' deployment API, answered in-process by libowd.

    from opsworks_deployments import Client
    with Client("deployments.owd") as opsworks:     # was: boto3.client("opsworks")
        opsworks.describe_deployments(StackId=stack_id)["Deployments"]

boto3_client(client) gives a real botocore client answered by the same store;
mock_opsworks (moto's mock_aws for OpsWorks) answers every boto3.client("opsworks") of a test.
"""
import os as _os

from ._lib import lib as _library
from .exceptions import (AccessDeniedException, ClientClosedError, ClientError, InternalError,
                         InvalidArgumentError, OutOfMemoryError, OwdError, ResourceNotFoundException,
                         StoreBusyError, StoreError, UnsupportedOperationException, ValidationException,
                         WaiterError)
from .client import OPERATIONS, Client
from .bridge import boto3_client
from .mock import mock_opsworks

# The repository's VERSION (a symlink in the source tree, a copy in the wheel).
with open(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "VERSION"), encoding="ascii") as _f:
    __version__ = _f.read().strip()
library_version = _library.owd_version_string().decode("ascii")

__all__ = ["Client", "boto3_client", "mock_opsworks", "ClientError", "ValidationException",
           "ResourceNotFoundException", "AccessDeniedException", "UnsupportedOperationException", "WaiterError", "OwdError",
           "InvalidArgumentError", "ClientClosedError", "StoreBusyError", "StoreError",
           "OutOfMemoryError", "InternalError", "OPERATIONS", "library_version", "__version__"]
