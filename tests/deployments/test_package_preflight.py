"""A model endpoint refuses a version trained with another major or minor scikit-learn,
xgboost or numpy than the server has, says why, and serves it only when told to."""

from __future__ import annotations

from pathlib import Path

import sklearn

from modelyard import Workspace
from modelyard.serving.runtime import Runtime
from modelyard.serving.scorer import Scorer
from modelyard.storage.endpoints import EndpointStore
from modelyard.training.lineage import package_versions
from modelyard.types import EventKind
from tests.helpers.models import fitted_immo


def _other_minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{major}.{int(minor) + 1}.0"


def test_a_version_trained_with_another_minor_is_not_served_and_the_event_says_why(
    tmp_path: Path,
) -> None:
    ws = Workspace.init(tmp_path)
    model, rows = fitted_immo()
    elsewhere = {**package_versions(), "scikit-learn": _other_minor(sklearn.__version__)}
    ws.models.register("immo", model, input_example=rows, lineage={"packages": elsewhere})
    ws.models.promote("immo", 1)

    strict = Scorer(ws.registry, "immo@champion")
    assert strict.refresh() is False and strict.current is None
    assert f"trained with {elsewhere['scikit-learn']}" in (strict.last_error or "")
    assert sklearn.__version__ in (strict.last_error or "")
    (event,) = [e for e in ws.models.history("immo") if e.kind is EventKind.LOAD_FAILED]
    assert "--skip-package-check" in (event.reason or "")

    lenient = Scorer(ws.registry, "immo@champion", check_packages=False)
    assert lenient.refresh() is True
    assert lenient.score(rows.head(1)).version.version == 1

    ws.endpoints.create("strict", model="immo")
    ws.endpoints.create("lenient", model="immo", check_packages=False)
    runtime = Runtime(ws.registry, EndpointStore(ws.db))
    runtime.refresh()
    assert runtime.endpoint("strict")[1].current is None
    assert runtime.endpoint("lenient")[1].current is not None
    assert ws.endpoints.get("strict").state == "unhealthy"
    ws.close()


def test_the_same_packages_are_served(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path)
    model, rows = fitted_immo()
    ws.models.register("immo", model, input_example=rows)  # this process's packages
    ws.models.promote("immo", 1)
    scorer = Scorer(ws.registry, "immo")
    assert scorer.refresh() is True and scorer.last_error is None
    ws.close()
