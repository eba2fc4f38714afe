"""Bundles the repository's release libowd.so into the package when it has been built
(`make build`), so that `pip install ./bindings/python` gives a package that loads, and
the repository's OpsWorks model (model/, for `python -m opsworks_deployments install-model`)."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.join(HERE, "..", "..", ".build", "release", "libowd.so")
MODEL = os.path.join(HERE, "..", "..", "model", "opsworks", "2013-02-18")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if os.path.exists(LIBRARY):
            target = os.path.join(self.build_lib, "opsworks_deployments", "libowd.so")
            shutil.copyfile(os.path.realpath(LIBRARY), target)
        if os.path.isdir(MODEL):
            folder = os.path.join(self.build_lib, "opsworks_deployments", "model", "opsworks", "2013-02-18")
            os.makedirs(folder, exist_ok=True)
            for name in ("service-2.json", "waiters-2.json", "paginators-1.json"):
                shutil.copyfile(os.path.join(MODEL, name), os.path.join(folder, name))


setup(cmdclass={"build_py": BuildWithLibrary})
