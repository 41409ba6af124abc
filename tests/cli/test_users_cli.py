"""``modelyard users``: add people with roles, issue and revoke tokens (shown once), and act
as a person with MODELYARD_TOKEN: their name on the events the CLI records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import skops.io as sio

from modelyard import Workspace
from tests.cli.test_cli import cli
from tests.helpers.models import fitted_immo

TOKEN = re.compile(r"token: (\S+)")


@pytest.fixture
def ws_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, _ = cli(capsys, "init", str(tmp_path / "ws"))
    assert code == 0
    return tmp_path / "ws"


def test_users_tokens_and_acting_as_a_person(
    capsys: pytest.CaptureFixture[str],
    ws_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = ("--workspace", str(ws_dir))
    code, out, _ = cli(capsys, *w, "users", "add", "alice", "--role", "approver")
    assert code == 0 and "Added alice as approver" in out
    found = TOKEN.search(out)
    assert found is not None
    secret = found[1]
    code, out, err = cli(capsys, *w, "users", "add", "zed", "--role", "owner")
    assert code == 1 and "no role 'owner'" in err and "viewer, scientist, approver, admin" in err

    code, out, _ = cli(capsys, *w, "users", "list")
    assert code == 0 and "alice" in out and "approver" in out and secret not in out

    est, _ = fitted_immo()
    sio.dump(est, tmp_path / "m.skops")
    monkeypatch.setenv("MODELYARD_TOKEN", secret)
    code, out, _ = cli(capsys, *w, "users", "whoami")
    assert code == 0 and "alice (approver)" in out
    assert cli(capsys, *w, "models", "register", str(tmp_path / "m.skops"), "--name", "m")[0] == 0
    assert cli(capsys, *w, "models", "promote", "m:1")[0] == 0
    monkeypatch.delenv("MODELYARD_TOKEN")
    with Workspace.from_config(ws_dir) as ws:
        assert ws.models.get("m", version=1).created_by == "alice"
        assert ws.models.history("m")[-1].actor == "alice"
        token_id = ws.people.tokens("alice")[0].id

    code, out, _ = cli(capsys, *w, "users", "tokens", "alice")
    assert code == 0 and token_id in out and secret not in out
    code, _, err = cli(capsys, *w, "users", "tokens", "nobody")  # not an empty table
    assert code == 1 and len(err.strip().splitlines()) == 1 and "nobody" in err, err
    assert cli(capsys, *w, "users", "revoke", "alice", token_id)[0] == 0
    monkeypatch.setenv("MODELYARD_TOKEN", secret)
    code, _, err = cli(capsys, *w, "models", "list")
    assert code == 1 and "MODELYARD_TOKEN is not an active personal token" in err
    monkeypatch.delenv("MODELYARD_TOKEN")
    code, out, _ = cli(capsys, *w, "users", "audit")
    assert code == 0 and "token.revoked" in out and "user.created" in out
