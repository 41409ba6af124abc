"""Small real models and frames for tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression

from modelyard import Workspace


def immo_frame(rows: int = 50, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Surfaces and prices, as in seed 000's immo table."""
    rng = np.random.default_rng(seed)
    surface = rng.uniform(15, 150, rows).round(1)
    price = surface * 3000 + rng.normal(0, 5000, rows)
    return pd.DataFrame({"surface": surface}), pd.Series(price, name="prix")


def fitted_immo(seed: int = 0) -> tuple[LinearRegression, pd.DataFrame]:
    """A fitted linear regression on immo data and its input frame."""
    frame, target = immo_frame(seed=seed)
    return LinearRegression().fit(frame, target), frame


def register_constants(ws: Workspace, name: str, *constants: float) -> list[int]:
    """Register one version of ``name`` per constant, predicting exactly that constant
    whatever the input (column ``x``): an answer says which version made it. Returns the
    version numbers."""
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    versions = []
    for k in constants:
        model = DummyRegressor(strategy="constant", constant=float(k)).fit(frame, [0.0] * 3)
        versions.append(ws.models.register(name, model, input_example=frame).version)
    return versions
