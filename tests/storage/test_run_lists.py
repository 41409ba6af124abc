"""Run lists can leave the logs out (a list page reads no log text), and progress is saved
while a run goes on."""

from __future__ import annotations

from modelyard import Workspace
from modelyard.storage.runs import RunStore
from modelyard.types import RunState


def test_a_list_without_logs_reads_none_and_progress_is_readable_meanwhile(
    sqlite_workspace: Workspace,
) -> None:
    store = RunStore(sqlite_workspace.db)
    run = store.create("immo", "immo", trigger="api", actor="alice", params={})
    store.start(run.id)
    store.progress(run.id, [{"name": "load", "seconds": 0.1, "detail": ""}], 300, "load: db\n")
    running = store.get(run.id)
    assert running.state is RunState.RUNNING and running.logs == "load: db\n"
    assert running.rows == 300 and running.stages[0]["name"] == "load"
    assert store.list()[0].logs == "load: db\n"
    assert store.list(logs=False)[0].logs == ""
    assert store.list(logs=False)[0].id == run.id
