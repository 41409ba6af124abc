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
