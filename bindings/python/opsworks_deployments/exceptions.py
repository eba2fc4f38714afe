"""Exceptions shaped like boto3's.

AWS's errors are ClientError subclasses named after their code. When botocore is
installed, ClientError and WaiterError derive from botocore's own, so code that catches
``botocore.exceptions.ClientError`` catches owd's errors too. Failures AWS never had (the
store cannot be read, the library is misused, ...) are OwdError subclasses instead.
"""
import json
import uuid
from email.utils import formatdate

try:
    import botocore.exceptions as _botocore_exceptions
except ImportError:  # botocore is optional: only boto3_client() needs it
    _botocore_exceptions = None

from . import _lib

AWS_ERROR_CODES = ("ValidationException", "ResourceNotFoundException", "AccessDeniedException",
                   "UnsupportedOperationException")

if _botocore_exceptions is not None:
    _ClientErrorBase = _botocore_exceptions.ClientError
    _WaiterErrorBase = _botocore_exceptions.WaiterError
else:
    class _ClientErrorBase(Exception):
        def __init__(self, error_response, operation_name):
            error = error_response.get("Error", {})
            super().__init__("An error occurred (%s) when calling the %s operation: %s" % (
                error.get("Code", "Unknown"), operation_name, error.get("Message", "Unknown")))
            self.response = error_response
            self.operation_name = operation_name

    class _WaiterErrorBase(Exception):
        def __init__(self, name, reason, last_response):
            super().__init__("Waiter %s failed: %s" % (name, reason))
            self.kwargs = {"name": name, "reason": reason}
            self.last_response = last_response


class ClientError(_ClientErrorBase):
    """An AWS error response: ``.response["Error"]["Code"]``/``["Message"]``, ``.operation_name``."""

    def __reduce__(self):  # botocore's pickles as its own ClientError, losing the subclass
        return self.__class__, (self.response, self.operation_name)


class ValidationException(ClientError):
    pass


class ResourceNotFoundException(ClientError):
    pass


class AccessDeniedException(ClientError):
    pass


class UnsupportedOperationException(ClientError):
    """An operation of AWS's OpsWorks model that owd does not serve: owd manages no AWS
    resources (volumes, Elastic IPs, RDS, ECS, load balancers, auto scaling, GrantAccess)."""


class WaiterError(_WaiterErrorBase):
    """A waiter ended in failure: ``.last_response`` is the last response (or error response)."""


class OwdError(Exception):
    """A library-level failure that AWS never had. ``.code`` is owd.h's owd_error_code,
    ``.type`` its name (e.g. "StoreError"), ``.message`` the library's explanation."""

    def __init__(self, code, type_, message, operation_name=None):
        where = " (%s)" % operation_name if operation_name else ""
        super().__init__("%s%s: %s" % (type_ or "OwdError", where, message))
        self.code = code
        self.type = type_
        self.message = message
        self.operation_name = operation_name

    def __reduce__(self):
        return self.__class__, (self.code, self.type, self.message, self.operation_name)


class InvalidArgumentError(OwdError, ValueError):
    """OWD_EINVAL: bad options, an unknown operation, request text that is not JSON."""


class ClientClosedError(InvalidArgumentError):
    """The client was closed."""


class StoreBusyError(OwdError):
    """OWD_EBUSY: another writer held the store past the busy timeout; nothing changed."""


class StoreError(OwdError):
    """OWD_ESTORE: the store cannot be opened, read or written (not an owd store, a newer
    schema, corrupt, read-only, disk full, I/O error)."""


class OutOfMemoryError(OwdError, MemoryError):
    """OWD_ENOMEM."""


class InternalError(OwdError):
    """OWD_EINTERNAL: a bug in owd."""


_CLIENT_ERRORS = {c.__name__: c for c in (ValidationException, ResourceNotFoundException,
                                          AccessDeniedException, UnsupportedOperationException)}
# The return codes whose errors are AWS's (ClientError subclasses).
CLIENT_ERROR_CODES = (_lib.OWD_EVALIDATION, _lib.OWD_ENOTFOUND, _lib.OWD_EACCESS, _lib.OWD_EUNSUPPORTED)
_LIBRARY_ERRORS = {_lib.OWD_EINVAL: InvalidArgumentError, _lib.OWD_EBUSY: StoreBusyError,
                   _lib.OWD_ESTORE: StoreError, _lib.OWD_ENOMEM: OutOfMemoryError,
                   _lib.OWD_EINTERNAL: InternalError}


def response_metadata(status, body_length):
    """boto3's ResponseMetadata for an x-amz-json-1.1 answer of `body_length` bytes."""
    request_id = str(uuid.uuid4())
    return {"RequestId": request_id, "HTTPStatusCode": status,
            "HTTPHeaders": {"x-amzn-requestid": request_id, "content-type": "application/x-amz-json-1.1",
                            "content-length": str(body_length), "date": formatdate(usegmt=True)},
            "RetryAttempts": 0}


def client_error(code, message, operation_name):
    """The ClientError subclass for an AWS error code (ClientError itself for others), with
    the response boto3 gives: Error, and the ResponseMetadata of AWS's 400 answer."""
    cls = _CLIENT_ERRORS.get(code, ClientError)
    length = len(json.dumps({"__type": code, "message": message}).encode("utf-8"))
    return cls({"Error": {"Code": code, "Message": message},
                "ResponseMetadata": response_metadata(400, length)}, operation_name)


def library_error(code, type_, message, operation_name=None):
    """The exception for a negative owd_error_code and its owd_error_last() detail."""
    if code in CLIENT_ERROR_CODES:
        return client_error(type_, message, operation_name)
    return _LIBRARY_ERRORS.get(code, OwdError)(code, type_, message, operation_name)


class ClientExceptions:
    """``client.exceptions``: boto3's modeled exceptions, ``ClientError`` and ``from_code``."""

    ClientError = ClientError
    ValidationException = ValidationException
    ResourceNotFoundException = ResourceNotFoundException
    AccessDeniedException = AccessDeniedException
    UnsupportedOperationException = UnsupportedOperationException

    def from_code(self, code):
        return _CLIENT_ERRORS.get(code, ClientError)


exceptions = ClientExceptions()
