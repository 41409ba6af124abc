"""Job, lease and schedule rows on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from modelyard import Workspace
from modelyard.storage.leases import LeaseStore
from modelyard.storage.queue import JobStore
from modelyard.storage.schedules import ScheduleStore
from modelyard.storage.schema import utcnow


def test_the_same_idempotency_key_never_makes_two_jobs(workspace: Workspace) -> None:
    jobs = JobStore(workspace.db)
    results: list[tuple[str, bool]] = []

    def trigger() -> None:
        job, created = jobs.enqueue("train", {"training": "immo"}, idempotency_key="k-1")
        results.append((job.id, created))

    threads = [threading.Thread(target=trigger) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_each_job_is_claimed_by_exactly_one_worker(workspace: Workspace) -> None:
    jobs = JobStore(workspace.db)
    queued = {jobs.enqueue("train", {"n": i}, subject="immo")[0].id for i in range(12)}
    claimed: list[str] = []

    def work(name: str) -> None:
        while (job := jobs.claim(name)) is not None:
            claimed.append(job.id)
            assert jobs.finish(job.id, name, result={"ok": True})

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(claimed) == sorted(queued)
    assert all(jobs.get(job_id).state == "succeeded" for job_id in queued)
    assert jobs.active("train", "immo") == []


def test_a_silent_worker_is_reaped_then_failed_when_out_of_attempts(workspace: Workspace) -> None:
    jobs = JobStore(workspace.db)
    job, _ = jobs.enqueue("train", {}, max_attempts=2)
    assert jobs.claim("dead-1") is not None
    assert [j.state for j in jobs.reap(timedelta(seconds=-1))] == ["queued"]
    again = jobs.claim("dead-2")
    assert again is not None and again.attempts == 2
    assert not jobs.heartbeat(job.id, "dead-1")  # the first worker lost it
    assert [j.state for j in jobs.reap(timedelta(seconds=-1))] == ["failed"]
    assert "dead-2 stopped heartbeating" in (jobs.get(job.id).error or "")


def test_cancel_stops_a_running_job_at_its_next_heartbeat(workspace: Workspace) -> None:
    jobs = JobStore(workspace.db)
    job, _ = jobs.enqueue("train", {})
    jobs.claim("w")
    assert jobs.cancel(job.id).state == "cancelled"
    assert not jobs.heartbeat(job.id, "w")
    assert not jobs.finish(job.id, "w", result={})


def test_one_lease_holder_at_a_time(workspace: Workspace) -> None:
    leases = LeaseStore(workspace.db)
    assert leases.acquire("scheduler", "a", timedelta(seconds=30))
    assert not leases.acquire("scheduler", "b", timedelta(seconds=30))
    assert leases.acquire("scheduler", "a", timedelta(seconds=30))  # renewal
    assert leases.holder("scheduler") == "a"
    leases.release("scheduler", "a")
    assert leases.acquire("scheduler", "b", timedelta(seconds=-1))  # taken, already expired
    assert leases.acquire("scheduler", "c", timedelta(seconds=30))


def test_a_fire_is_recorded_once(workspace: Workspace, tmp_path: Path) -> None:
    schedules = ScheduleStore(workspace.db)
    first = utcnow().replace(microsecond=0)
    schedules.upsert("immo", "every 10s", first)
    later = first + timedelta(seconds=10)
    assert schedules.record_fire("immo", first, later, "started", job_id="j1")
    assert not schedules.record_fire("immo", first, later, "started", job_id="j2")
    (only,) = schedules.list()
    assert (only.next_fire_at, only.last_fire_at) == (later, first)
    assert schedules.fires("immo") == [(first, "started", "j1")]
    schedules.set_paused("immo", True)
    assert schedules.list()[0].paused
