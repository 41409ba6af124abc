"""XGBoost models in XGBoost's own JSON or UBJSON format (no code runs on load)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xgboost as xgb

from modelyard.errors import UnsupportedFormat
from modelyard.registry.flavours.base import LoadContext, Serialized
from modelyard.registry.flavours.formats import PICKLE_FORMATS
from modelyard.registry.flavours.pickled import load_pickled
from modelyard.types import ArtifactFormat, Flavour

# The classes a stored XGBoost model may be rebuilt as; never an arbitrary import path.
CLASSES: dict[str, Any] = {
    "Booster": xgb.Booster,
    "XGBClassifier": xgb.XGBClassifier,
    "XGBRegressor": xgb.XGBRegressor,
    "XGBRanker": xgb.XGBRanker,
    "XGBRFClassifier": xgb.XGBRFClassifier,
    "XGBRFRegressor": xgb.XGBRFRegressor,
}


class XGBoostFlavour:
    """A bare Booster or one of XGBoost's scikit-learn wrappers."""

    flavour = Flavour.XGBOOST

    def can_dump(self, model: object) -> bool:
        """True for a Booster or an XGBoost scikit-learn wrapper."""
        return isinstance(model, xgb.Booster | xgb.XGBModel)

    def dump(self, model: object) -> Serialized:
        """Save as XGBoost JSON, remembering which class to rebuild."""
        name = type(model).__name__
        if name not in CLASSES:
            raise UnsupportedFormat(f"cannot store XGBoost class {name}")
        if isinstance(model, xgb.XGBModel):
            raw = model.get_booster().save_raw(raw_format="json")
        elif isinstance(model, xgb.Booster):
            raw = model.save_raw(raw_format="json")
        else:  # pragma: no cover - can_dump guards this
            raise UnsupportedFormat(f"not an XGBoost model: {name}")
        return Serialized(bytes(raw), ArtifactFormat.XGBOOST_JSON, "model.json", {"class": name})

    def load(
        self, data: bytes, fmt: ArtifactFormat, options: Mapping[str, Any], ctx: LoadContext
    ) -> object:
        """Rebuild the recorded class from the verified bytes (or unpickle an approved
        pickle of one)."""
        if fmt in PICKLE_FORMATS:
            return load_pickled(data, fmt)
        if fmt not in (ArtifactFormat.XGBOOST_JSON, ArtifactFormat.XGBOOST_UBJ):
            raise UnsupportedFormat(f"the xgboost flavour cannot load format {fmt.value}")
        name = str(options.get("class", "Booster"))
        cls = CLASSES.get(name)
        if cls is None:
            raise UnsupportedFormat(
                f"unknown XGBoost class {name!r}: expected one of {', '.join(CLASSES)}"
            )
        model = cls()
        model.load_model(bytearray(data))
        return model
