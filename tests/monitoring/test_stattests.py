"""Drift statistics against the reference profile agree with the textbook computations
on the raw reference (scipy's, as Evidently calls them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from modelyard.config.monitoring import DriftSettings, FeatureRule
from modelyard.monitoring import stattests
from modelyard.monitoring.drift import dataset_drift
from modelyard.monitoring.profile import profile_frame, profile_series

RNG = np.random.default_rng(3)


def test_ks_on_a_small_reference_is_scipys_two_sample_test() -> None:
    reference = RNG.normal(0, 1, 800)
    current = RNG.normal(0.3, 1, 3000)
    entry = profile_series(pd.Series(reference))
    outcome = stattests.run("ks", entry, stattests.Current(entry, current))
    assert outcome.statistic == pytest.approx(stats.ks_2samp(reference, current)[1])
    assert outcome.drifted and outcome.rule == "p <= 0.05"


def test_wasserstein_from_the_stored_quantiles_matches_the_raw_distance() -> None:
    reference = RNG.gamma(2.0, 3.0, 50_000)
    for shift in (0.0, 0.5, 2.0):
        current = RNG.gamma(2.0, 3.0, 40_000) + shift
        entry = profile_series(pd.Series(reference))
        assert "values" not in entry  # large: only its quantile function is kept
        exact = stats.wasserstein_distance(reference, current) / np.std(reference)
        drift = stattests.run("wasserstein", entry, stattests.Current(entry, current))
        assert drift.statistic == pytest.approx(exact, abs=0.01)


def test_chi_squared_and_jensen_shannon_use_the_category_counts() -> None:
    reference = RNG.choice(["France", "Germany", "Spain"], 5000, p=[0.5, 0.25, 0.25])
    current = RNG.choice(["France", "Germany", "Spain"], 4000, p=[0.4, 0.35, 0.25])
    entry = profile_series(pd.Series(reference))
    keys = ["France", "Germany", "Spain"]
    ref = np.array([(reference == k).sum() for k in keys], dtype=float)
    cur = np.array([(current == k).sum() for k in keys], dtype=float)
    chi = stattests.run("chisquare", entry, stattests.Current(entry, current))
    assert chi.statistic == pytest.approx(stats.chisquare(cur, ref * cur.sum() / ref.sum())[1])
    js = stattests.run("jensenshannon", entry, stattests.Current(entry, current))
    assert js.statistic == pytest.approx(distance.jensenshannon(ref / 5000, cur / 4000))
    assert chi.drifted and not js.drifted  # p tiny; distance 0.07 < 0.1


def test_default_methods_follow_evidentlys_rules() -> None:
    small = profile_frame(pd.DataFrame({"x": RNG.normal(size=500), "c": ["a", "b"] * 250}))
    large = profile_frame(pd.DataFrame({"x": RNG.normal(size=5000), "n": RNG.integers(0, 3, 5000)}))

    def method(entry: dict[str, object], values: object) -> str:
        return stattests.default_method(entry, stattests.Current(entry, values))

    assert method(small["features"]["x"], RNG.normal(size=10)) == "ks"
    assert method(small["features"]["c"], np.array(["a"])) == "chisquare"
    assert method(large["features"]["x"], RNG.normal(size=10)) == "wasserstein"
    # at most five distinct numbers: compared as categories
    assert method(large["features"]["n"], np.array([0.0, 1.0])) == "jensenshannon"


def test_psi_is_reported_for_every_feature_and_an_override_replaces_the_method() -> None:
    frame = pd.DataFrame({"a": RNG.normal(size=4000), "b": RNG.normal(size=4000)})
    profile = profile_frame(frame)
    current = pd.DataFrame({"a": RNG.normal(1.0, 1, 3000), "b": RNG.normal(size=3000)})
    settings = DriftSettings(features={"b": FeatureRule("psi", 0.5)})
    result = dataset_drift(profile, current, settings)
    by_name = {f.feature: f for f in result.features}
    assert by_name["a"].method == "wasserstein" and by_name["a"].drifted
    assert by_name["a"].psi > 0.5
    assert (by_name["b"].method, by_name["b"].threshold, by_name["b"].drifted) == (
        "psi",
        0.5,
        False,
    )
    assert result.drifted == ["a"] and result.dataset_drift  # 1 of 2 >= share 0.5
