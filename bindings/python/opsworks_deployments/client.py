"""Client: boto3's OpsWorks client, answered in-process by libowd."""
import ctypes
import json
import os
import re
import threading
import weakref

from . import _lib
from ._lib import lib
from . import exceptions as _exc
from .waiter import Waiter, waiter_names

try:  # optional, never required: orjson decodes large answers faster than json
    from orjson import loads as _loads
except ImportError:
    _loads = json.loads

from ._operations import OPERATIONS, UNSUPPORTED_OPERATIONS  # generated from the operation table (tools/gen_shapes.py)


def snake_case(operation):
    """boto3's method name for an operation: DescribeDeployments -> describe_deployments."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class _Clock:
    """Wraps a Python clock for libowd. The CFUNCTYPE object must outlive every store
    handle that may call it, so each handle keeps this object alive."""

    def __init__(self, clock):
        self._clock = clock
        self.failure = threading.local()
        self.function = _lib.CLOCK_FN(self._now)

    def _now(self, _context):
        try:
            return int(self._clock())  # a float is truncated to the whole second
        except BaseException as e:  # an exception cannot cross the C frames: re-raised after the call
            self.failure.error = e
            return 0

    def raise_failure(self):
        error = getattr(self.failure, "error", None)
        if error is not None:
            self.failure.error = None
            raise error


class _Handle:
    """One owd_store pointer. A call holds it for its duration; close() waits for calls
    in progress on other threads, then releases it exactly once."""

    def __init__(self, pointer, clock):
        self._pointer = pointer
        self.clock = clock
        self._calls = 0
        self._closed = False
        self._idle = threading.Condition(threading.Lock())

    def acquire(self):
        with self._idle:
            if self._closed:
                raise _exc.ClientClosedError(_lib.OWD_EINVAL, "InvalidArgument", "the client is closed")
            self._calls += 1
            return self._pointer

    def release(self):
        with self._idle:
            self._calls -= 1
            if not self._calls:
                self._idle.notify_all()

    def close(self):
        with self._idle:
            if self._closed:
                return
            self._closed = True
            while self._calls:
                self._idle.wait()
            pointer, self._pointer = self._pointer, None
        lib.owd_store_close(pointer)

    @property
    def closed(self):
        return self._closed


def _response(body):
    """The response dict of an answer's JSON text, with the ResponseMetadata boto3 adds:
    what botocore shows for a 200 x-amz-json-1.1 answer from AWS (boto3_client's too)."""
    response = _loads(body)
    response["ResponseMetadata"] = _exc.response_metadata(200, len(body))
    return response


def _json_default(value):
    raise TypeError("Parameter validation failed: a value of type %s cannot be sent as JSON"
                    % type(value).__name__)


class Client:
    """A boto3-compatible OpsWorks client on an owd store.

    path: the store file; None or ":memory:" opens a private in-memory store. "" is refused
        (InvalidArgumentError): it is most often an unset variable, and an in-memory store
        would silently lose the data. A "postgresql://..." URI (libpq's syntax) opens a
        store in PostgreSQL, which many processes and machines may share (owd.h).
    iam_user_arn: the caller; None is the embedding program itself, which may do everything.
    clock: a callable returning Unix seconds (int or float; a fraction is truncated).
    busy_timeout_ms, durability ("full", "normal" or "off"): see owd.h.
    """

    exceptions = _exc.exceptions
    waiter_names = waiter_names

    def __init__(self, path=None, *, iam_user_arn=None, clock=None, busy_timeout_ms=5000,
                 durability="full"):
        options = _lib.owd_store_options()
        lib.owd_store_options_init(ctypes.byref(options), _lib.OWD_STORE_OPTIONS_VERSION)
        if iam_user_arn is not None:
            options.iam_user_arn = iam_user_arn.encode("utf-8")
        clock_wrapper = None
        if clock is not None:
            if not callable(clock):
                raise TypeError("clock must be a callable returning Unix seconds")
            clock_wrapper = _Clock(clock)
            options.clock = clock_wrapper.function
        options.busy_timeout_ms = busy_timeout_ms
        try:
            options.durability = _lib.DURABILITY[durability]
        except KeyError:
            raise ValueError("durability must be one of %s" % ", ".join(_lib.DURABILITY)) from None
        pointer = ctypes.c_void_p()
        lib.owd_store_open(ctypes.byref(pointer), None if path is None else os.fsencode(path),
                           ctypes.byref(options))
        self._adopt(_Handle(pointer.value, clock_wrapper), path, iam_user_arn)

    def _adopt(self, handle, path, iam_user_arn):
        self._handle = handle
        self.path = path
        self.iam_user_arn = iam_user_arn
        self._finalizer = weakref.finalize(self, handle.close)

    def as_user(self, iam_user_arn):
        """A client on the same store acting as `iam_user_arn` (None: the embedding program).
        It shares the store's data and clock and may be closed before or after this one."""
        pointer = ctypes.c_void_p()
        parent = self._handle.acquire()
        try:
            lib.owd_store_as(ctypes.byref(pointer), parent,
                             None if iam_user_arn is None else iam_user_arn.encode("utf-8"))
        finally:
            self._handle.release()
        child = Client.__new__(Client)
        child._adopt(_Handle(pointer.value, self._handle.clock), self.path, iam_user_arn)
        return child

    def close(self):
        """Releases the store handle; later calls raise ClientClosedError. Idempotent."""
        self._finalizer()

    @property
    def closed(self):
        return self._handle.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return "<opsworks_deployments.Client path=%r iam_user_arn=%r%s>" % (
            self.path, self.iam_user_arn, " closed" if self.closed else "")

    def call(self, operation, request=None):
        """Runs `operation` (AWS name) with `request` (a dict) and returns the response dict
        (with boto3's ResponseMetadata)."""
        return _response(self.call_text(operation, request))

    def call_text(self, operation, request=None):
        """Like call() but returns the response JSON text as bytes, undecoded (as AWS sends
        it: no ResponseMetadata)."""
        text = json.dumps(request or {}, default=_json_default, allow_nan=False).encode("utf-8")
        return self.call_json_text(operation, text)

    def call_json_text(self, operation, text):
        """Runs `operation` on request JSON text (bytes, as given) through libowd's one JSON
        entry (owd_call_json's rule for text that is not an object applies); returns the
        response JSON text as bytes."""
        out = ctypes.c_void_p()
        pointer = self._handle.acquire()
        try:
            rc = lib.owd_call_json(ctypes.byref(out), pointer, operation.encode("utf-8"), text)
            if rc < 0:
                code, type_, message = _lib.last_error()
            body = ctypes.string_at(out.value) if out.value else None
            lib.owd_free(out)
        finally:
            self._handle.release()
        clock = self._handle.clock
        if clock is not None:
            clock.raise_failure()
        if rc >= 0:
            return body
        if rc in _exc.CLIENT_ERROR_CODES and body:
            error = json.loads(body)
            raise _exc.client_error(error["__type"], error["message"], operation)
        raise _exc.library_error(rc, type_, message, operation)

    def get_waiter(self, waiter_name):
        """botocore's waiter of that name (only "deployment_successful" exists)."""
        return Waiter(waiter_name, self)

    def can_paginate(self, operation_name):
        return False


def _operation_method(operation):
    def method(self, *args, **kwargs):
        if args:
            raise TypeError("%s() only accepts keyword arguments." % name)
        return _response(self.call_text(operation, kwargs))

    name = snake_case(operation)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = "Calls OpsWorks %s with boto3's keyword arguments; returns its response dict." % operation
    return method


# The model's other operations are methods too, as on boto3's client: each raises
# UnsupportedOperationException (from libowd) instead of AttributeError.
for _operation in OPERATIONS + UNSUPPORTED_OPERATIONS:
    setattr(Client, snake_case(_operation), _operation_method(_operation))
del _operation
