"""A scoring server with two endpoints, for the protocol tests: ``immo`` (one numeric
column, regression) and ``churn`` (seed 003's bank-churn table: string columns, a
OneHotEncoder + LogisticRegression pipeline answering probabilities)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelyard import Workspace
from modelyard.config.serve import ServeOptions
from modelyard.types import OutputKind
from modelyard.web.app import create_app
from tests.conftest import make_settings
from tests.helpers.models import fitted_immo
from tests.helpers.server import running

ADMIN_KEY = "admin-secret"


def churn_frame(rows: int = 80, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Customers as in seed 003 (Geography and Gender are strings) and whether they left."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "CreditScore": rng.integers(400, 850, rows),
            "Geography": rng.choice(["France", "Germany", "Spain"], rows),
            "Gender": rng.choice(["Female", "Male"], rows),
            "Age": rng.integers(18, 80, rows),
            "Balance": rng.uniform(0, 200_000, rows).round(2),
        }
    )
    exited = ((frame["Geography"] == "Germany") | (frame["Age"] > 55)).astype("int64")
    return frame, exited.rename("Exited")


def fitted_churn() -> tuple[Pipeline, pd.DataFrame]:
    """A fitted pipeline that refuses categories it never saw (to test model failures)."""
    frame, target = churn_frame()
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="error"), ["Geography", "Gender"]),
            ("num", StandardScaler(), ["CreditScore", "Age", "Balance"]),
        ]
    )
    pipe = Pipeline([("prep", encode), ("clf", LogisticRegression(max_iter=1000))])
    return pipe.fit(frame, target), frame


@dataclass(frozen=True)
class Served:
    """The running server: its base URL, workspace and each endpoint's primary key."""

    ws: Workspace
    base: str
    keys: dict[str, str]
    framework: str = ""  # a second server on the same workspace without the fast route
    asgi: str = ""  # a third with the fast route but uvicorn's protocol: no scoring lane

    def auth(self, endpoint: str) -> dict[str, str]:
        """The Authorization header of ``endpoint``."""
        return {"Authorization": f"Bearer {self.keys[endpoint]}"}

    def wait_served(self, endpoint: str, timeout_s: float = 30.0) -> None:
        """Wait until every server here serves ``endpoint`` (created after they started:
        their follow thread picks it up within its period)."""
        for base in filter(None, (self.base, self.framework, self.asgi)):
            deadline = time.monotonic() + timeout_s
            url = f"{base}/endpoints/{endpoint}/"
            while httpx.get(url, headers=self.auth(endpoint)).status_code != 200:
                assert time.monotonic() < deadline, f"{base} does not serve {endpoint}"
                time.sleep(0.05)


@contextmanager
def serving_immo_and_churn(
    root: Path,
    max_body_bytes: int = 1 << 20,
    cors_origins: tuple[str, ...] = (),
    *,
    framework: bool = False,
) -> Iterator[Served]:
    """Register, promote and serve both models until the block ends (with ``[serve]
    cors_origins`` if given; with ``framework``, also from a second server without the
    plain-ASGI fast route, ``Served.framework``, and a third with it but without the
    protocol's scoring lane, ``Served.asgi``)."""
    serve = {"cors_origins": list(cors_origins)} if cors_origins else {}
    ws = Workspace(
        make_settings(
            root, f"sqlite:///{root / 'r.db'}", security={"admin_key": ADMIN_KEY}, serve=serve
        )
    )
    immo, immo_rows = fitted_immo()
    ws.models.register("immo", immo, input_example=immo_rows)
    ws.models.promote("immo", 1)
    churn, churn_rows = fitted_churn()
    ws.models.register(
        "churn", churn, input_example=churn_rows, output_kind=OutputKind.PROBABILITIES
    )
    ws.models.promote("churn", 1)
    keys = {
        name: (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
        for name in ("immo", "churn")
    }
    limits = ServeOptions(max_body_bytes=max_body_bytes)
    app = create_app(ws, limits=limits, follow_interval=0.2)
    try:
        with running(app) as base, ExitStack() as more:
            slow = asgi = ""
            if framework:
                plain = create_app(ws, limits=limits, follow_interval=0.2, fast_route=False)
                slow = more.enter_context(running(plain))
                fast = create_app(ws, limits=limits, follow_interval=0.2)
                asgi = more.enter_context(running(fast, lane=False))
            yield Served(ws, base, keys, slow, asgi)
    finally:
        ws.close()


def json_documents() -> st.SearchStrategy[Any]:
    """Arbitrary JSON, biased towards the keys the protocols look for."""
    keys = st.sampled_from(
        [
            "data", "inputs", "instances", "dataframe_split", "dataframe_records", "columns",
            "index", "params", "name", "shape", "datatype", "parameters", "content_type",
            "binary_data_size", "outputs", "id", "Inputs", "input1", "ColumnNames", "Values",
            "GlobalParameters", "surface", "Geography",
        ]
    )  # fmt: skip
    scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=5)
    scalars = scalars | st.floats(allow_nan=False, allow_infinity=False)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=20,
    )


def immo_predictions(*surfaces: float) -> list[float]:
    """What the immo model of ``fitted_immo()`` predicts for these surfaces."""
    est, _ = fitted_immo()
    return [float(v) for v in est.predict(pd.DataFrame({"surface": list(surfaces)}))]
