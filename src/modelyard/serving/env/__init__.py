"""Endpoint environments: declared requirements, cached virtualenvs, the package pre-flight.

``Requirements.from_file(path)`` reads a conda YAML or a requirements file;
``EnvironmentCache(root).ensure(requirements, log)`` builds its virtualenv once per digest
and hands it out after; ``check_packages(trained_packages(version), built.packages)``
refuses a model trained with another major/minor scikit-learn, xgboost or numpy.
"""

from modelyard.serving.env.builder import BuiltEnvironment, EnvironmentCache
from modelyard.serving.env.packages import (
    WATCHED,
    check_packages,
    installed_packages,
    package_mismatches,
    serving_packages,
    trained_packages,
)
from modelyard.serving.env.requirements import BUILDER_FORMAT, SHIMMED, Requirements

__all__ = [
    "BUILDER_FORMAT",
    "SHIMMED",
    "WATCHED",
    "BuiltEnvironment",
    "EnvironmentCache",
    "Requirements",
    "check_packages",
    "installed_packages",
    "package_mismatches",
    "serving_packages",
    "trained_packages",
]
