"""Packages for setuptools (the metadata is in pyproject.toml): every package under studio/, found anew on each build
so that a new one needs no list, plus the repository's top-level motions/ installed as ``studio.motions``."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["studio", "studio.*"]), "studio.motions"],
      package_dir={"studio.motions": "motions"})
