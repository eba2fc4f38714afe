"""The loader: documented places in order, one ImportError naming every place tried."""
import os
import subprocess
import sys

import pytest

from opsworks_deployments import _lib


def test_owd_library_comes_first(monkeypatch):
    monkeypatch.setenv("OWD_LIBRARY", "/somewhere/libowd.so")
    places = [where for where, _ in _lib._candidates()]
    assert places == ["OWD_LIBRARY", "package folder", "build folder", "ctypes.util.find_library('owd')"]


def test_one_import_error_lists_every_place(monkeypatch):
    monkeypatch.setattr(_lib, "_candidates", lambda: iter([
        ("OWD_LIBRARY", "/nowhere/libowd.so"), ("package folder", "/nowhere/pkg/libowd.so"),
        ("build folder", "/etc/hostname"), ("ctypes.util.find_library('owd')", None)]))
    with pytest.raises(ImportError) as e:
        _lib.load()
    message = str(e.value)
    for text in ("OWD_LIBRARY: /nowhere/libowd.so (no such file)", "/nowhere/pkg/libowd.so",
                 "build folder: /etc/hostname (", "find_library('owd'): not found"):
        assert text in message


def test_import_fails_clearly_in_a_fresh_interpreter(tmp_path):
    # A copy of the package without the library, away from the build folder.
    import shutil
    import opsworks_deployments
    copy = tmp_path / "opsworks_deployments"
    shutil.copytree(os.path.dirname(opsworks_deployments.__file__), copy,
                    ignore=shutil.ignore_patterns("libowd.so*", "__pycache__"))
    env = dict(os.environ, OWD_LIBRARY=str(tmp_path / "missing.so"), PYTHONPATH=str(tmp_path),
               LD_LIBRARY_PATH="")
    result = subprocess.run([sys.executable, "-c", "import opsworks_deployments"], cwd=str(tmp_path),
                            env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImportError: libowd.so not found" in result.stderr
    assert "OWD_LIBRARY: %s (no such file)" % (tmp_path / "missing.so") in result.stderr


def test_every_exported_function_is_in_the_table():
    header = open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "include", "owd.h")).read() \
        if os.path.exists(os.path.join(os.path.dirname(__file__), "..", "..", "..", "include", "owd.h")) else None
    if header is None:
        pytest.skip("not in the repository")
    import re
    declared = set(re.findall(r"\b(owd_[a-z_]+)\s*\(", header)) - {"owd_clock_fn"}
    assert declared == set(_lib.FUNCTIONS)
