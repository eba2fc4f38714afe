"""libowd through ctypes: the loader and one table of every exported function."""
import ctypes
import ctypes.util
import os

# Return codes of owd.h (owd_error_code).
OWD_OK = 0
OWD_EVALIDATION = -1
OWD_ENOTFOUND = -2
OWD_EACCESS = -3
OWD_EINVAL = -4
OWD_EBUSY = -5
OWD_ESTORE = -6
OWD_ENOMEM = -7
OWD_EINTERNAL = -8
OWD_EUNSUPPORTED = -9

OWD_STORE_OPTIONS_VERSION = 1
DURABILITY = {"full": 0, "normal": 1, "off": 2}

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    """Every place the library may be, in the documented order: (description, path)."""
    env = os.environ.get("OWD_LIBRARY")
    if env:
        yield "OWD_LIBRARY", env
    yield "package folder", os.path.join(_HERE, "libowd.so")
    # bindings/python/opsworks_deployments -> the repository's release build.
    repo = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
    yield "build folder", os.path.join(repo, ".build", "release", "libowd.so")
    found = ctypes.util.find_library("owd")
    yield "ctypes.util.find_library('owd')", found


def load():
    tried = []
    for where, path in _candidates():
        if not path:
            tried.append("%s: not found" % where)
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append("%s: %s (no such file)" % (where, path))
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s: %s (%s)" % (where, path, e))
    raise ImportError("libowd.so not found; set OWD_LIBRARY to its path or build it with "
                      "`make build`. Tried:\n  " + "\n  ".join(tried))


class owd_error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("type", ctypes.c_char_p), ("message", ctypes.c_char_p)]


CLOCK_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)


class owd_store_options(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("iam_user_arn", ctypes.c_char_p),
                ("clock", CLOCK_FN), ("clock_context", ctypes.c_void_p),
                ("busy_timeout_ms", ctypes.c_int), ("durability", ctypes.c_int)]


_p = ctypes.c_void_p          # opaque handles (owd_store *, json_t *, lists, deployments)
_pp = ctypes.POINTER(ctypes.c_void_p)
_s = ctypes.c_char_p
_size = ctypes.c_size_t

# name: (restype, argtypes, fallible). Fallible functions return a negative owd_error_code.
FUNCTIONS = {
    "owd_error_last": (ctypes.POINTER(owd_error), [], False),
    "owd_strerror": (_s, [ctypes.c_int], False),
    "owd_free": (None, [_p], False),
    "owd_json_decref": (None, [_p], False),
    "owd_version_number": (ctypes.c_int, [], False),
    "owd_version_string": (_s, [], False),
    "owd_store_options_init": (ctypes.c_int, [ctypes.POINTER(owd_store_options), ctypes.c_uint], True),
    "owd_store_open": (ctypes.c_int, [_pp, _s, ctypes.POINTER(owd_store_options)], True),
    "owd_store_as": (ctypes.c_int, [_pp, _p, _s], True),
    "owd_store_close": (None, [_p], False),
    "owd_call": (ctypes.c_int, [_pp, _p, _s, _p], True),
    # The out text is taken as a raw pointer so that it can be released with owd_free.
    "owd_call_json": (ctypes.c_int, [_pp, _p, _s, _s], False),
    "owd_status_name": (_s, [ctypes.c_int], False),
    "owd_command_type_name": (_s, [ctypes.c_int], False),
    "owd_describe_deployments": (ctypes.c_int, [_pp, _p, _s, _s, ctypes.POINTER(_s), _size], True),
    "owd_deployment_list_count": (_size, [_p], False),
    "owd_deployment_list_get": (_p, [_p, _size], False),
    "owd_deployment_list_to_json": (_p, [_p], False),
    "owd_deployment_list_free": (None, [_p], False),
    "owd_deployment_id": (_s, [_p], False),
    "owd_deployment_stack_id": (_s, [_p], False),
    "owd_deployment_app_id": (_s, [_p], False),
    "owd_deployment_created_at": (_s, [_p], False),
    "owd_deployment_completed_at": (_s, [_p], False),
    "owd_deployment_duration": (ctypes.c_int64, [_p], False),
    "owd_deployment_iam_user_arn": (_s, [_p], False),
    "owd_deployment_comment": (_s, [_p], False),
    "owd_deployment_custom_json": (_s, [_p], False),
    "owd_deployment_status": (ctypes.c_int, [_p], False),
    "owd_deployment_command_name": (ctypes.c_int, [_p], False),
    "owd_deployment_command_arg_count": (_size, [_p], False),
    "owd_deployment_command_arg_name": (_s, [_p, _size], False),
    "owd_deployment_command_arg_value_count": (_size, [_p, _size], False),
    "owd_deployment_command_arg_value": (_s, [_p, _size, _size], False),
    "owd_deployment_instance_count": (_size, [_p], False),
    "owd_deployment_instance_id": (_s, [_p, _size], False),
    "owd_deployment_to_json": (_p, [_p], False),
}


def last_error():
    """(code, type, message) of the calling thread's last failure."""
    e = lib.owd_error_last().contents
    return e.code, (e.type or b"").decode("utf-8", "replace"), (e.message or b"").decode("utf-8", "replace")


def _errcheck(result, func, args):
    if result < 0:
        from .exceptions import library_error
        code, type_, message = last_error()
        raise library_error(code if code < 0 else result, type_, message, func.__name__)
    return result


def _bind(library):
    for name, (restype, argtypes, fallible) in FUNCTIONS.items():
        f = getattr(library, name)
        f.restype = restype
        f.argtypes = argtypes
        if fallible:
            f.errcheck = _errcheck
    return library


lib = _bind(load())
