"""The registry database goes away while a replica serves: scoring goes on from the
loaded models, readiness stays up but says it is degraded, a promotion issued meanwhile
fails with a clear error and writes nothing, and once the database answers again the
replica recovers by itself and follows the next promotion.

The outage is a TCP proxy between the replica and PostgreSQL that resets every
connection and refuses new ones (the shared database server keeps running).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.errors import ModelyardError
from tests.conftest import _empty, make_settings
from tests.helpers import figures
from tests.helpers.models import fitted_immo
from tests.helpers.processes import started
from tests.helpers.server import free_port
from tests.helpers.tcp_proxy import proxied

OUTAGE_S = figures.scale(6.0, 30.0)


class Load:
    """One client scoring in a loop; counts answers and failures."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.ok = self.failed = 0
        self.failures: list[str] = []
        self.versions: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {self.key}"}, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    answer = client.post(self.url, json={"data": [[30.0]]})
                except httpx.TransportError as exc:
                    self.failed += 1
                    self.failures.append(repr(exc))
                    continue
                if answer.status_code == 200:
                    self.ok += 1
                    self.versions.add(answer.headers["x-model-version"])
                else:
                    self.failed += 1
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")


def until(check: object, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - began < timeout, f"no {what} within {timeout:g} s"
        time.sleep(0.1)
    return time.monotonic() - began


@pytest.mark.xdist_group("postgres-fleet")  # see tests/e2e/test_load_balancer.py
def test_serving_survives_a_registry_outage_and_recovers_by_itself(
    tmp_path: Path, postgresql_url: str
) -> None:
    _empty(postgresql_url)  # the session's database: another test's immo:1 must not answer
    direct = sa.make_url(postgresql_url)
    with proxied(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
        through = direct.set(host="127.0.0.1", port=proxy.port)
        url = through.render_as_string(hide_password=False)
        (tmp_path / "modelyard.toml").write_text(
            f'[registry]\ndatabase_url = "{url}"\nartifacts = "{tmp_path / "artifacts"}"\n'
        )
        ws = Workspace(make_settings(tmp_path, url))
        model, frame = fitted_immo()
        ws.models.register("immo", model, input_example=frame)
        ws.models.register("immo", model, input_example=frame)
        ws.models.promote("immo", 1)
        key = (ws.endpoints.create("immo", model="immo@champion").keys or {})["primary"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        def ready() -> httpx.Response | None:
            try:
                return httpx.get(f"{base}/v2/health/ready", timeout=5)
            except httpx.TransportError:
                return None

        with started(tmp_path, "serve", "--port", str(port)) as server:
            last: list[str] = []

            def is_ready() -> bool:
                answer = ready()
                last[:] = [f"{answer.status_code} {answer.text}" if answer else "no answer"]
                return answer is not None and answer.status_code == 200

            try:  # a startup wait, not a figure
                server.wait_for(is_ready, 180, "readiness")
            except AssertionError as failed:
                raise AssertionError(f"{failed}\nreadiness last answered: {last}") from None
            load = Load(f"{base}/endpoints/immo/score", key).__enter__()
            until(lambda: load.ok > 20, 30, "answers before the outage")
            events_before = len(ws.models.history("immo"))

            proxy.cut()
            cut_at = time.monotonic()
            degraded_after = until(
                lambda: (r := ready()) is not None and "degraded" in r.json(), 30, "degraded"
            )
            answer = ready()
            assert answer is not None and answer.status_code == 200  # still answering
            with pytest.raises(ModelyardError) as refused:
                ws.models.promote("immo", 2, reason="during the outage")
            message = refused.value.message
            assert "database" in message.lower(), message
            ok_during = load.ok
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
            ok_during = load.ok - ok_during
            proxy.restore()
            recovered_after = until(
                lambda: (r := ready()) is not None and "degraded" not in r.json(),
                60,
                "recovery",
            )
            # nothing half-written: the refused promotion left no event, v1 still serves
            assert len(ws.models.history("immo")) == events_before
            assert ws.models.resolve("immo@champion").version == 1
            ws.models.promote("immo", 2, reason="after the outage")
            followed_after = until(lambda: "2" in load.versions, 30, "the promotion followed")
            load.__exit__()
        ws.close()

    failed = load.failed
    figures.record(
        "Registry database down during serving (PostgreSQL)",
        load=f"1 client in a loop, {load.ok + failed:,} requests",
        faults=f"every database connection reset, {OUTAGE_S:g} s",
        result=(
            f"{failed} failed; {ok_during:,} answered during the outage; degraded shown in "
            f"{degraded_after:.1f} s; recovered {recovered_after:.1f} s after; promotion during "
            f"it refused ({message[:60]}...), next one served in {followed_after:.1f} s"
        ),
        passed=failed == 0,
    )
    assert failed == 0, load.failures[:5]
    assert ok_during > 0
