"""Compiled scorers: numpy preprocessing bit-identical to sklearn, trees and linear models within
1e-6 of the original, and a fallback to the original (with its reason) for everything else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from xgboost import XGBClassifier, XGBRegressor

from modelyard.registry.signature import infer_signature
from modelyard.serving.compile.base import Compiled, Fallback, NeedsOriginal
from modelyard.serving.compile.compiler import compile_model, try_compile
from modelyard.serving.compile.transforms import column_stage
from modelyard.serving.compile.trees import BULK_ROWS, INPLACE, ONNX, candidates
from modelyard.training.demo_data import churn
from modelyard.types import OutputKind

CATEGORICAL = ["Geography", "Gender"]
NUMERIC = [
    "CreditScore",
    "Age",
    "Tenure",
    "Balance",
    "NumOfProducts",
    "HasCrCard",
    "IsActiveMember",
    "EstimatedSalary",
]


def churn_columns(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    frame = churn(rows, seed=seed)
    return frame.drop(columns=["Exited"]), frame["Exited"]


def with_unseen(frame: pd.DataFrame) -> pd.DataFrame:
    """Every 7th row from a country, every 11th of a gender, no training set holds."""
    out = frame.reset_index(drop=True).astype({"Geography": object, "Gender": object})
    out.loc[::7, "Geography"] = "Italy"
    out.loc[::11, "Gender"] = "Other"
    return out


def columns_step(
    encoder: OneHotEncoder | None = None, remainder: str = "drop"
) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("onehot", encoder or OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("scale", StandardScaler(), NUMERIC),
        ],
        remainder=remainder,
    )


@pytest.fixture(scope="module")
def churn_model() -> tuple[Pipeline, pd.DataFrame]:
    """Seed 003's churn pipeline fitted on 2,000 rows; a 1,000-row holdout with unseen values."""
    x, y = churn_columns(2000, seed=1)
    model = Pipeline(
        [
            ("columns", columns_step()),
            (
                "model",
                XGBClassifier(
                    n_estimators=60,
                    max_depth=3,
                    learning_rate=0.1,
                    tree_method="hist",
                    random_state=0,
                ),
            ),
        ]
    ).fit(x, y)
    holdout, _ = churn_columns(1000, seed=2)
    return model, with_unseen(holdout)


def probabilities(frame: pd.DataFrame) -> Any:
    return infer_signature(frame, OutputKind.PROBABILITIES)


def test_churn_pipeline_compiles_within_1e6_of_sklearn_on_a_1000_row_holdout(
    churn_model: tuple[Pipeline, pd.DataFrame],
) -> None:
    model, holdout = churn_model
    compiled = compile_model(model, probabilities(holdout), holdout)
    assert compiled is not None
    assert compiled.path in ("numpy+onnxruntime", "numpy+xgboost-inplace")
    assert compiled.method == "predict_proba" and compiled.rows == 1000
    expected = model.predict_proba(holdout)
    got = compiled(holdout)
    assert got.dtype == expected.dtype and got.shape == (1000, 2)
    assert np.abs(got - expected).max() <= 1e-6
    # max_diff is the worst of the whole sample and of its 64-row slices (the ONNX way).
    assert np.abs(got - expected).max() <= compiled.max_diff <= 1e-6
    # Rows it was not verified on, passed as numpy columns by name.
    fresh, _ = churn_columns(500, seed=3)
    columns = {name: fresh[name].to_numpy() for name in fresh.columns}
    assert np.abs(compiled(columns) - model.predict_proba(fresh)).max() <= 1e-6


def test_xgboost_inplace_path_on_the_numpy_matrix_is_bit_identical(
    churn_model: tuple[Pipeline, pd.DataFrame],
) -> None:
    model, holdout = churn_model
    ways = dict(candidates(model[-1], "predict_proba", sparse=False))
    kernel = ways[INPLACE]()
    stage = column_stage(model[0], list(holdout.columns))
    columns = {name: holdout[name].to_numpy() for name in holdout.columns}
    assert np.array_equal(kernel(stage(columns, len(holdout))), model.predict_proba(holdout))


def test_the_onnx_way_hands_large_matrices_to_xgboosts_own_predictor(
    churn_model: tuple[Pipeline, pd.DataFrame],
) -> None:
    model, holdout = churn_model
    kernel = dict(candidates(model[-1], "predict_proba", sparse=False))[ONNX]()
    stage = column_stage(model[0], list(holdout.columns))
    columns = {name: holdout[name].to_numpy() for name in holdout.columns}
    matrix = stage(columns, len(holdout))
    expected = model.predict_proba(holdout)
    # From BULK_ROWS rows on: XGBoost's predictor, bit for bit the original.
    assert np.array_equal(kernel(matrix[:BULK_ROWS]), expected[:BULK_ROWS])
    # Below: ONNX Runtime's float32 trees, close but (on some row) not bit-identical.
    few = np.concatenate([kernel(matrix[i : i + 8]) for i in range(0, BULK_ROWS, 8)])
    assert np.abs(few - expected[:BULK_ROWS]).max() <= 1e-6
    assert not np.array_equal(few, expected[:BULK_ROWS])


def test_a_candidate_is_verified_in_small_slices_as_well_as_whole(
    churn_model: tuple[Pipeline, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, holdout = churn_model
    from modelyard.serving.compile import onnx_trees

    real = onnx_trees.session

    def off_by_1e3(*args: Any) -> Any:  # the few-rows way, broken
        run = real(*args)
        return lambda matrix: run(matrix) + 1e-3

    monkeypatch.setattr(onnx_trees, "session", off_by_1e3)
    outcome = try_compile(model, probabilities(holdout), holdout)
    # Whole, the 1,000 rows go to XGBoost's predictor; the slices catch the broken way.
    assert isinstance(outcome, Compiled) and outcome.path == INPLACE, outcome


def test_onehot_and_scaler_reproduction_is_bit_identical_to_sklearn(
    churn_model: tuple[Pipeline, pd.DataFrame],
) -> None:
    model, holdout = churn_model
    transformer = model[0]
    columns = {name: holdout[name].to_numpy() for name in holdout.columns}
    ours = column_stage(transformer, list(holdout.columns))(columns, len(holdout))
    theirs = transformer.transform(holdout)
    assert ours.dtype == theirs.dtype and ours.flags.c_contiguous
    assert np.abs(ours - theirs).max() == 0.0
    assert np.array_equal(ours, theirs)
    for i in range(12):  # one row at a time, as requests come
        one = {name: values[i : i + 1] for name, values in columns.items()}
        assert np.array_equal(
            column_stage(transformer, list(holdout.columns))(one, 1), theirs[i : i + 1]
        )


def test_each_transformer_alone_matches_sklearn_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "city": np.array(["Lyon", "Paris", "Nice", "Lille"], dtype=object)[
                rng.integers(0, 4, 300)
            ],
            "rooms": rng.integers(1, 7, 300),
            "surface": rng.lognormal(4, 0.6, 300) * 1e3,
        }
    )
    later = frame.astype({"city": object}).copy()
    later.loc[::5, "city"] = "Brest"
    later.loc[3, "city"] = None
    later.loc[4, "city"] = np.nan
    columns = {name: later[name].to_numpy() for name in later.columns}
    for transformer, used, remainder in [
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city", "rooms"], "drop"),
        (OneHotEncoder(handle_unknown="ignore", dtype=np.float32), ["city"], "passthrough"),
        (StandardScaler(), ["rooms", "surface"], "drop"),
        (StandardScaler(with_mean=False), ["surface"], "drop"),
        (StandardScaler(with_std=False), ["rooms", "surface"], "drop"),
    ]:
        step = ColumnTransformer([("t", transformer, used)], remainder=remainder)
        step.fit(frame)
        ours = column_stage(step, list(frame.columns))(columns, len(later))
        theirs = step.transform(later)
        assert ours.dtype == theirs.dtype, transformer
        assert np.array_equal(ours, theirs), transformer
    flags = rng.integers(0, 2, 300).astype(bool)
    scaler = StandardScaler().fit(pd.DataFrame({"flag": flags, "surface": frame["surface"]}))
    step = ColumnTransformer([("t", scaler, ["flag", "surface"])])
    step.fit(frame.assign(flag=flags))
    ours = column_stage(step, ["flag", "surface"])(
        {"flag": flags, "surface": frame["surface"].to_numpy()}, 300
    )
    assert np.array_equal(ours, step.transform(frame.assign(flag=flags)))


def test_an_unsupported_step_falls_back_with_the_reason() -> None:
    x, y = churn_columns(400, seed=5)
    step = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("mm", MinMaxScaler(), NUMERIC),
        ]
    )
    model = Pipeline([("columns", step), ("model", LogisticRegression(max_iter=500))]).fit(x, y)
    outcome = try_compile(model, probabilities(x), x)
    assert isinstance(outcome, Fallback) and outcome.path == "original"
    assert "MinMaxScaler is not compiled" in outcome.reason
    assert compile_model(model, probabilities(x), x) is None


def test_a_compiled_scorer_that_differs_by_more_than_1e6_is_refused() -> None:
    x, y = churn_columns(600, seed=6)
    y = x["Balance"] * 10 + x["EstimatedSalary"]  # large values: float32 trees differ by > 1e-6
    model = Pipeline(
        [("columns", columns_step()), ("model", XGBRegressor(n_estimators=20, max_depth=4))]
    ).fit(x, y)
    outcome = try_compile(model, infer_signature(x, OutputKind.REGRESSION), x)
    assert isinstance(outcome, Compiled)
    # ONNX Runtime's float32 sums miss by more than 1e-6 here; XGBoost's own predictor is exact.
    assert outcome.path == "numpy+xgboost-inplace", outcome
    assert outcome.max_diff == 0.0


def test_linear_regression_and_ridge_run_as_one_dot_product() -> None:
    x, _ = churn_columns(500, seed=7)
    price = x["Balance"] * 0.3 + x["Age"] * 1000.0
    for final in (LinearRegression(), Ridge(alpha=2.0)):
        model = Pipeline([("columns", columns_step()), ("model", final)]).fit(x, price)
        compiled = compile_model(model, infer_signature(x, OutputKind.REGRESSION), x)
        assert compiled is not None and compiled.path == "numpy-linear"
        assert np.abs(compiled(x) - model.predict(x)).max() <= 1e-6
    bare = LinearRegression().fit(x[NUMERIC], price)
    compiled = compile_model(bare, infer_signature(x[NUMERIC], OutputKind.REGRESSION), x[NUMERIC])
    assert compiled is not None and compiled.path == "numpy-linear"
    assert np.abs(compiled(x[NUMERIC]) - bare.predict(x[NUMERIC])).max() <= 1e-6


def test_logistic_regression_probabilities_and_labels() -> None:
    x, y = churn_columns(800, seed=8)
    binary = Pipeline([("columns", columns_step()), ("model", LogisticRegression())]).fit(x, y)
    compiled = compile_model(binary, probabilities(x), with_unseen(x))
    assert compiled is not None and compiled.path == "numpy-linear"
    assert np.abs(compiled(x) - binary.predict_proba(x)).max() <= 1e-6
    products = x["NumOfProducts"].map({1: "one", 2: "two", 3: "more", 4: "more"})
    multi = Pipeline([("columns", columns_step()), ("model", LogisticRegression())]).fit(
        x, products
    )
    soft = compile_model(multi, probabilities(x), x)
    assert soft is not None and soft(x).shape == (800, 3)
    assert np.abs(soft(x) - multi.predict_proba(x)).max() <= 1e-6
    labels = compile_model(multi, infer_signature(x, OutputKind.CLASS), x)
    assert labels is not None and labels.method == "predict"
    assert list(labels(x)) == list(multi.predict(x))


def test_inputs_it_does_not_reproduce_go_back_to_the_original() -> None:
    x, y = churn_columns(300, seed=9)
    strict = Pipeline(
        [("columns", columns_step(OneHotEncoder())), ("model", LogisticRegression())]
    ).fit(x, y)
    compiled = compile_model(strict, probabilities(x), x)
    assert compiled is not None
    with pytest.raises(NeedsOriginal):
        compiled(with_unseen(x))  # sklearn raises on the unknown category; so will the original
    with pytest.raises(NeedsOriginal):
        compiled(x.astype({"Balance": np.float32}))  # sklearn would compute in float32
    with pytest.raises(NeedsOriginal):
        compiled(x.drop(columns=["Age"]))


def test_a_bare_xgboost_model_with_early_stopping_compiles_and_checks_column_order() -> None:
    x, y = churn_columns(3000, seed=10)
    numbers = x[NUMERIC]
    model = XGBClassifier(n_estimators=200, max_depth=3, early_stopping_rounds=5)
    model.fit(numbers[:2000], y[:2000], eval_set=[(numbers[2000:], y[2000:])], verbose=False)
    assert model.best_iteration < 199  # only the trees up to the best iteration count
    holdout = numbers[2000:]
    compiled = compile_model(model, probabilities(numbers), holdout)
    assert compiled is not None
    assert np.abs(compiled(holdout) - model.predict_proba(holdout)).max() <= 1e-6
    labels = compile_model(model, infer_signature(numbers, OutputKind.CLASS), holdout)
    assert labels is not None and np.array_equal(labels(holdout), model.predict(holdout))
    with pytest.raises(NeedsOriginal):  # XGBoost checks the order of a frame's columns
        compiled(holdout[list(reversed(NUMERIC))])


def test_trees_fed_a_sparse_matrix_fall_back_but_a_linear_model_compiles() -> None:
    x, y = churn_columns(1000, seed=11)
    x = x.assign(Branch=[f"b{i % 400}" for i in range(len(x))])  # many categories: sparse output
    for final, compiles in ((XGBClassifier(n_estimators=10), False), (LogisticRegression(), True)):
        step = ColumnTransformer(
            [
                ("onehot", OneHotEncoder(handle_unknown="ignore"), ["Branch", "Geography"]),
                ("scale", StandardScaler(), ["Age"]),
            ]
        )
        model = Pipeline([("columns", step), ("model", final)]).fit(x, y)
        assert model[0].sparse_output_
        outcome = try_compile(model, probabilities(x), x)
        assert isinstance(outcome, Compiled) is compiles, outcome
        if isinstance(outcome, Fallback):
            assert "sparse" in outcome.reason
        else:
            assert np.abs(outcome(x) - model.predict_proba(x)).max() <= 1e-6
