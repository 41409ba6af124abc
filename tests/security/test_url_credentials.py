"""Issue 13 item 7: a credential in a source URL's query string (``?password=``) is never
stored or shown: not in a version's lineage, a run's error or logs, the admin API or the
CLI. The one redaction function masks ``user:pass@`` and credential parameters alike."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from modelyard import Workspace
from modelyard.cli.main import run
from modelyard.config.secret import SecretURL, redact, redact_url
from tests.helpers.control import ADMIN, ADMIN_KEY
from tests.helpers.server import running

PASSWORD = "hunter2-in-the-query"
TOKEN = "sas-signature-value"


def _workspace(root: Path) -> Workspace:
    """A workspace (its modelyard.toml written, for the CLI) whose source URL carries a
    password and a signature in its query string."""
    url = f"sqlite:///{root / 'data.db'}?password={PASSWORD}&mode=ro&sig={TOKEN}"
    (root / "modelyard.toml").write_text(
        f"""
[registry]
database_url = "sqlite:///{root / "registry.db"}"
artifacts = "{root / "artifacts"}"
[security]
admin_key = "{ADMIN_KEY}"
[sources.immo_db]
url = "{url}"
[trainings.immo]
source = "immo_db"
query = "SELECT surface, prix FROM immo"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
promotion = {{ metric = "r2", min = 0.8, policy = "latest-passing" }}
[trainings.broken]
source = "immo_db"
query = "SELECT surface, prix FROM no_such_table"
target = "prix"
estimator = "sklearn.linear_model.LinearRegression"
"""
    )
    ws = Workspace.from_config(root)
    ws.sources.demo_data("immo", "immo_db", 300, replace=True)
    return ws


def _clean(text: str) -> bool:
    return PASSWORD not in text and TOKEN not in text


def test_query_string_credentials_never_reach_lineage_run_errors_logs_api_or_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from modelyard.web.admin.app import create_control_app

    caplog.set_level(logging.DEBUG)
    ws = _workspace(tmp_path)
    with running(create_control_app(ws, follow_interval=0.2)) as base:
        for training in ("immo", "broken"):
            answer = httpx.post(f"{base}/api/v1/trainings/{training}/runs", headers=ADMIN)
            assert answer.status_code == 202, answer.text
        worker = ws.queue.worker()
        while worker.run_once() is not None:
            pass
        runs = httpx.get(f"{base}/api/v1/runs", headers=ADMIN).json()
        states = {r["training"]: r["state"] for r in runs}
        assert states == {"immo": "succeeded", "broken": "failed"}, runs
        shown = []
        for item in runs:
            status = httpx.get(f"{base}/api/v1/runs/{item['id']}", headers=ADMIN)
            logs = httpx.get(status.json()["logs_url"], headers=ADMIN)
            shown += [status.text, logs.text]
        version = httpx.get(f"{base}/api/v1/models/immo/versions/1", headers=ADMIN)
        lineage = version.json()["lineage"]
        assert "password=***" in str(lineage) and "sig=***" in str(lineage), lineage
        shown.append(version.text)
        assert all(_clean(text) for text in shown), shown

    stored = ws.registry.get_version("immo", 1).lineage
    assert _clean(str(stored))
    failed = next(r for r in ws.runs.list() if r.training == "broken")
    assert failed.error and _clean(failed.error) and _clean(failed.logs or "")
    ws.close()

    root = ("--workspace", str(tmp_path))
    for args in (("models", "show", "immo:1"), ("runs", "show", failed.id), ("runs", "list")):
        run([*root, *args])
    with pytest.raises(SystemExit):
        run([*root, "train", "broken"])
    out, err = capsys.readouterr()
    assert "password=***" in out + err
    assert _clean(out + err), out + err
    assert _clean(caplog.text)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app@db/x?password=S3cret&sslmode=require",
        "postgresql://app@db/x?sslmode=verify-full&sslpassword=S3cret",
        "https://acct.blob.core.windows.net/c/f.parquet?sv=2022-11-02&sig=S3cret",
        "https://bucket.s3.amazonaws.com/f?X-Amz-Credential=S3cret&X-Amz-Signature=S3cret",
        "mssql://db/x?user=app;password=S3cret",
        "https://api.example/x?access_token=S3cret#frag",
        "mysql://app:S3cret@db/x?key=S3cret&secret=S3cret&token=S3cret",
    ],
)
def test_every_credential_parameter_is_masked(url: str) -> None:
    assert "S3cret" not in redact_url(url)
    assert "S3cret" not in str(SecretURL(url))
    assert "S3cret" not in redact(f"driver said: bad password S3cret for {url}", SecretURL(url))
    assert "sslmode=require" in redact_url("x://h/d?password=p&sslmode=require")
