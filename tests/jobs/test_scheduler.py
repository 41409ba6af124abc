"""The scheduler: leader only, each fire once, missed fires coalesced, no overlap."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelyard import Workspace
from modelyard.errors import ConfigError
from modelyard.jobs.schedule import next_fire, parse_schedule
from modelyard.jobs.scheduler import fire_key
from modelyard.storage.schema import utcnow
from tests.conftest import make_settings

TRAINING = {
    "source": "immo_db",
    "query": "SELECT surface, prix FROM immo",
    "target": "prix",
    "estimator": "sklearn.linear_model.LinearRegression",
    "promotion": {"metric": "r2", "min": 0.8},
    "schedule": "every 10s",
}


def _workspace(tmp_path: Path, db_url: str) -> Workspace:
    data = f"sqlite:///{tmp_path / 'data.db'}"
    return Workspace(
        make_settings(
            tmp_path, db_url, sources={"immo_db": {"url": data}}, trainings={"immo": TRAINING}
        )
    )


def test_schedule_expressions() -> None:
    moment = utcnow().replace(minute=7, second=3, microsecond=0)
    assert next_fire("every 10s", moment) == moment.replace(second=10)
    assert next_fire("5m", moment) == moment.replace(minute=10, second=0)
    assert next_fire("0 * * * *", moment) == moment.replace(minute=0, second=0) + timedelta(hours=1)
    with pytest.raises(ConfigError, match="neither a cron expression"):
        parse_schedule("sometimes")


def test_only_the_leader_fires_and_each_fire_starts_one_run(db_url: str, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, db_url)
    (schedule,) = ws.queue.sync_schedules()
    leader, follower = ws.queue.scheduler(), ws.queue.scheduler()
    due = schedule.next_fire_at + timedelta(seconds=1)
    assert [f.outcome for f in leader.tick(due)] == ["started"]
    assert follower.tick(due + timedelta(seconds=10)) == []  # not the leader
    runs = ws.runs.list("immo")
    assert len(runs) == 1 and runs[0].trigger == "schedule" and runs[0].state.value == "queued"
    # the training is still queued: the next fire is skipped, not stacked
    (skipped,) = leader.tick(due + timedelta(seconds=10))
    assert skipped.outcome == "skipped_running" and len(ws.runs.list("immo")) == 1
    ws.close()


def test_missed_fires_coalesce_into_one(db_url: str, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, db_url)
    (schedule,) = ws.queue.sync_schedules()
    much_later = schedule.next_fire_at + timedelta(minutes=5)
    scheduler = ws.queue.scheduler()
    assert len(scheduler.tick(much_later)) == 1
    assert scheduler.tick(much_later) == []
    (after,) = ws.queue.schedules.list()
    assert after.next_fire_at > much_later
    ws.close()


def test_paused_schedules_do_not_fire(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    (schedule,) = ws.queue.sync_schedules()
    scheduler = ws.queue.scheduler()
    ws.queue.set_paused("immo", True)
    assert scheduler.tick(schedule.next_fire_at + timedelta(seconds=1)) == []
    ws.queue.set_paused("immo", False)
    assert len(scheduler.tick(schedule.next_fire_at + timedelta(seconds=1))) == 1
    ws.close()


def test_a_fire_queued_by_a_leader_that_died_before_recording_it_counts_as_started(
    db_url: str, tmp_path: Path
) -> None:
    ws = _workspace(tmp_path, db_url)
    (schedule,) = ws.queue.sync_schedules()
    # The dead leader got as far as queuing the fire's job (same idempotency key)...
    queued, created = ws.queue.trigger(
        "immo",
        trigger="schedule",
        idempotency_key=fire_key("immo", schedule.next_fire_at),
        actor="scheduler",
    )
    assert created
    # ...so the next leader records that fire as started, with that run, and queues no other.
    (fired,) = ws.queue.scheduler().tick(schedule.next_fire_at + timedelta(seconds=1))
    assert (fired.outcome, fired.job_id) == ("started", queued.id)
    assert [r.id for r in ws.runs.list("immo")] == [queued.id]
    ws.close()
