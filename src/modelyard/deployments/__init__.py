"""Deployments: what runs beside the data plane rather than in it.

``entry`` hosts Azure ML SDK v1 entry scripts (``init()``/``run()``) in supervised child
processes laid out as Azure lays out a container; ``env`` builds, caches and prunes the
virtual environments those processes run in, and checks packages before going live.
"""
