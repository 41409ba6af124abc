"""Environment folders laid out as ``EnvironmentCache`` leaves them, without running pip."""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.deployments.env.requirements import Requirements
from tests.conftest import make_settings
from tests.helpers.server import free_port

PYTHON = "3.11.7"
DAY_S = 86400.0


def fake_environment(
    root: Path,
    lines: list[str],
    *,
    used_days_ago: float = 0.0,
    payload_bytes: int = 100_000,
    python: str = PYTHON,
) -> Path:
    """A complete environment for ``lines`` under ``root``, last used that many days ago,
    with ``payload_bytes`` of site-packages; returns its folder."""
    requirements = Requirements.from_lines(lines)
    digest = requirements.digest_for(python)
    path = root / digest
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").write_text("#!/bin/sh\n")
    (path / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {python}\n")
    site = path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "payload.bin").write_bytes(os.urandom(payload_bytes))
    marker = {
        "digest": digest,
        "python": python,
        "packages": {line.split("==")[0]: line.split("==")[-1] for line in lines},
        "requirements": requirements.to_dict(),
        "seconds": 1.0,
    }
    (path / ".complete").write_text(json.dumps(marker))
    (path / ".last-used").touch()
    age(path, used_days_ago)
    return path


def age(path: Path, days: float) -> None:
    """Make the environment at ``path`` look created and last used ``days`` ago."""
    moment = time.time() - days * DAY_S
    for name in (".complete", ".last-used"):
        if (path / name).exists():
            os.utime(path / name, (moment, moment))


def deploy_with_environment(ws: Workspace, name: str, lines: list[str], folder: Path) -> None:
    """Record an entry-script endpoint ``name`` whose environment is ``lines`` (no server
    runs it: the registry row is what ``ws.environments`` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not ws.models.list():
        (folder / "m.pkl").write_bytes(pickle.dumps(1.0))
        ws.models.register("m", folder / "m.pkl", allow_pickle=True)
    (folder / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    ws.endpoints.deploy_script(
        name,
        entry_script=folder / "score.py",
        models=["m:1"],
        environment=Requirements.from_lines(lines),
    )


@contextmanager
def replicas(root: Path) -> Iterator[tuple[Workspace, Workspace]]:
    """Two replicas' workspaces: one registry and artifact store under ``root``, and each
    its own environment cache (``envs-a``, ``envs-b``)."""
    pair = tuple(
        Workspace(
            make_settings(
                root, f"sqlite:///{root / 'registry.db'}", serve={"env_cache": str(root / name)}
            )
        )
        for name in ("envs-a", "envs-b")
    )
    try:
        yield pair[0], pair[1]
    finally:
        for ws in pair:
            ws.close()


def unreachable_index(patch: pytest.MonkeyPatch) -> None:
    """Make pip find no index: its config files ignored, its index a closed local port."""
    patch.setenv("PIP_CONFIG_FILE", os.devnull)
    patch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple")
    patch.setenv("PIP_RETRIES", "0")
