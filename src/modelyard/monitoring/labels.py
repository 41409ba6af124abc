"""True values of scored rows: posted as feedback, or read from a declared SQL source.

A label names the row it is for by the request's id (``x-request-id``, sent by the client
or given in the answer) and, for a request of several rows, the row's position in it
(``row``, from 0; default 0):

    {"labels": [{"request_id": "cust-1042", "label": 1},
                {"request_id": "batch-7", "row": 3, "label": 0}]}

A source is read with its query on a schedule; ``key`` names the column holding request
ids, ``label`` the true values, ``row`` (optional) the rows' positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from modelyard.config.monitoring import LabelSource
from modelyard.errors import InvalidInput
from modelyard.sources.arrow import to_frame
from modelyard.sources.declared import open_source

MAX_LABELS = 100_000
Label = tuple[str, int, str]  # request id, row, value as JSON text


def _value(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return orjson.dumps(value).decode()


def parse_feedback(items: Any) -> list[Label]:
    """The labels of a feedback body's ``labels`` list; ``InvalidInput`` names the item."""
    if not isinstance(items, list) or not items:
        raise InvalidInput(
            'send {"labels": [{"request_id": "...", "label": ...}, ...]}', code="bad_feedback"
        )
    if len(items) > MAX_LABELS:
        raise InvalidInput(f"at most {MAX_LABELS} labels per call", code="bad_feedback")
    out: list[Label] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or "label" not in item or not item.get("request_id"):
            raise InvalidInput(
                f"labels[{i}] needs request_id and label (and row, for a request of several rows)",
                code="bad_feedback",
                row=i,
            )
        row = item.get("row", 0)
        if isinstance(row, bool) or not isinstance(row, int) or row < 0:
            raise InvalidInput(
                f"labels[{i}].row must be a whole number from 0", code="bad_feedback", row=i
            )
        label = item["label"]
        if label is None or isinstance(label, dict | list):
            raise InvalidInput(
                f"labels[{i}].label must be a number or a string", code="bad_feedback", row=i
            )
        out.append((str(item["request_id"])[:128], row, _value(label)))
    return out


def read_source(
    declared: LabelSource, sources: Mapping[str, Mapping[str, Any]], root: Path
) -> list[Label]:
    """Run the label source's query; one label per returned row with a key and a value."""
    if declared.source not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise InvalidInput(
            f"label source {declared.source!r} is not declared under [sources] (declared: {known})",
            code="unknown_source",
        )
    source = open_source(declared.source, sources[declared.source], root)
    try:
        frame = to_frame(source.read(declared.query))
    finally:
        source.close()
    wanted = [declared.key, declared.label, *([declared.row] if declared.row else [])]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the label query returned no column {', '.join(missing)}; it returned: "
            f"{', '.join(map(str, frame.columns))}",
            code="missing_column",
            column=missing[0],
        )
    frame = frame.dropna(subset=[declared.key, declared.label])
    rows: Sequence[Any] = (
        frame[declared.row].astype("int64").tolist() if declared.row else [0] * len(frame)
    )
    return [
        (str(key)[:128], int(row), _value(label))
        for key, row, label in zip(
            frame[declared.key].tolist(), rows, frame[declared.label].tolist(), strict=True
        )
    ]
