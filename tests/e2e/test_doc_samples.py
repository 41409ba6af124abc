"""The JavaScript, C# and R programs of docs/calling-endpoints.md, run unchanged (but for
the port) against a real ``modelyard serve`` with the docs' ``immo`` and ``churn``
endpoints. Each language is skipped where its tools are missing: ``node`` (18+), ``mcs`` +
``mono`` + Newtonsoft.Json (Debian: ``mono-mcs libnewtonsoft-json5.0-cil``), ``Rscript``
with httr (Debian: ``r-base-core r-cran-httr``)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelyard.cli.main import run as main
from tests.helpers.server import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "calling-endpoints.md"
DOC_BASE = "http://127.0.0.1:8080"
SEED_ROW = [596, "Germany", "Male", 32, 3, 96709.1, 2, 0, 0, 41788.4]
TRAININGS = """
[sources.immo_db]
url = "sqlite:///immo.db"

[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
promotion = { metric = "r2", min = 0.8 }

[sources.bank]
url = "sqlite:///bank.db"

[trainings.churn]
source = "bank"
table = "churn"
target = "Exited"
estimator = "xgboost.XGBClassifier"
params = { n_estimators = 30, max_depth = 3 }
promotion = { metric = "roc_auc", min = 0.5 }

[[trainings.churn.steps]]
name = "onehot"
estimator = "sklearn.preprocessing.OneHotEncoder"
params = { handle_unknown = "ignore" }
columns = ["Geography", "Gender"]

[[trainings.churn.steps]]
name = "scale"
estimator = "sklearn.preprocessing.StandardScaler"
columns = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts",
           "HasCrCard", "IsActiveMember", "EstimatedSalary"]
"""
NUMBER = re.compile(r"-?\d+\.\d+(?:[eE]-?\d+)?")


@dataclass(frozen=True)
class Docs:
    base: str
    env: dict[str, str]
    immo: list[float]  # predictions for 25 and 40 m²
    churn: float  # the probability of class 1 for seed 003's row


def _block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, f"expected one {language} program in {DOC.name}"
    assert DOC_BASE in blocks[0]
    return str(blocks[0])


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    root = tmp_path_factory.mktemp("docs-samples")

    def cli(*args: str) -> str:
        """The CLI in this process (a subprocess per command costs seconds of imports)."""
        out = io.StringIO()
        with contextlib.chdir(root), contextlib.redirect_stdout(out):
            try:
                main(["--workspace", str(root), *args])
            except SystemExit as exc:
                assert not exc.code, out.getvalue()
        return out.getvalue()

    cli("init", str(root))
    with (root / "modelyard.toml").open("a") as toml:
        toml.write(TRAININGS)
    cli("demo-data", "immo", "--source", "immo_db", "--rows", "500")
    cli("demo-data", "churn", "--source", "bank", "--rows", "1500")
    keys = {}
    for name in ("immo", "churn"):
        cli("train", name)
        created = cli("endpoints", "create", name, "--model", f"{name}@champion")
        keys[name] = next(
            line.split()[-1] for line in created.splitlines() if "primary key" in line
        )
    run = [sys.executable, "-m", "modelyard", "--workspace", str(root)]
    port = free_port()
    server = subprocess.Popen(
        [*run, "serve", "--port", str(port), "--drain-seconds", "0"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
            time.sleep(0.2)
        immo = httpx.post(
            f"{base}/endpoints/immo/score",
            json={"data": [[25], [40]]},
            headers={"Authorization": f"Bearer {keys['immo']}"},
        ).json()["predictions"]
        churn = httpx.post(
            f"{base}/endpoints/churn/score",
            json={"data": [SEED_ROW]},
            headers={"Authorization": f"Bearer {keys['churn']}"},
        ).json()["predictions"][0][1]
        env = {**os.environ, "KEY": keys["immo"], "CHURN_KEY": keys["churn"]}
        yield Docs(base, env, immo, churn)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _check_output(docs: Docs, stdout: str) -> None:
    """Every program prints the churn probability, the two immo prices three times (MLflow,
    V2, classic) and the 422 of a bad value."""
    numbers = [float(n) for n in NUMBER.findall(stdout)]

    def printed(value: float) -> int:
        return sum(abs(n - value) <= 1e-6 * max(1.0, abs(value)) for n in numbers)

    assert printed(docs.churn) >= 1, stdout
    for price in docs.immo:
        assert printed(price) >= 3, stdout
    assert "422 bad_value: row 0, column surface" in stdout, stdout


def _run(command: list[str], docs: Docs, cwd: Path) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=docs.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_javascript_program(docs: Docs, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    major = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    if int(major.stdout.strip().lstrip("v").split(".")[0]) < 18:
        pytest.skip("node 18+ is needed for the global fetch")
    (tmp_path / "score.mjs").write_text(_block("javascript").replace(DOC_BASE, docs.base))
    _check_output(docs, _run([node, "score.mjs"], docs, tmp_path))


def _newtonsoft() -> Path | None:
    for folder in sorted(Path("/usr/lib/cli").glob("Newtonsoft.Json*")):
        if (folder / "Newtonsoft.Json.dll").exists():
            return folder / "Newtonsoft.Json.dll"
    return None


def test_the_csharp_program(docs: Docs, tmp_path: Path) -> None:
    mcs, mono, newtonsoft = shutil.which("mcs"), shutil.which("mono"), _newtonsoft()
    if mcs is None or mono is None or newtonsoft is None:
        pytest.skip("mcs, mono or Newtonsoft.Json is not installed")
    (tmp_path / "Score.cs").write_text(_block("csharp").replace(DOC_BASE, docs.base))
    _run(
        [mcs, "-r:System.Net.Http", f"-r:{newtonsoft}", "-out:score.exe", "Score.cs"],
        docs,
        tmp_path,
    )
    shutil.copy(newtonsoft, tmp_path / newtonsoft.name)
    _check_output(docs, _run([mono, "score.exe"], docs, tmp_path))


def test_the_r_program(docs: Docs, tmp_path: Path) -> None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("R is not installed")
    has_httr = subprocess.run(
        [rscript, "-e", "library(httr)"], capture_output=True, timeout=60, check=False
    )
    if has_httr.returncode != 0:
        pytest.skip("the httr package is not installed")
    (tmp_path / "score.R").write_text(_block("r").replace(DOC_BASE, docs.base))
    _check_output(docs, _run([rscript, "score.R"], docs, tmp_path))
