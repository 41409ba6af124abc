"""The one error table is total: every ``ModelyardError`` subclass the server can raise has
a status chosen on purpose, resolved along its MRO, and the framework's own refusals
(unknown route, wrong method) answer from it too."""

from __future__ import annotations

import importlib
import pkgutil

import httpx
import pytest

import modelyard
from modelyard import errors as e
from modelyard.web.errors import STATUS, error_answer, status_of
from tests.helpers.endpoints import Served, serving_immo_and_churn


def _every_subclass() -> list[type[e.ModelyardError]]:
    skipped = ("modelyard.cli", "modelyard.__main__")  # the CLI's errors end a command
    for module in pkgutil.walk_packages(modelyard.__path__, "modelyard."):
        if not module.name.startswith(skipped) and ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[e.ModelyardError]] = []
    todo = [e.ModelyardError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [
        c for c in found if c.__module__.startswith("modelyard.") and ".cli." not in c.__module__
    ]


def test_every_error_class_has_a_deliberate_status() -> None:
    classes = _every_subclass()
    assert e.RunCancelled in classes and e.ExecutorUnavailable in classes
    for cls in classes:
        listed = next(c for c in cls.__mro__ if c in STATUS)
        assert cls is e.ModelyardError or listed is not e.ModelyardError, (
            f"{cls.__module__}.{cls.__name__} has no status of its own in web/errors.py STATUS"
        )


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (e.RunCancelled("cancelled"), 409),
        (e.ExecutorUnavailable("ray is down"), 503),
        (e.DeliveryFailed("receiver said 500"), 502),
        (e.VersionNotFound("no version 9"), 404),  # through NotFound
        (e.PackageMismatch("sklearn 1.3 vs 1.5"), 409),  # through Conflict
        (e.ModelFailed("unseen category"), 400),  # through InvalidInput
        (e.InvalidInput("bad", code="bad_value"), 422),
        (e.MethodNotAllowed("GET"), 405),
        (e.CorsRefused("origin"), 400),
        (e.PayloadTooLarge("big"), 413),
        (e.Overloaded("busy"), 429),
        (e.NotReady("starting"), 503),  # through ModelUnavailable
    ],
)
def test_statuses_resolve_along_the_mro(error: e.ModelyardError, status: int) -> None:
    assert status_of(error) == status


def test_retry_after_and_authenticate_headers_come_with_the_status() -> None:
    busy = dict(error_answer(e.Overloaded("busy")).headers)
    assert busy[b"retry-after"] == b"1" and busy[b"content-type"] == b"application/json"
    denied = dict(error_answer(e.Unauthorized("no key")).headers)
    assert denied[b"www-authenticate"].startswith(b"Bearer")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    with serving_immo_and_churn(tmp_path_factory.mktemp("errors")) as served:
        yield served


def test_unknown_routes_and_methods_answer_from_the_table(served: Served) -> None:
    missing = httpx.get(f"{served.base}/nowhere")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = httpx.put(f"{served.base}/endpoints/immo/score", headers=served.auth("immo"))
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    model_get = httpx.get(f"{served.base}/endpoints/immo/score", headers=served.auth("immo"))
    assert model_get.status_code == 405 and "POST rows" in model_get.json()["message"]
