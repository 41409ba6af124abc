"""Batch scoring, PostgreSQL -> PostgreSQL: modelyard against a hand-written pandas loop and
against its own reader and writer with no scoring (the I/O limit), in one run.

    .venv/bin/python bench/batch.py [--rows 1000000] [--chunk-rows 100000] [--rss 4000000]
        [--model xgboost|logistic] [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A fresh database gets ``--rows`` churn rows (seed 003, an integer primary key ``id``) and
seed 003's churn pipeline (one-hot + scaler + XGBoost, or a logistic regression) is
registered. Then, each into a table of its own:

- modelyard: ``ws.batch.score`` (keyset pages read by ADBC, the compiled scorer, chunks
  ingested by COPY with their watermark in one transaction);
- pandas: ``pandas.read_sql(..., chunksize=N)`` + ``pipeline.predict_proba`` + ``to_sql``
  (what one writes by hand);
- I/O limit: the same pages read and the same chunks committed, overlapped as the job
  overlaps them, with no scoring.

Prints rows/s of each and the ratios (targets: modelyard >= 5x pandas, >= 60 % of the I/O
limit). With ``--rss N``, the peak RSS of a process scoring ``--rows`` rows and of one
scoring N rows (target: < 20 % apart: memory is bounded by the chunk, not the input).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers, from the repo

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sklearn.compose import make_column_transformer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.helpers.batch import FEATURES, churn_rows, fitted_pipeline, write_rows

from modelyard import Workspace
from modelyard.batch.overlap import overlapped
from modelyard.config.secret import SecretURL
from modelyard.config.settings import Settings
from modelyard.sources.chunk_table import ChunkTable, Watermark
from modelyard.sources.pages import KeyPages
from modelyard.sources.sql import SqlSource
from modelyard.training.demo_data import CHURN_CATEGORICAL, CHURN_NUMERIC
from modelyard.types import OutputKind


def xgboost_pipeline(frame: pd.DataFrame) -> Pipeline:
    """Seed 003's churn pipeline: one-hot + scaler + XGBoost (100 trees, depth 4)."""
    from xgboost import XGBClassifier

    head = frame.head(20_000)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), list(CHURN_CATEGORICAL)),
        (StandardScaler(), list(CHURN_NUMERIC)),
    )
    model = XGBClassifier(n_estimators=100, max_depth=4, random_state=0)
    return make_pipeline(encode, model).fit(head[FEATURES], head["Exited"])


def database(admin: str) -> str:
    """A fresh database on the server of ``admin``; returns its URL."""
    name = f"bench_batch_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return sa.make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop(admin: str, url: str) -> None:
    """Drop the database of ``url``."""
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {sa.make_url(url).database} WITH (FORCE)")
    engine.dispose()


def workspace(root: Path, url: str) -> Workspace:
    """A SQLite registry with the bench database as source ``wh``."""
    raw = {
        "registry": {"database_url": f"sqlite:///{root / 'registry.db'}"},
        "sources": {"wh": {"url": url}},
    }
    return Workspace(Settings.from_mapping(raw, root=root, env={}))


def modelyard_rows_s(ws: Workspace, table: str, rows: int, chunk: int) -> float:
    """rows/s of ``ws.batch.score`` from ``table`` into a new table."""
    started = time.perf_counter()
    job = ws.batch.score(
        "churn", source="wh", table=table, key="id", output_table=f"my_{uuid.uuid4().hex[:6]}",
        chunk_rows=chunk,
    )  # fmt: skip
    took = time.perf_counter() - started
    assert job.status == "succeeded" and job.progress.done == rows, job.error
    return rows / took


def pandas_rows_s(url: str, model: Pipeline, table: str, rows: int, chunk: int) -> float:
    """rows/s of the hand-written loop: read_sql chunks, predict_proba, to_sql."""
    engine = sa.create_engine(url)
    out = f"pd_{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    done = 0
    with engine.connect() as conn:
        for part in pd.read_sql(f"SELECT * FROM {table} ORDER BY id", conn, chunksize=chunk):
            proba = model.predict_proba(part[FEATURES])
            scored = pd.DataFrame(
                {"id": part["id"], "proba_0": proba[:, 0], "proba_1": proba[:, 1]}
            )
            scored.to_sql(out, engine, if_exists="append", index=False)
            done += len(part)
    took = time.perf_counter() - started
    engine.dispose()
    assert done == rows
    return rows / took


def io_rows_s(url: str, table: str, rows: int, chunk: int) -> float:
    """rows/s of modelyard's reader and writer alone, overlapped as the job overlaps them
    (the next page read while the last chunk commits): pages read, chunks committed with
    their watermark, the same output columns with constant predictions (no scoring)."""
    source = SqlSource("wh", SecretURL(url))
    pages = KeyPages(source, "id", table=table)
    sink = ChunkTable(source, f"io_{uuid.uuid4().hex[:6]}")
    job = uuid.uuid4().hex
    state = {"seq": 0, "done": 0, "prepared": False}

    def read() -> Iterator[pa.Table]:
        after = None
        while True:
            page = pages.page(chunk, after=after)
            if page.num_rows == 0:
                return
            yield page
            if page.num_rows < chunk:
                return
            after = page.column("id")[-1].as_py()

    def constant(page: pa.Table) -> pa.Table:
        n = page.num_rows
        return pa.table(
            {
                "id": page.column("id"),
                "prediction": pa.array([0] * n, pa.int64()),
                "proba_0": pa.array([0.5] * n, pa.float64()),
                "proba_1": pa.array([0.5] * n, pa.float64()),
                "model_version": pa.array([1] * n, pa.int64()),
                "job_id": pa.array([job] * n, pa.string()),
                "scored_at": pa.array([pd.Timestamp.now(tz="UTC")] * n, pa.timestamp("us", "UTC")),
            }
        )

    def commit(out: pa.Table) -> None:
        if not state["prepared"]:
            sink.prepare(out.schema)
            state["prepared"] = True
        state["seq"] += 1
        state["done"] += out.num_rows
        last = out.column("id")[-1].as_py()
        sink.commit(job, 0, out, Watermark(state["seq"], last, state["done"], 0))

    started = time.perf_counter()
    overlapped(read(), constant, commit, lambda: False)
    took = time.perf_counter() - started
    source.close()
    assert state["done"] == rows
    return rows / took


RSS_CHILD = r"""
import json, re, sys
from pathlib import Path
from modelyard import Workspace
ws = Workspace.from_config(Path(sys.argv[1]))
job = ws.batch.score("churn", source="wh", table=sys.argv[2], key="id",
                     output_table="rss_" + sys.argv[2], chunk_rows=int(sys.argv[3]))
assert job.status == "succeeded", job.error
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
hwm = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
print(json.dumps({"rows": job.progress.done, "peak_mib": int(hwm.group(1)) / 1024}))
"""


def peak_rss(root: Path, table: str, chunk: int) -> tuple[int, float]:
    """(rows scored, peak RSS MiB) of a fresh process scoring ``table``."""
    done = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(root), table, str(chunk)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return int(found["rows"]), float(found["peak_mib"])


def main() -> None:
    """Run the three measurements (and the RSS pair) and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--rss", type=int, default=0, help="also compare peak RSS with N rows")
    parser.add_argument("--model", choices=("xgboost", "logistic"), default="xgboost")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    url = database(args.url)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            frame = churn_rows(args.rows)
            print(f"writing {args.rows:,} churn rows into PostgreSQL ...", flush=True)
            write_rows(url, frame, "customers")
            model = xgboost_pipeline(frame) if args.model == "xgboost" else fitted_pipeline(frame)
            (root / "modelyard.toml").write_text(
                f'[registry]\ndatabase_url = "sqlite:///registry.db"\n[sources.wh]\nurl = "{url}"\n'
            )
            with workspace(root, url) as ws:
                version = ws.models.register(
                    "churn", model, input_example=frame[FEATURES].head(100),
                    output_kind=OutputKind.PROBABILITIES,
                )  # fmt: skip
                ws.models.promote("churn", version.version)
                del frame
                ours = modelyard_rows_s(ws, "customers", args.rows, args.chunk_rows)
                print(f"modelyard batch score   {ours:>12,.0f} rows/s", flush=True)
            io = io_rows_s(url, "customers", args.rows, args.chunk_rows)
            print(f"I/O limit (no scoring)  {io:>12,.0f} rows/s", flush=True)
            hand = pandas_rows_s(url, model, "customers", args.rows, args.chunk_rows)
            print(f"pandas read_sql+to_sql  {hand:>12,.0f} rows/s", flush=True)
            print(f"modelyard / pandas      {ours / hand:>12.1f}x   (target >= 5x)")
            print(f"modelyard / I/O limit   {ours / io:>12.0%}    (target >= 60 %)")
            if args.rss:
                print(f"writing {args.rss:,} more rows for the RSS comparison ...", flush=True)
                write_rows(url, churn_rows(args.rss), "customers_big")
                small = peak_rss(root, "customers", args.chunk_rows)
                big = peak_rss(root, "customers_big", args.chunk_rows)
                print(f"peak RSS {small[0]:>9,} rows  {small[1]:>8.0f} MiB")
                print(f"peak RSS {big[0]:>9,} rows  {big[1]:>8.0f} MiB")
                print(f"RSS difference          {abs(big[1] - small[1]) / small[1]:>12.0%}    "
                      "(target < 20 %)")  # fmt: skip
    finally:
        drop(args.url, url)


if __name__ == "__main__":
    main()
