"""Bundles the repository's release libowd.so into the package when it has been built
(`make build`), so that `pip install ./bindings/python` gives a package that loads."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.join(HERE, "..", "..", ".build", "release", "libowd.so")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if os.path.exists(LIBRARY):
            target = os.path.join(self.build_lib, "opsworks_deployments", "libowd.so")
            shutil.copyfile(os.path.realpath(LIBRARY), target)


setup(cmdclass={"build_py": BuildWithLibrary})
