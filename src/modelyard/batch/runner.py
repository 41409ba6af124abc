"""Batch scoring: submit a job (its model version pinned), then score it chunk by chunk.

Each partition (a key range; one unless ``partitions`` > 1) pages its rows in key order
(:class:`~modelyard.sources.pages.KeyPages`), checks them against the version's
signature, scores them with the endpoints' own loader and verified compiled scorer
(:class:`~modelyard.serving.scorer.Scorer`), and commits each chunk with its watermark
(:mod:`modelyard.batch.sinks`). A run of a job that stopped anywhere resumes after the
last committed chunk of each partition: every key is written exactly once.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from modelyard.batch.files import ChunkFiles
from modelyard.batch.inputs import check_columns, checked
from modelyard.batch.outputs import output_table, prediction_columns
from modelyard.batch.overlap import Stopped, overlapped
from modelyard.batch.partitions import Range, score_partition, split_range
from modelyard.batch.sinks import FileSink, Position, Sink, TableSink
from modelyard.batch.spec import BatchSpec, check_job_id, local_output
from modelyard.config.settings import Settings
from modelyard.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    ModelUnavailable,
    ModelyardError,
    RunCancelled,
)
from modelyard.jobs.executors.base import Executor
from modelyard.registry.registry import Registry
from modelyard.serving.frame import example_frame
from modelyard.serving.scorer import Scorer
from modelyard.sources.chunk_table import ChunkTable
from modelyard.sources.declared import open_source
from modelyard.sources.pages import KeyPages
from modelyard.sources.sql import SqlSource
from modelyard.storage.batch import BatchRow, BatchStore
from modelyard.storage.queue import RUNNING, JobStore
from modelyard.storage.schema import utcnow
from modelyard.types import ModelRef, OutputKind


@dataclass
class _Context:
    """What every chunk of one run needs."""

    job_id: str
    spec: BatchSpec
    version: int
    pages: KeyPages
    scorer: Scorer
    sink: Sink
    schema: pa.Schema
    kind: OutputKind


class BatchRunner:
    """Submits batch jobs and runs them (here, or a partition per executor task)."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        store: BatchStore,
        jobs: JobStore,
        executor: Executor,
        opener: Callable[[], BatchRunner] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``opener`` builds an equivalent runner where a partition task runs (another
        process, a Ray worker); without one, partitions run one after the other here.
        ``on_close`` releases what was opened for this runner."""
        self._settings = settings
        self._registry = registry
        self.store = store
        self.jobs = jobs
        self._executor = executor
        self._opener = opener
        self._on_close = on_close
        self._opened: list[SqlSource] = []

    def close(self) -> None:
        """Release the sources this runner opened (and what ``on_close`` names)."""
        for source in self._opened:
            source.close()
        self._opened.clear()
        if self._on_close is not None:
            self._on_close()

    # -- submit ------------------------------------------------------------------------

    def submit(
        self,
        spec: BatchSpec,
        job_id: str,
        *,
        held: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[BatchRow, bool]:
        """Store job ``job_id`` with the version ``spec.model`` points at now (pinned: a
        promotion meanwhile changes nothing in it), held until released if ``held``,
        ``extra`` stored beside the spec. The same id again returns the stored job
        (created False); Conflict if it was submitted with another spec."""
        check_job_id(job_id)
        self._source_spec(spec.source)
        if spec.output_source is not None:
            self._source_spec(spec.output_source)
        ref = ModelRef.parse(spec.model)
        version = self._registry.resolve(ref)
        stored, created = self.store.create(
            job_id, ref.name, version.version, {**spec.to_dict(), **(extra or {})}, held=held
        )
        if not created and BatchSpec.from_dict(stored.spec) != spec:
            raise Conflict(
                f"batch job {job_id} exists with another spec: give another --job-id, or "
                "the same options to resume it"
            )
        return stored, created

    # -- run ---------------------------------------------------------------------------

    def run_here(
        self,
        job_id: str,
        worker: str,
        *,
        heartbeat_s: float = 2.0,
        stop: threading.Event | None = None,
    ) -> BatchRow:
        """Take job ``job_id`` (queued, failed, or left running by a runner that stopped
        heartbeating) and run it in this process, heartbeating; returns the job as it
        ended. A failure is recorded on the job and raised. A job another runner holds
        is waited for until its heartbeat is stale (a runner that was killed), then taken."""
        self._take(job_id, worker, heartbeat_s)
        cancelled = stop or threading.Event()
        beating = threading.Event()

        def beat() -> None:
            while not beating.wait(heartbeat_s):
                try:
                    if not self.jobs.heartbeat(job_id, worker):
                        cancelled.set()
                        return
                except ModelyardError:
                    continue

        beater = threading.Thread(target=beat, name=f"batch-{job_id[:8]}", daemon=True)
        beater.start()
        try:
            result = self.execute(job_id, cancelled)
        except ModelyardError as exc:
            self.jobs.finish(job_id, worker, error=f"{exc.code}: {exc.message}")
            raise
        except Exception as exc:
            self.jobs.finish(job_id, worker, error=f"internal: {type(exc).__name__}: {exc}")
            raise
        else:
            self.jobs.finish(job_id, worker, result=result)
        finally:
            beating.set()
            beater.join(timeout=heartbeat_s + 1)
        return self.store.get(job_id)

    def _take(self, job_id: str, worker: str, heartbeat_s: float) -> None:
        stale = timedelta(seconds=3 * heartbeat_s)
        deadline = time.monotonic() + 4 * heartbeat_s + 1
        while True:
            try:
                self.store.take(job_id, worker, stale)
                return
            except Conflict:
                if self.store.get(job_id).state != RUNNING or time.monotonic() > deadline:
                    raise
                time.sleep(min(heartbeat_s, 1.0))

    def execute(self, job_id: str, cancelled: threading.Event) -> dict[str, Any]:
        """Score every partition of the job from its watermark on; returns the result
        (rows scored, rows skipped, outputs). Raises RunCancelled when ``cancelled`` is set."""
        row = self.store.get(job_id)
        context = self._context(row)
        ranges = self._ranges(row, context)
        positions = [context.sink.position(part) for part in range(len(ranges))]
        done = sum(p.rows for p in positions if p)
        skipped = sum(p.skipped for p in positions if p)
        total = context.pages.count()
        self.store.progress(job_id, rows_done=done, rows_skipped=skipped, rows_total=total)
        items = [(job_id, part) for part in range(len(ranges))]
        if len(items) > 1 and self._opener is not None:
            self._executor.map(score_partition, items, self._opener)
        else:
            for part in range(len(ranges)):
                self.run_partition(job_id, part, cancelled.is_set, context)
        final = self.store.get(job_id)
        return {
            "rows": final.rows_done,
            "skipped": final.rows_skipped,
            "outputs": context.sink.outputs(),
            "version": row.version,
        }

    def run_partition(
        self,
        job_id: str,
        part: int,
        stopped: Callable[[], bool],
        context: _Context | None = None,
    ) -> int:
        """Score partition ``part`` from its watermark to its end; returns rows written."""
        self.store.note_runner(job_id, part, f"{socket.gethostname()}:{os.getpid()}")
        row = self.store.get(job_id)
        context = context or self._context(row)
        after, upto = self._ranges(row, context)[part]
        spec = context.spec
        start = context.sink.position(part) or Position(0, after, 0, 0)
        # SQLite has one writer and readers that do not wait for it: its reads and
        # commits take turns (scoring still overlaps both); servers do both at once.
        io = threading.Lock() if context.pages.source.backend == "sqlite" else nullcontext()
        positions = [start]

        def pages() -> Iterator[pa.Table]:
            last = start.last_key
            while True:
                with io:
                    page = context.pages.page(spec.chunk_rows, after=last, upto=upto)
                if page.num_rows == 0:
                    return
                yield page
                if page.num_rows < spec.chunk_rows:
                    return
                last = page.column(spec.key)[-1].as_py()

        def score(page: pa.Table) -> tuple[pa.Table, list[dict[str, Any]], Any]:
            out, malformed = self._score(context, page)
            return out, malformed, page.column(spec.key)[-1].as_py()

        def commit(scored: tuple[pa.Table, list[dict[str, Any]], Any]) -> None:
            out, malformed, last_key = scored
            now = positions[-1]
            position = Position(
                now.seq + 1, last_key, now.rows + out.num_rows, now.skipped + len(malformed)
            )
            with io:
                context.sink.commit(part, out, position)
            positions.append(position)
            self.store.advance(job_id, out.num_rows, malformed)

        try:
            overlapped(pages(), score, commit, stopped)
        except Stopped:
            raise RunCancelled(f"batch job {job_id} was cancelled") from None
        return positions[-1].rows - start.rows

    def _score(self, context: _Context, page: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        spec = context.spec
        signature = context.scorer.signature
        columns, good, malformed = checked(page, signature, spec.key)
        if malformed and spec.on_error == "fail":
            first = malformed[0]
            raise InvalidInput(
                f"the row with {spec.key} = {first.key!r} cannot be scored: {first.reason} "
                "(--on-error skip scores the others and lists it)",
                code="malformed_row",
                key=first.key,
            )
        keys = page.column(spec.key).filter(pa.array(good))
        if len(keys):
            scored = context.scorer.score(columns)
            predictions = prediction_columns(scored.predictions, context.kind, scored.classes)
        else:
            predictions = {f.name: pa.array([], f.type) for f in context.schema if f.name not in (
                spec.key, "model_version", "job_id", "scored_at"
            )}  # fmt: skip
        out = output_table(
            keys, spec.key, predictions, context.version, context.job_id, utcnow()
        ).cast(context.schema)
        return out, [m.to_dict() for m in malformed]

    # -- building ----------------------------------------------------------------------

    def _context(self, row: BatchRow) -> _Context:
        spec = BatchSpec.from_dict(row.spec)
        source = self._sql_source(spec.source)
        pages = KeyPages(source, spec.key, query=spec.query, table=spec.table)
        input_schema = pages.schema()
        scorer = Scorer(self._registry, f"{row.model}:{row.version}", pin_threads=False)
        scorer.refresh()
        loaded = scorer.current
        if loaded is None:
            raise ModelUnavailable(
                f"{row.model}:{row.version} cannot score: {scorer.last_error or 'not loaded'}"
            )
        check_columns(input_schema.names, loaded.signature)
        kind = loaded.signature.output_kind if loaded.signature else OutputKind.RAW
        schema = self._output_schema(spec, row, scorer, input_schema, kind)
        sink = self._sink(spec, row.id)
        sink.prepare(schema)
        return _Context(row.id, spec, row.version, pages, scorer, sink, schema, kind)

    def _output_schema(
        self,
        spec: BatchSpec,
        row: BatchRow,
        scorer: Scorer,
        input_schema: pa.Schema,
        kind: OutputKind,
    ) -> pa.Schema:
        """The output columns, from one example row scored (the key keeps its type)."""
        loaded = scorer.current
        assert loaded is not None
        if loaded.signature is None:
            raise InvalidInput(
                f"{row.model}:{row.version} has no signature: batch scoring needs one "
                "(register it with an input example)",
                code="no_signature",
            )
        example = example_frame(loaded.signature, loaded.version.profile)
        scored = scorer.score(example)
        predictions = prediction_columns(np.asarray(scored.predictions), kind, scored.classes)
        key_type = input_schema.field(spec.key).type
        keys = pa.array([], key_type)
        fields = [pa.field(spec.key, key_type)]
        fields += [pa.field(name, array.type) for name, array in predictions.items()]
        sample = output_table(keys, spec.key, {}, row.version, row.id, utcnow())
        fields += [f for f in sample.schema if f.name != spec.key]
        return pa.schema(fields)

    def _ranges(self, row: BatchRow, context: _Context) -> list[Range]:
        """The partitions' key ranges, fixed at the job's first run (stored on the job)."""
        stored = row.spec.get("ranges")
        if stored:
            return [(a, b) for a, b in stored]
        spec = context.spec
        if spec.partitions == 1:
            ranges: list[Range] = [(None, None)]
        else:
            low, high = context.pages.bounds()
            ranges = split_range(low, high, spec.partitions)
        self.store.set_ranges(row.id, [list(r) for r in ranges])
        return ranges

    def _sink(self, spec: BatchSpec, job_id: str) -> Sink:
        if spec.output_table is not None:
            target = self._sql_source(spec.output_source or spec.source)
            return TableSink(ChunkTable(target, spec.output_table), job_id)
        assert spec.output is not None
        output = local_output(spec.output, self._settings.root)
        return FileSink(ChunkFiles(output, self.store, job_id))

    def _source_spec(self, name: str) -> Any:
        found = self._settings.sources.get(name)
        if found is None:
            known = ", ".join(sorted(self._settings.sources)) or "none"
            raise ConfigError(f"no source named {name!r} in modelyard.toml (declared: {known})")
        return found

    def _sql_source(self, name: str) -> SqlSource:
        source = open_source(name, self._source_spec(name), self._settings.root)
        if not isinstance(source, SqlSource):
            raise ConfigError(f"source {name} is a file: batch scoring reads SQL sources")
        self._opened.append(source)
        return source
