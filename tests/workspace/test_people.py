"""People: users with roles, personal tokens hashed at rest and revocable, sessions that
end at logout, the audit log, MODELYARD_TOKEN naming the person of the CLI and SDK, and
four-eyes approval."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LinearRegression

from modelyard import Workspace
from modelyard.config.settings import Settings
from modelyard.errors import ConfigError, Conflict, Forbidden, InvalidInput, Unauthorized
from modelyard.promotion import PromotionRule
from modelyard.storage import schema
from modelyard.types import Action, Role, VersionStatus
from tests.conftest import make_settings
from tests.helpers.control import ADMIN_KEY, control_workspace


def _ws(root: Path, url: str, **extra: object) -> Workspace:
    return Workspace(make_settings(root, url, security={"admin_key": ADMIN_KEY}, **extra))


def test_tokens_are_stored_hashed_and_open_nothing_once_revoked(
    workspace: Workspace,
) -> None:
    workspace.people.add("alice", "scientist")
    token, secret = workspace.people.issue_token("alice", "laptop")
    with workspace.db.engine.connect() as conn:
        stored = conn.execute(sa.select(schema.user_tokens)).mappings().all()
    assert len(stored) == 1 and secret not in str(dict(stored[0]))
    assert stored[0]["token_hash"] != secret and len(stored[0]["token_hash"]) == 64
    person = workspace.people.authenticate(secret)
    assert person is not None and (person.name, person.role) == ("alice", Role.SCIENTIST)
    workspace.people.revoke_token("alice", token.id)
    assert workspace.people.authenticate(secret) is None
    assert workspace.people.tokens("alice")[0].active is False


def test_a_disabled_user_is_refused_and_a_role_change_applies_at_once(
    sqlite_workspace: Workspace,
) -> None:
    people = sqlite_workspace.people
    people.add("bob", Role.VIEWER)
    _, secret = people.issue_token("bob")
    session_id, _ = people.open_session(people.authenticate(secret))  # type: ignore[arg-type]
    people.set_role("bob", "approver")
    assert people.authenticate(secret).role is Role.APPROVER  # type: ignore[union-attr]
    assert people.session(session_id) is None  # a role change ends the sessions
    people.set_disabled("bob", True)
    assert people.authenticate(secret) is None
    actions = [e.action for e in people.history()]
    assert actions[:3] == ["user.disabled", "user.role_changed", "token.issued"]


def test_the_admin_key_is_the_admin_account_and_no_user_may_take_its_name(
    tmp_path: Path,
) -> None:
    with _ws(tmp_path, f"sqlite:///{tmp_path / 'r.db'}") as ws:
        admin = ws.people.authenticate(ADMIN_KEY)
        assert admin is not None and admin.name == "admin" and admin.may(Action.ADMIN)
        assert ws.people.authenticate("not-" + ADMIN_KEY) is None
        with pytest.raises(InvalidInput):
            ws.people.add("admin", "viewer")
        with pytest.raises(InvalidInput, match="no role 'owner'"):
            ws.people.add("carol", "owner")
        ws.people.add("carol", "viewer")
        with pytest.raises(Conflict):
            ws.people.add("carol", "admin")


def test_a_logged_out_session_opens_nothing(sqlite_workspace: Workspace) -> None:
    people = sqlite_workspace.people
    people.add("dora", "viewer")
    _, secret = people.issue_token("dora")
    session_id, session = people.open_session(people.authenticate(secret))  # type: ignore[arg-type]
    found = people.session(session_id)
    assert found is not None and found[1].csrf == session.csrf
    with sqlite_workspace.db.engine.connect() as conn:
        ids = conn.execute(sa.select(schema.sessions.c.id_hash)).scalars().all()
    assert session_id not in ids  # stored hashed
    people.close_session(session_id)
    assert people.session(session_id) is None


def test_modelyard_token_makes_the_sdk_record_its_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with _ws(tmp_path, url) as ws:
        ws.people.add("erin", "approver")
        _, secret = ws.people.issue_token("erin")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    model = LinearRegression().fit(frame, [2.0, 4.0, 6.0])
    raw = {"registry": {"database_url": url, "artifacts": str(tmp_path / "artifacts")}}

    def settings(token: str) -> Settings:
        return Settings.from_mapping(raw, root=tmp_path, env={"MODELYARD_TOKEN": token})

    with Workspace(settings(secret)) as ws:
        assert ws.person is not None and ws.person.name == "erin"
        version = ws.models.register("m", model, input_example=frame)
        event = ws.models.promote("m", version.version)
        assert version.created_by == "erin" and event is not None and event.actor == "erin"
    with pytest.raises(Unauthorized, match="MODELYARD_TOKEN"):
        Workspace(settings("not-a-token"))


def test_four_eyes_refuses_the_author_and_accepts_another_approver(tmp_path: Path) -> None:
    promotion = {
        "metric": "r2",
        "min": 0.5,
        "policy": "latest-passing",
        "require_approval": True,
        "four_eyes": True,
    }
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", promotion=promotion)
    run, _ = ws.queue.trigger("immo", actor="alice")
    ws.queue.worker().run_once()
    version = ws.models.get("immo", version=ws.runs.get(run.id).version)
    assert version.created_by == "alice" and version.status is VersionStatus.PENDING_APPROVAL
    assert ws.models.four_eyes("immo", version.version)
    with pytest.raises(Forbidden, match="four-eyes"):
        ws.models.approve("immo", version.version, actor="alice")
    with pytest.raises(Forbidden, match="four-eyes"):
        ws.models.reject("immo", version.version, actor="alice")
    assert ws.models.get("immo", version=version.version).status is VersionStatus.PENDING_APPROVAL
    event = ws.models.approve("immo", version.version, actor="bob")
    assert event is not None and event.actor == "bob" and event.details["approved_by"] == "bob"
    assert ws.models.get("immo").version == version.version
    ws.close()


def test_a_rejected_version_is_recorded_and_can_never_be_promoted(tmp_path: Path) -> None:
    promotion = {"metric": "r2", "min": 0.5, "require_approval": True}
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", promotion=promotion)
    run = ws.trainings.run("immo")
    assert run.version is not None and not ws.models.four_eyes("immo", run.version)
    ws.models.reject("immo", run.version, reason="holdout too small", actor="carol")
    assert ws.models.get("immo", version=run.version).status is VersionStatus.REJECTED
    last = ws.models.history("immo")[-1]
    assert (last.kind.value, last.actor, last.reason) == ("rejected", "carol", "holdout too small")
    with pytest.raises(Conflict, match="rejected"):
        ws.models.promote("immo", run.version)
    with pytest.raises(Conflict, match="not pending"):
        ws.models.approve("immo", run.version)
    ws.close()


def test_four_eyes_needs_require_approval() -> None:
    with pytest.raises(ConfigError, match="four_eyes"):
        PromotionRule.from_mapping({"metric": "r2", "min": 0.5, "four_eyes": True})


def test_key_changes_and_schedule_pauses_record_the_person(tmp_path: Path) -> None:
    ws = control_workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    ws.trainings.run("immo")
    ws.endpoints.create("immo", model="immo@champion", actor="alice")
    ws.endpoints.regenerate_key("immo", "secondary", actor="bob")
    ws.queue.sync_schedules()
    ws.queue.set_paused("immo", True, actor="carol")
    seen = [(e.actor, e.action, e.subject) for e in ws.people.history()]
    assert seen[:3] == [
        ("carol", "schedule.paused", "immo"),
        ("bob", "endpoint.key_regenerated", "immo"),
        ("alice", "endpoint.created", "immo"),
    ]
    ws.close()
