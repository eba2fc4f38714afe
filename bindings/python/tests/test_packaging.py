"""The package as pip sees it: pyproject.toml is its one description, the wheel carries
libowd.so and is tagged for its platform, and without a built library the install fails
with the command to run instead of installing a package that cannot load."""
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PACKAGE = os.path.join(ROOT, "bindings", "python")
LIBRARY = os.path.join(ROOT, ".build", "release", "libowd.so")
with open(os.path.join(ROOT, "VERSION")) as _f:
    VERSION = _f.read().strip()
PLATFORM = sysconfig.get_platform().replace("-", "_").replace(".", "_")


def pip(*args, **kwargs):
    env = {k: v for k, v in os.environ.items() if k != "OWD_LIBRARY"}
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          env=env, capture_output=True, text=True, **kwargs)


def sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip wheel ./bindings/python` builds after `make build`."""
    assert os.path.exists(LIBRARY), "make test-python builds the library first"
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the package folder, so that the build leaves nothing in the checkout.
    source = tmp_path_factory.mktemp("src") / "owd"
    shutil.copytree(PACKAGE, source / "bindings" / "python", symlinks=True,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    shutil.copy(os.path.join(ROOT, "VERSION"), source / "VERSION")
    shutil.copytree(os.path.join(ROOT, "model"), source / "model")
    os.makedirs(source / ".build" / "release")
    os.symlink(os.path.realpath(LIBRARY), source / ".build" / "release" / "libowd.so")
    result = pip("wheel", "--no-deps", "-w", str(out), str(source / "bindings" / "python"))
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = os.listdir(out)
    assert len(wheels) == 1, wheels
    return out / wheels[0]


def test_wheel_is_tagged_for_the_platform_not_any(wheel):
    assert wheel.name == "opsworks_deployments-%s-py3-none-%s.whl" % (VERSION, PLATFORM)
    assert PLATFORM.startswith("linux_")
    with zipfile.ZipFile(wheel) as z:
        tags = z.read("opsworks_deployments-%s.dist-info/WHEEL" % VERSION).decode()
    assert "Tag: py3-none-%s\n" % PLATFORM in tags and "any" not in tags


def test_wheel_carries_the_built_library_and_the_model(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in ("__init__.py", "_lib.py", "client.py", "bridge.py", "exceptions.py", "waiter.py",
                     "VERSION", "libowd.so", "data/opsworks/2013-02-18/service-2.json",
                     "model/opsworks/2013-02-18/service-2.json", "model/opsworks/2013-02-18/waiters-2.json",
                     "model/opsworks/2013-02-18/paginators-1.json",
                     "data/opsworks/2013-02-18/service-2.sdk-extras.json",
                     "data/opsworks/2013-02-18/waiters-2.json"):
            assert "opsworks_deployments/" + name in names, name
        with open(LIBRARY, "rb") as f:
            assert sha(z.read("opsworks_deployments/libowd.so")) == sha(f.read())
        assert z.read("opsworks_deployments/VERSION").decode().strip() == VERSION
        assert not [n for n in names if "_build_hooks" in n or "/tests/" in n]
        metadata = z.read("opsworks_deployments-%s.dist-info/METADATA" % VERSION).decode()
    for line in ("Name: opsworks-deployments", "Version: " + VERSION, "Requires-Python: >=3.9",
                 "Provides-Extra: boto3", 'Requires-Dist: botocore; extra == "boto3"'):
        assert line + "\n" in metadata, line


def test_installed_wheel_loads_its_own_library(wheel, tmp_path):
    target = tmp_path / "site"
    result = pip("install", "--no-deps", "--target", str(target), str(wheel))
    assert result.returncode == 0, result.stdout + result.stderr
    probe = ("import opsworks_deployments as o\n"
             "print(o._lib.lib._name, o.__version__, o.library_version)\n"
             "with o.Client() as c:\n    print(c.describe_stacks()['Stacks'])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OWD_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run([sys.executable, "-c", probe], cwd=str(tmp_path), env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [
        "%s %s %s" % (target / "opsworks_deployments" / "libowd.so", VERSION, VERSION), "[]"]


def test_install_without_a_built_library_fails_naming_make_build(tmp_path):
    """A checkout where `make build` has not run: pip stops during the build with the
    command to run, and installs nothing."""
    checkout = tmp_path / "owd"
    shutil.copytree(PACKAGE, checkout / "bindings" / "python", symlinks=True,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    shutil.copy(os.path.join(ROOT, "VERSION"), checkout / "VERSION")
    target = tmp_path / "site"
    result = pip("install", "--no-deps", "--target", str(target), str(checkout / "bindings" / "python"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "run `make build` in %s" % checkout in output, output
    assert "there is none at %s" % (checkout / ".build" / "release" / "libowd.so") in output
    assert not target.exists() or not any(target.iterdir())


def test_pyproject_is_the_one_description():
    assert not os.path.exists(os.path.join(PACKAGE, "setup.py"))
    assert not os.path.exists(os.path.join(PACKAGE, "setup.cfg"))
