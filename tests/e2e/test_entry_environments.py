"""Entry-script endpoints in environments of their own: built once into a virtualenv,
reused by the next endpoint with the same requirements, checked against the packages
the models were trained with, and failed with pip's own words when they cannot build."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sklearn

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.web.app import create_app
from tests.helpers.server import running

OLD_SKLEARN = "1.5.2"  # older than the project's, and installable on this Python

REPORTER = """
import json, sys
import sklearn

def init():
    print("init under", sys.executable)

def run(raw_data):
    return {"sklearn": sklearn.__version__, "python": sys.executable}
"""


@dataclass(frozen=True)
class Served:
    ws: Workspace
    base: str
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("envs")
    Workspace.init(root).close()
    ws = Workspace(
        Settings.load(root / "modelyard.toml", {"MODELYARD_ENV_CACHE": str(root / "cache")})
    )
    (root / "score.py").write_text(REPORTER)
    (root / "weights.txt").write_text("1 2 3")
    ws.models.register("weights", root / "weights.txt", flavour="files")
    ws.models.register(
        "trained",
        root / "weights.txt",
        flavour="files",
        lineage={"packages": {"scikit-learn": sklearn.__version__}},
    )
    (root / "old.txt").write_text(f"scikit-learn=={OLD_SKLEARN}\n")
    with running(create_app(ws, follow_interval=0.2)) as base:
        yield Served(ws, base, root)
    ws.close()


def _deploy(served: Served, name: str, requirements: str, model: str, **options: object) -> str:
    served.ws.endpoints.deploy_script(
        name,
        entry_script=served.root / "score.py",
        models=[model],
        environment=served.root / requirements,
        auth_enabled=False,
        **options,  # type: ignore[arg-type]
    )
    done = served.ws.endpoints.wait(name, timeout_s=600)
    return done.state


def test_an_older_scikit_learn_is_built_once_and_served_from(served: Served) -> None:
    assert sklearn.__version__ != OLD_SKLEARN
    began = time.monotonic()
    assert _deploy(served, "old", "old.txt", "weights:1") == "healthy", served.ws.endpoints.logs(
        "old"
    )
    built_in = time.monotonic() - began
    answer = httpx.post(f"{served.base}/endpoints/old/score", content=b"{}")
    assert answer.status_code == 200, answer.text
    reported = answer.json()
    assert reported["sklearn"] == OLD_SKLEARN
    assert reported["python"] != sys.executable
    assert reported["python"].startswith(str(served.root / "cache"))
    logs = served.ws.endpoints.logs("old")
    assert "Successfully installed" in logs  # pip's own output is the build log

    began = time.monotonic()
    assert _deploy(served, "old-too", "old.txt", "weights:1") == "healthy"
    assert time.monotonic() - began < built_in
    again = httpx.post(f"{served.base}/endpoints/old-too/score", content=b"{}").json()
    assert again == reported  # the same interpreter: the cached environment
    assert "reused the cached environment" in served.ws.endpoints.logs("old-too")


def test_a_model_trained_with_another_minor_version_is_refused_unless_overridden(
    served: Served,
) -> None:
    assert _deploy(served, "strict", "old.txt", "trained:1") == "failed"
    reason = served.ws.endpoints.get("strict").state_reason or ""
    assert f"trained with {sklearn.__version__}" in reason and OLD_SKLEARN in reason, reason
    assert _deploy(served, "lenient", "old.txt", "trained:1", check_packages=False) == "healthy"
    answer = httpx.post(f"{served.base}/endpoints/lenient/score", content=b"{}").json()
    assert answer["sklearn"] == OLD_SKLEARN
    assert "package difference allowed" in served.ws.endpoints.logs("lenient")


def test_an_environment_that_cannot_build_fails_with_pips_error(served: Served) -> None:
    (served.root / "bad.txt").write_text("modelyard-no-such-package-anywhere==0.0.1\n")
    assert _deploy(served, "bad", "bad.txt", "weights:1") == "failed"
    reason = served.ws.endpoints.get("bad").state_reason or ""
    assert "modelyard-no-such-package-anywhere" in reason
    assert "No matching distribution" in reason or "not find a version" in reason, reason
    answer = httpx.post(f"{served.base}/endpoints/bad/score", content=b"{}")
    assert answer.status_code == 503
    assert json.loads(answer.text)["code"] == "model_unavailable"
