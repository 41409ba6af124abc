"""Every sample of ``GET /api/v1/endpoints/E/samples`` run as written, each program in its
own process, against the control app served over real HTTP: curl, Python, JavaScript
(node 18+), C# (mono's ``mcs``) and R (``Rscript`` with httr), for each wire format, on a
one-column model (immo) and on one with string, integer and float columns. Each program
must print the prediction the endpoint gives for the sample's row. A language whose tools
are missing is skipped (``make test-deps`` installs them all); with CI=true it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from modelyard import Workspace
from modelyard.types import OutputKind
from tests.helpers.control import ADMIN, control_workspace, serving_control

LANGUAGES = ("curl", "python", "javascript", "csharp", "r")
PROTOCOLS = ("azureml", "mlflow", "v2", "classic")


@dataclass(frozen=True)
class Served:
    base: str
    keys: dict[str, str]


def _mixed(ws: Workspace) -> None:
    """A classifier on a string, an integer and a float column."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "city": rng.choice(["Paris", "Lyon", "Nice"], 200),
            "rooms": rng.integers(1, 6, 200),
            "surface": rng.uniform(15, 120, 200),
        }
    )
    target = (frame["surface"] / frame["rooms"] > 25).astype(int)
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer([("city", OneHotEncoder(), ["city"])], remainder="passthrough"),
            ),
            ("fit", LogisticRegression(max_iter=500)),
        ]
    ).fit(frame, target)
    version = ws.models.register(
        "mixed", model, input_example=frame, output_kind=OutputKind.PROBABILITIES
    )
    ws.registry.promote("mixed", version.version)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("samples")
    ws = control_workspace(root, f"sqlite:///{root / 'registry.db'}")
    ws.trainings.run("immo")
    _mixed(ws)
    keys = {
        name: (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
        for name in ("immo", "mixed")
    }
    with serving_control(ws) as base:
        yield Served(base, keys)
    ws.close()


def _samples(served: Served, endpoint: str) -> dict[str, Any]:
    answer = httpx.get(f"{served.base}/api/v1/endpoints/{endpoint}/samples", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _tool(language: str) -> list[str] | None:
    found = {
        "curl": shutil.which("curl"),
        "python": sys.executable,
        "javascript": shutil.which("node"),
        "csharp": shutil.which("mcs") and shutil.which("mono"),
        "r": shutil.which("Rscript"),
    }[language]
    return [found] if found else None


def _run(language: str, code: str, folder: Path, env: dict[str, str]) -> str:
    def go(*command: str) -> str:
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{language}: {done.stdout}\n{done.stderr}\n{code}"
        return done.stdout

    if language == "curl":
        (folder / "score.sh").write_text(code)
        return go("bash", "score.sh")
    if language == "python":
        (folder / "score.py").write_text(code)
        return go(sys.executable, "score.py")
    if language == "javascript":
        (folder / "score.mjs").write_text(code)
        return go("node", "score.mjs")
    if language == "csharp":
        (folder / "Score.cs").write_text(code)
        go("mcs", "-r:System.Net.Http", "-out:score.exe", "Score.cs")
        return go("mono", "score.exe")
    (folder / "score.R").write_text(code)
    return go("Rscript", "score.R")


def _predictions(printed: str, protocol: str) -> Any:
    """What the program printed, reduced to the first row's prediction."""
    answer = json.loads(printed)
    if protocol in ("azureml", "mlflow"):
        return answer["predictions"][0]
    if protocol == "v2":
        output = answer["outputs"][0]
        width = output["shape"][1] if len(output["shape"]) > 1 else 1
        data = output["data"][:width]
        return data if width > 1 else data[0]
    row = answer["Results"]["output1"]["value"]["Values"][0]
    return row


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("endpoint", ["immo", "mixed"])
def test_every_sample_runs_and_prints_the_prediction(
    served: Served, endpoint: str, language: str, tmp_path: Path
) -> None:
    if _tool(language) is None:
        message = f"{language}'s tools are not installed (make test-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    document = _samples(served, endpoint)
    example = document["example"]
    expected = httpx.post(
        f"{served.base}/endpoints/{endpoint}/score",
        json={"data": [example]},
        headers={"Authorization": f"Bearer {served.keys[endpoint]}"},
    ).json()["predictions"][0]
    env = {**os.environ, "MODELYARD_KEY": served.keys[endpoint]}
    ran = 0
    for sample in document["samples"]:
        if sample["language"] != language:
            continue
        printed = _run(language, sample["code"], tmp_path, env)
        got = _predictions(printed, sample["protocol"])
        if sample["protocol"] == "classic":  # strings: the inputs, then the scores
            scored = [float(v) for v in got[len(example) + 1 :]] or [float(got[-1])]
            first = expected[1] if isinstance(expected, list) else expected
            assert float(scored[0]) == pytest.approx(first, rel=1e-9), (sample, printed)
        else:
            assert got == pytest.approx(expected, rel=1e-9), (sample["protocol"], printed)
        ran += 1
    assert ran == len(PROTOCOLS)


def test_samples_are_refused_without_the_admin_key_or_a_token(served: Served) -> None:
    answer = httpx.get(f"{served.base}/api/v1/endpoints/immo/samples")
    assert answer.status_code == 401
    listed = _samples(served, "mixed")
    assert {(s["protocol"], s["language"]) for s in listed["samples"]} == {
        (p, lang) for p in PROTOCOLS for lang in LANGUAGES
    }
    assert all("MODELYARD_KEY" in s["code"] for s in listed["samples"])
    assert served.keys["mixed"] not in json.dumps(listed)
