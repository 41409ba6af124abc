"""Log lines on stdout (info) and stderr (errors): the parent keeps them as the endpoint's logs."""

from __future__ import annotations

import datetime
import sys


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]


def info(message: str) -> None:
    print(f"{_stamp()} | host | INFO | {message}", file=sys.stdout, flush=True)


def error(message: str) -> None:
    print(f"{_stamp()} | host | ERROR | {message}", file=sys.stderr, flush=True)
