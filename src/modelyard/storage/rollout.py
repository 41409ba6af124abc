"""An endpoint's rollout as declared: the canary split and the mirror.

``traffic`` maps aliases of the endpoint's model to whole-number weights summing to 100
(``champion=90,challenger=10``): each request is answered by one alias, drawn by weight.
``mirror`` names one alias and the percentage of requests also scored on it after the
answer is sent (``challenger=20``), to compare, never to answer. Both are stored in their
own columns of the endpoints table; empty means off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.types import check_name

OFF = ("", "off", "none")


@dataclass(frozen=True)
class Mirror:
    """Score ``percent`` % of requests on ``alias`` too, after answering."""

    alias: str
    percent: float

    def to_dict(self) -> dict[str, Any]:
        """The stored and shown form: ``{"alias": ..., "percent": ...}``."""
        return {"alias": self.alias, "percent": self.percent}


@dataclass(frozen=True)
class Rollout:
    """The canary weights (empty: the target alone answers) and the mirror (or None)."""

    traffic: Mapping[str, int] = field(default_factory=dict)
    mirror: Mirror | None = None

    @classmethod
    def stored(cls, traffic: Any, mirror: Any) -> Rollout:
        """From the endpoints table's ``traffic`` and ``mirror`` columns (None: off)."""
        split = {str(k): int(v) for k, v in (traffic or {}).items()}
        copy = Mirror(str(mirror["alias"]), float(mirror["percent"])) if mirror else None
        return cls(split, copy)


def parse_traffic(text: str) -> dict[str, int]:
    """``champion=90,challenger=10`` as weights by alias; ``off`` (or empty) clears it.

    Raises ``InvalidInput`` unless every part is ``alias=weight`` with a whole weight from
    0 to 100 and the weights sum to 100."""
    if text.strip().lower() in OFF:
        return {}
    return check_traffic(dict(_pairs(text, "--traffic champion=90,challenger=10")))


def check_traffic(traffic: Mapping[str, Any]) -> dict[str, int]:
    """``traffic`` checked: alias names, whole weights 0-100 summing to 100 (or empty)."""
    out: dict[str, int] = {}
    for alias, weight in traffic.items():
        check_name(alias, "alias")
        try:
            number = float(weight)
        except (TypeError, ValueError):
            number = -1.0
        if not number.is_integer() or not 0 <= number <= 100:
            raise InvalidInput(
                f"traffic weight of {alias} must be a whole percentage from 0 to 100, "
                f"not {weight!r}",
                code="bad_traffic",
            )
        out[alias] = int(number)
    if out and sum(out.values()) != 100:
        raise InvalidInput(
            f"traffic weights must sum to 100, not {sum(out.values())} "
            "(e.g. champion=90,challenger=10)",
            code="bad_traffic",
        )
    return out


def parse_mirror(text: str) -> Mirror | None:
    """``challenger=20`` as a mirror of 20 % of requests on alias challenger; ``off``
    (or empty) clears it. Raises ``InvalidInput`` for anything else."""
    if text.strip().lower() in OFF:
        return None
    pairs = _pairs(text, "--mirror challenger=20")
    if len(pairs) != 1:
        raise InvalidInput(
            f"mirror names one alias and a percentage (challenger=20), not {text!r}",
            code="bad_mirror",
        )
    return check_mirror(*pairs[0])


def check_mirror(alias: str, percent: Any) -> Mirror:
    """A mirror on ``alias`` of ``percent`` % of requests (more than 0, at most 100)."""
    check_name(alias, "alias")
    try:
        share = float(percent)
    except (TypeError, ValueError):
        share = -1.0
    if not 0 < share <= 100:
        raise InvalidInput(
            f"mirror percentage of {alias} must be more than 0 and at most 100, not {percent!r}",
            code="bad_mirror",
        )
    return Mirror(alias, share)


def _pairs(text: str, example: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(","):
        alias, sep, value = part.partition("=")
        if not sep or not alias.strip() or not value.strip():
            raise InvalidInput(
                f"expected alias=percentage parts separated by commas ({example}), not {text!r}",
                code="bad_rollout",
            )
        pairs.append((alias.strip(), value.strip()))
    return pairs
