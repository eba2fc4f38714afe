"""setuptools commands named by pyproject.toml ([tool.setuptools.cmdclass]); not installed.

The package loads libowd.so through ctypes, so its wheel is Python-independent but
platform-specific: it carries the library built by `make build` and is tagged
py3-none-<platform> (e.g. linux_x86_64), never py3-none-any. Without a built library the
build stops with the command to run, so pip never installs a package that cannot load.
"""
import os
import shutil
import sysconfig

from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))
BUILT = os.path.join(REPOSITORY, ".build", "release", "libowd.so")
# The documented OpsWorks model (for `python -m opsworks_deployments install-model`).
MODEL = os.path.join(REPOSITORY, "model", "opsworks", "2013-02-18")
MODEL_FILES = ("service-2.json", "waiters-2.json", "paginators-1.json")


def library():
    """The libowd.so to bundle: OWD_LIBRARY when set, else the repository's release build."""
    path = os.environ.get("OWD_LIBRARY") or BUILT
    if not os.path.isfile(path):
        raise SetupError(
            "opsworks-deployments bundles libowd.so, and there is none at %s.\n"
            "Build it first: run `make build` in %s, then install again "
            "(or set OWD_LIBRARY to the path of a built libowd.so)." % (path, REPOSITORY))
    return os.path.realpath(path)


class BuildPy(build_py):
    def run(self):
        source = library()        # before anything is built: fail early and clearly
        super().run()
        target = os.path.join(self.build_lib, "opsworks_deployments", "libowd.so")
        shutil.copyfile(source, target)
        os.chmod(target, 0o755)
        folder = os.path.join(self.build_lib, "opsworks_deployments", "model", "opsworks", "2013-02-18")
        os.makedirs(folder, exist_ok=True)
        for name in MODEL_FILES:
            shutil.copyfile(os.path.join(MODEL, name), os.path.join(folder, name))


class BdistWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        if not self.plat_name_supplied:
            # The library's platform: this machine's, where `make build` made it.
            self.plat_name = sysconfig.get_platform()
            self.plat_name_supplied = True
