"""Demo data sets for the two seed flows, written into any source.

- ``immo`` (seed 000): ``surface`` (m²) -> ``prix`` (€), linear with realistic noise;
  ``noisy=True`` drowns the signal so that a training fails its r2 >= 0.8 gate.
- ``churn`` (seed 003): the bank-churn columns -> ``Exited``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from modelyard.errors import ConfigError
from modelyard.sources.base import IfExists, Source

DATASETS = ("immo", "churn")


def immo(rows: int, *, seed: int = 0, noisy: bool = False) -> pd.DataFrame:
    """Flats: price = 3,000 EUR/m2 * surface + 20,000 EUR + noise (very large if ``noisy``)."""
    rng = np.random.default_rng(seed)
    surface = rng.uniform(15, 150, rows).round(1)
    spread = 250_000 if noisy else 15_000
    price = 20_000 + 3_000 * surface + rng.normal(0, spread, rows)
    return pd.DataFrame({"surface": surface, "prix": price.round(0)})


def churn(rows: int, *, seed: int = 0) -> pd.DataFrame:
    """Bank customers as in seed 003; ``Exited`` depends on age, activity, country, products."""
    rng = np.random.default_rng(seed)
    geography = rng.choice(["France", "Germany", "Spain"], rows, p=[0.5, 0.25, 0.25])
    gender = rng.choice(["Female", "Male"], rows)
    age = rng.integers(18, 92, rows)
    tenure = rng.integers(0, 11, rows)
    balance = np.where(rng.random(rows) < 0.35, 0.0, rng.normal(120_000, 30_000, rows)).round(2)
    products = rng.choice([1, 2, 3, 4], rows, p=[0.5, 0.45, 0.04, 0.01])
    active = rng.integers(0, 2, rows)
    logit = (
        -3.2
        + 0.065 * (age - 38)
        - 1.0 * active
        + 0.8 * (geography == "Germany")
        + 0.3 * (gender == "Female")
        + 1.6 * (products >= 3)
        - 0.6 * (products == 2)
        + 0.000003 * balance
    )
    exited = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            "CreditScore": rng.integers(350, 851, rows),
            "Geography": geography,
            "Gender": gender,
            "Age": age,
            "Tenure": tenure,
            "Balance": balance,
            "NumOfProducts": products,
            "HasCrCard": rng.integers(0, 2, rows),
            "IsActiveMember": active,
            "EstimatedSalary": rng.uniform(10_000, 200_000, rows).round(2),
            "Exited": exited,
        }
    )


def generate(kind: str, rows: int, *, seed: int = 0, noisy: bool = False) -> pd.DataFrame:
    """The ``kind`` data set (``immo`` or ``churn``) with ``rows`` rows."""
    if rows < 1:
        raise ConfigError("--rows must be at least 1")
    if kind == "immo":
        return immo(rows, seed=seed, noisy=noisy)
    if kind == "churn":
        return churn(rows, seed=seed)
    raise ConfigError(f"unknown demo data set {kind!r}: choose one of {', '.join(DATASETS)}")


def write_demo(
    source: Source,
    kind: str,
    rows: int,
    *,
    table: str | None = None,
    seed: int = 0,
    noisy: bool = False,
    if_exists: IfExists = "append",
) -> int:
    """Generate ``kind`` and write it into ``table`` (default: the data set's name)."""
    frame = generate(kind, rows, seed=seed, noisy=noisy)
    return source.write(
        pa.Table.from_pandas(frame, preserve_index=False), table or kind, if_exists=if_exists
    )


CHURN_CATEGORICAL = ("Geography", "Gender")
CHURN_NUMERIC = (
    "CreditScore",
    "Age",
    "Tenure",
    "Balance",
    "NumOfProducts",
    "HasCrCard",
    "IsActiveMember",
    "EstimatedSalary",
)


def churn_training(source: str, table: str, **overrides: object) -> dict[str, object]:
    """Seed 003's churn training as a ``[trainings.NAME]`` table: one-hot + scaler +
    XGBoost, gated on roc_auc; ``overrides`` replace top-level keys."""
    declaration: dict[str, object] = {
        "source": source,
        "table": table,
        "target": "Exited",
        "steps": [
            {
                "name": "onehot",
                "estimator": "sklearn.preprocessing.OneHotEncoder",
                "params": {"handle_unknown": "ignore"},
                "columns": list(CHURN_CATEGORICAL),
            },
            {
                "name": "scale",
                "estimator": "sklearn.preprocessing.StandardScaler",
                "columns": list(CHURN_NUMERIC),
            },
        ],
        "estimator": "xgboost.XGBClassifier",
        "params": {"n_estimators": 100, "max_depth": 4, "random_state": 0},
        "evaluation": {"holdout": 0.2, "seed": 42},
        "promotion": {"metric": "roc_auc", "min": 0.7},
    }
    declaration.update(overrides)
    return declaration
