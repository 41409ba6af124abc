"""Endpoint environments: declared requirements, cached virtualenvs, the package pre-flight.

``Requirements.from_file(path)`` reads a conda YAML or a requirements file;
``EnvironmentCache(root).ensure(requirements, log)`` builds its virtualenv once per digest
and hands it out after; ``check_packages(trained_packages(version), built.packages)``
refuses a model trained with another major/minor scikit-learn, xgboost or numpy;
``scan(root)`` lists the cache and ``prune(root, in_use=..., older_than=...)`` trims it.
Builds share the wheelhouse ``<root>/wheels``; with ``SharedEnvironments`` a built
environment is published (its lock, and its wheels in the artifact store) for the other
replicas to install the same way, without the network.
"""

from modelyard.deployments.env.builder import BuiltEnvironment, EnvironmentCache
from modelyard.deployments.env.inventory import CachedEnvironment, EnvironmentStatus, scan
from modelyard.deployments.env.packages import (
    WATCHED,
    check_packages,
    installed_packages,
    package_mismatches,
    serving_packages,
    trained_packages,
)
from modelyard.deployments.env.prune import (
    DEFAULT_AGE,
    KeptBecause,
    PruneResult,
    age_text,
    parse_age,
    prune,
)
from modelyard.deployments.env.requirements import BUILDER_FORMAT, SHIMMED, Requirements
from modelyard.deployments.env.sharing import SharedEnvironments, platform_of

__all__ = [
    "BUILDER_FORMAT",
    "DEFAULT_AGE",
    "SHIMMED",
    "WATCHED",
    "BuiltEnvironment",
    "CachedEnvironment",
    "EnvironmentCache",
    "EnvironmentStatus",
    "KeptBecause",
    "PruneResult",
    "Requirements",
    "SharedEnvironments",
    "age_text",
    "check_packages",
    "installed_packages",
    "package_mismatches",
    "parse_age",
    "platform_of",
    "prune",
    "scan",
    "serving_packages",
    "trained_packages",
]
