"""botocore's waiters, driven by the shipped waiters-2.json, without botocore."""
import json
import os
import re
import time

from . import exceptions as _exc

_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "opsworks", "2013-02-18")
with open(os.path.join(_MODEL, "waiters-2.json")) as _f:
    WAITERS = json.load(_f)["waiters"]


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


waiter_names = sorted(_snake(name) for name in WAITERS)


def search(expression, value):
    """The subset of JMESPath the shipped waiters use: `A.B` and projections `A[].B`."""
    for part in expression.split("."):
        project = part.endswith("[]")
        key = part[:-2] if project else part
        if isinstance(value, list):  # inside a projection: apply to each element
            value = [v.get(key) if isinstance(v, dict) else None for v in value]
            value = [v for v in value if v is not None]
            if project:
                value = [x for v in value if isinstance(v, list) for x in v]
        else:
            value = value.get(key) if isinstance(value, dict) and key else value
            if project:
                value = value if isinstance(value, list) else None
        if value is None:
            return None
    return value


def _is_error(response):
    error = response.get("Error")
    return isinstance(error, dict) and "Code" in error


class Acceptor:
    def __init__(self, config):
        self.state = config["state"]
        self.matcher = config["matcher"]
        self.expected = config["expected"]
        self.argument = config.get("argument")
        if self.matcher not in ("path", "pathAll", "pathAny", "status", "error"):
            raise ValueError("Unknown acceptor: %s" % self.matcher)

    @property
    def explanation(self):
        if self.matcher == "path":
            return 'For expression "%s" we matched expected path: "%s"' % (self.argument, self.expected)
        if self.matcher == "pathAll":
            return 'For expression "%s" all members matched expected path: "%s"' % (self.argument, self.expected)
        if self.matcher == "pathAny":
            return ('For expression "%s" we matched expected path: "%s" at least once'
                    % (self.argument, self.expected))
        if self.matcher == "status":
            return "Matched expected HTTP status code: %s" % self.expected
        return "Matched expected service error code: %s" % self.expected

    def matches(self, response):
        if self.matcher == "status":
            return response.get("ResponseMetadata", {}).get("HTTPStatusCode") == self.expected
        if self.matcher == "error":
            if self.expected is True:
                return _is_error(response)
            if self.expected is False:
                return "Error" not in response
            return response.get("Error", {}).get("Code", "") == self.expected
        if _is_error(response):
            return False
        result = search(self.argument, response)
        if self.matcher == "path":
            return result == self.expected
        if not isinstance(result, list) or not result:  # an empty list matches neither
            return False
        if self.matcher == "pathAll":
            return all(v == self.expected for v in result)
        return self.expected in result


class WaiterConfig:
    def __init__(self, config):
        self.description = config.get("description", "")
        self.operation = config["operation"]
        self.delay = config["delay"]
        self.max_attempts = config["maxAttempts"]
        self.acceptors = [Acceptor(a) for a in config["acceptors"]]


class Waiter:
    """botocore.waiter.Waiter's loop: poll, match acceptors in order, sleep Delay seconds."""

    def __init__(self, waiter_name, client):
        names = {_snake(n): n for n in WAITERS}
        if waiter_name not in names:
            raise ValueError("Waiter does not exist: %s" % waiter_name)
        self.name = names[waiter_name]
        self.config = WaiterConfig(WAITERS[self.name])
        self._client = client

    def _poll(self, kwargs):
        from .client import snake_case
        try:
            return getattr(self._client, snake_case(self.config.operation))(**kwargs)
        except _exc.ClientError as e:
            return e.response

    def wait(self, **kwargs):
        config = kwargs.pop("WaiterConfig", None) or {}
        delay = config.get("Delay", self.config.delay)
        max_attempts = config.get("MaxAttempts", self.config.max_attempts)
        state, last_matched, attempts = "waiting", None, 0
        while True:
            response = self._poll(kwargs)
            attempts += 1
            for acceptor in self.config.acceptors:
                if acceptor.matches(response):
                    last_matched, state = acceptor, acceptor.state
                    break
            else:
                if _is_error(response):
                    raise _exc.WaiterError(
                        name=self.name,
                        reason="An error occurred (%s): %s" % (response["Error"].get("Code", "Unknown"),
                                                                response["Error"].get("Message", "Unknown")),
                        last_response=response)
            if state == "success":
                return None
            if state == "failure":
                raise _exc.WaiterError(
                    name=self.name,
                    reason="Waiter encountered a terminal failure state: %s" % last_matched.explanation,
                    last_response=response)
            if attempts >= max_attempts:
                reason = "Max attempts exceeded"
                if last_matched is not None:
                    reason += ". Previously accepted state: %s" % last_matched.explanation
                raise _exc.WaiterError(name=self.name, reason=reason, last_response=response)
            time.sleep(delay)
