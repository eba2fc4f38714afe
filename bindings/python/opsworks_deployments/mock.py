"""mock_opsworks: moto's `mock_aws`, for OpsWorks, answered in-process by owd.

    from opsworks_deployments import mock_opsworks

    @mock_opsworks
    def test_deploy():
        opsworks = boto3.client("opsworks")        # a real botocore client
        ...

While an activation is open, every OpsWorks client the process creates, through
boto3.client(), boto3.session.Session().client() or botocore's Session.create_client(),
is a real botocore client whose requests owd answers in-process, on any botocore
(the model comes from the package, also on botocore 1.40.19+, which has none):

- botocore.handlers.BUILTIN_HANDLERS gets a `before-send.opsworks` handler, so every
  session created meanwhile answers OpsWorks requests from the activation's store. It is
  more specific than moto's `before-send` stubber and registered first, and botocore's
  other before-send handlers there (moto's stubber) are wrapped so that they see no
  OpsWorks request while owd answers them (botocore calls them all): owd answers OpsWorks
  beside moto's `mock_aws`, in either order, and moto answers the rest.
- AWS_DATA_PATH starts with the package's data folder (botocore's loader reads it when a
  session is created), boto3.DEFAULT_SESSION is None (as moto does), so that
  boto3.client() builds a session that sees both.
- AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are fake when the environment has no such
  pair (so no credentials file or metadata service is read), AWS_DEFAULT_REGION is
  us-east-1 when unset.
Everything is restored when the outermost activation stops.

Activations nest as moto's do: only the outermost one starts (from an empty in-memory
store, or the file at `path`) and stops; inner ones share its store. A decorated class
gets moto's semantics: each test method starts from an empty store; with a setUp
(unittest.TestCase) or setup_method, the store is made fresh for setUp and kept for the
test method.
"""
import functools
import inspect
import itertools
import os
import sys
import threading
import unittest
from urllib.parse import urlsplit

from . import bridge
from .client import Client

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAOWDMOCK000000000", "AWS_SECRET_ACCESS_KEY": "owd-mock-secret"}
DEFAULT_REGION = "us-east-1"
_EVENT = "before-send.opsworks"

_lock = threading.RLock()
_nested = 0          # open activations, across every mock_opsworks object (moto's rule)
_store = None        # the owd Client answering, kept between activations stopped without remove_data
_saved = None        # what the outermost activation changed: (environment, boto3, its DEFAULT_SESSION, entry)


def _handler(request, event_name, **_):
    """botocore's before-send for OpsWorks: owd's answer while an activation is open, else
    None (botocore, or another handler such as moto's, goes on)."""
    store = _store
    if not _nested or store is None or (urlsplit(request.url).hostname or "").endswith(bridge.ENDPOINT_SUFFIX):
        return None     # inactive, or a boto3_client() of an explicit Client, which answers itself
    return bridge._answer(store, request, bridge._operation_name(request, event_name))


class _Yield:
    """Another before-send handler of BUILTIN_HANDLERS (moto's botocore_stubber, ...) while
    an activation is open: botocore calls every before-send handler and keeps the first
    answer, so the handler would still see (moto: answer, or fail on) each OpsWorks request
    owd answered. It sees none of them while owd answers; everything else as before."""

    def __init__(self, handler):
        self.handler = handler

    def __call__(self, *args, **kwargs):
        if _nested and kwargs.get("event_name", "").startswith(_EVENT + "."):
            return None
        return self.handler(*args, **kwargs)


def _sees_opsworks(event):
    """Whether a handler registered for `event` receives OpsWorks's before-send events
    (before-send, before-send.*, before-send.opsworks, before-send.opsworks.Operation)."""
    parts = event.split(".")
    return parts[0] == "before-send" and (len(parts) == 1 or parts[1] in ("opsworks", "*"))


def _yielding(entry):
    event, handler = entry[0], entry[1]
    if handler is _handler or isinstance(handler, _Yield) or not _sees_opsworks(event):
        return entry
    return (event, _Yield(handler)) + tuple(entry[2:])


def _unyielding(entry):
    return (entry[0], entry[1].handler) + tuple(entry[2:]) if isinstance(entry[1], _Yield) else entry


def _set_environment():
    """The environment changes of an activation; returns the previous values (None: unset)."""
    changes = {"AWS_DATA_PATH": os.pathsep.join(filter(None, [bridge.DATA_PATH, os.environ.get("AWS_DATA_PATH")]))}
    if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
        changes.update(FAKE_CREDENTIALS)
        # A session token from elsewhere would go with the fake pair: it goes for the duration.
        changes.update(AWS_SESSION_TOKEN=None, AWS_SECURITY_TOKEN=None)
    if not os.environ.get("AWS_DEFAULT_REGION"):
        changes["AWS_DEFAULT_REGION"] = DEFAULT_REGION
    previous = {name: os.environ.get(name) for name in changes}
    _apply(changes)
    return previous


def _apply(values):
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _activate(path, reset):
    global _store, _saved
    if reset or _store is None:
        _close_store()
        _store = Client(path)
    try:
        from botocore import handlers
    except ImportError as e:
        _close_store()
        raise ImportError('mock_opsworks needs botocore, which is not installed: '
                          'pip install "opsworks-deployments[boto3]"', name=e.name) from e
    entry = (_EVENT, _handler, handlers.REGISTER_FIRST)
    handlers.BUILTIN_HANDLERS[:] = [_yielding(e) for e in handlers.BUILTIN_HANDLERS] + [entry]
    boto3 = sys.modules.get("boto3")
    if boto3 is None:
        try:
            import boto3
        except ImportError:
            boto3 = None
    session = None
    if boto3 is not None:
        session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None
    _saved = (_set_environment(), boto3, session, entry)


def _deactivate(remove_data):
    global _saved
    environment, boto3, session, entry = _saved
    _saved = None
    _apply(environment)
    if boto3 is not None:
        boto3.DEFAULT_SESSION = session
    from botocore import handlers
    handlers.BUILTIN_HANDLERS[:] = [_unyielding(e) for e in handlers.BUILTIN_HANDLERS if e is not entry]
    if remove_data:
        _close_store()


def _close_store():
    global _store
    store, _store = _store, None
    if store is not None:
        store.close()


class MockOpsWorks:
    """One mock_opsworks(): a decorator (of functions and classes), a context manager, and
    start()/stop(), as moto's mock_aws. `path`: a store file to open instead of an empty
    in-memory store (kept after stop())."""

    def __init__(self, path=None):
        if path == "":
            raise ValueError('mock_opsworks(path=""): give a store file, or None for an in-memory store')
        self.path = path

    @property
    def client(self):
        """The opsworks_deployments.Client answering now (the store of the open activation),
        or None when none is open."""
        return _store if _nested else None

    def start(self, reset=True):
        """Opens an activation; the outermost one patches botocore and, with `reset`, starts
        from an empty store."""
        global _nested
        with _lock:
            if _nested == 0:
                _activate(self.path, reset)
            _nested += 1

    def stop(self, remove_data=True):
        """Closes an activation; the outermost one restores everything and, with
        `remove_data`, drops the store."""
        global _nested
        with _lock:
            if _nested == 0:
                raise RuntimeError("mock_opsworks: stop() called before start()")
            _nested -= 1
            if _nested == 0:
                _deactivate(remove_data)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __call__(self, func, reset=True, remove_data=True):
        if inspect.isclass(func):
            return self._decorate_class(func)
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def wrapper(*args, **kwargs):
                self.start(reset=reset)
                try:
                    return await func(*args, **kwargs)
                finally:
                    self.stop(remove_data=remove_data)
        else:
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                self.start(reset=reset)
                try:
                    return func(*args, **kwargs)
                finally:
                    self.stop(remove_data=remove_data)
        return wrapper

    def _decorate_class(self, klass):
        """moto's class rule: every public method defined on the class is decorated (class-
        and static methods are not). Without a setUp/setup/setup_method anywhere in the
        class's own hierarchy, each test method starts from an empty store and drops it; with
        one, that method starts from an empty store and test methods keep it."""
        def own_methods(cls):
            return {name for name, value in vars(cls).items()
                    if isinstance(value, (type(own_methods), classmethod, staticmethod))}

        hierarchy = [c for c in klass.__mro__ if c not in (unittest.TestCase, object)]
        inherited = set(itertools.chain.from_iterable(own_methods(c) for c in hierarchy))
        has_setup = (("setUp" in inherited and issubclass(klass, unittest.TestCase))
                     or "setup" in inherited or "setup_method" in inherited)
        for name, value in list(vars(klass).items()):
            if name.startswith("_"):
                continue
            if inspect.isclass(value):          # a class defined inside: decorated the same way
                self._decorate_class(value)
                continue
            if not isinstance(value, type(own_methods)):
                continue
            is_test = name.startswith(unittest.TestLoader.testMethodPrefix)
            if name in ("setUp", "setup_method"):
                reset, remove_data = True, False
            elif is_test and not has_setup:
                reset, remove_data = True, True
            else:
                reset, remove_data = False, False
            setattr(klass, name, self(value, reset=reset, remove_data=remove_data))
        return klass


def mock_opsworks(func=None, *, path=None):
    """moto's mock_aws for OpsWorks: `@mock_opsworks`, `@mock_opsworks(path=...)`,
    `with mock_opsworks():`, `mock = mock_opsworks(); mock.start(); ...; mock.stop()`."""
    mock = MockOpsWorks(path)
    return mock if func is None else mock(func)
