"""One fit of a training's model: the part of a run an executor may run elsewhere.

``fit_model`` is a module-level function of picklable arguments, so a Ray worker can
import it and run it; it touches neither the registry nor the run's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from modelyard.errors import InvalidInput
from modelyard.training.estimators import build_estimator
from modelyard.training.scripts import run_script
from modelyard.training.spec import TrainingSpec


@dataclass(frozen=True)
class Fitted:
    """A fitted model and what the training script printed while fitting it."""

    model: Any
    output: str = ""


def fit_model(
    spec: TrainingSpec, params: dict[str, Any], x: pd.DataFrame, y: pd.Series[Any]
) -> Fitted:
    """Fit the training's estimator (or run its script) on ``x``, ``y``.

    Raises InvalidInput(code="fit_failed") with a hint when the estimator refuses the
    data, ScriptFailed when a script raises.
    """
    if spec.script is not None:
        frame = x.assign(**{spec.target: y.to_numpy()})
        result = run_script(spec.script, frame, params)
        return Fitted(result.model, result.output)
    estimator = build_estimator(spec, params)
    try:
        return Fitted(estimator.fit(x, y))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(fit_hint(exc, x), code="fit_failed") from None


def fit_hint(exc: Exception, x: pd.DataFrame) -> str:
    """The message of a failed fit, with a way out when columns are not numeric."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    non_numeric = [str(c) for c, t in x.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    hint = ""
    if non_numeric:
        hint = (
            f"; non-numeric columns: {', '.join(non_numeric)}: encode them with a step "
            '(e.g. estimator = "sklearn.preprocessing.OneHotEncoder", columns = [...]) '
            "or leave them out with features = [...]"
        )
    return f"fit failed: {type(exc).__name__}: {text}{hint}"
