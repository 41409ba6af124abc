"""``ModelDataCollector``: the Azure ML v1 data-collection API.

A no-op unless ``AML_MODEL_DC_STORAGE_ENABLED=true`` (set by modelyard for an endpoint
that collects). Served by a modelyard replica, which sets ``MODELYARD_COLLECT_SOCKET``,
each ``collect()`` hands its rows to a background thread that sends them to the replica,
which writes them to the workspace's collection table with the endpoint's scored rows:
``collect()`` never waits on it, and rows beyond a bounded buffer are dropped and counted.
The rows carry the request's id as their correlation id (unless one is given).

Run on its own (no replica), it appends rows to ``<AML_APP_ROOT>/modeldata/<workspace>/
<webservice_name>/<model_name>/<model_version>/<designation>/<yyyy>/<mm>/<dd>/
<collection_name>.csv`` (the layout of Azure's blob container, UTC dates), a header line
first: ``$aml_dc_time``, ``$aml_dc_correlation_id``, then the feature names
(``feature_names``, a DataFrame's columns, a dict's keys, else ``c0``, ``c1``...).
``AML_MODEL_DC_DEBUG=true`` also prints each row to stdout. Lists, tuples, dicts, numpy
arrays and pandas DataFrames are accepted.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import queue
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

_LOCK = threading.Lock()
SOCKET = "MODELYARD_COLLECT_SOCKET"
BUFFER = 1000  # messages waiting for the sender before collect() drops and counts


def _enabled(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


class ModelDataCollector:
    """Collects a model's inputs or predictions for later analysis."""

    def __init__(
        self,
        model_name: str,
        designation: str = "default",
        feature_names: Sequence[str] | None = None,
        workspace: str = "default/default/default",
        webservice_name: str = "default",
        model_version: str = "default",
        collection_name: str = "default",
    ) -> None:
        self.model_name = model_name
        self.designation = designation
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.workspace = workspace
        self.webservice_name = webservice_name
        self.model_version = str(model_version)
        self.collection_name = collection_name

    def collect(self, input_data: Any, user_correlation_id: str = "") -> dict[str, Any] | None:
        """Append ``input_data``'s rows; returns the correlation context, None when disabled."""
        debug = _enabled("AML_MODEL_DC_DEBUG")
        if not (_enabled("AML_MODEL_DC_STORAGE_ENABLED") or debug):
            return None
        now = datetime.datetime.now(datetime.timezone.utc)
        correlation_id = user_correlation_id or _request_id() or str(uuid.uuid4())
        names, rows = _tabulate(input_data, self.feature_names)
        stamp = now.isoformat()
        lines = [[stamp, correlation_id, *row] for row in rows]
        if debug:
            for line in lines:
                print(f"ModelDataCollector[{self.model_name}/{self.designation}]: {line}")
        if _enabled("AML_MODEL_DC_STORAGE_ENABLED"):
            address = os.environ.get(SOCKET)
            if address:
                _sender(address).send(
                    {
                        "time": stamp,
                        "correlation_id": correlation_id,
                        "model": self.model_name,
                        "version": self.model_version,
                        "designation": self.designation,
                        "names": names,
                        "rows": rows,
                    }
                )
            else:
                self._append(now, ["$aml_dc_time", "$aml_dc_correlation_id", *names], lines)
        return {"$aml_dc_correlation_id": correlation_id, "$aml_dc_time": stamp}

    def add_correlations(self, input_data: Any, correlations: dict[str, Any] | None) -> Any:
        """Kept for compatibility: returns ``input_data`` unchanged (the correlation id is
        already on every row written by ``collect``)."""
        return input_data

    def path(self, day: datetime.date | None = None) -> str:
        """The CSV file that rows collected on ``day`` (UTC, default today) go to."""
        day = day or datetime.datetime.now(datetime.timezone.utc).date()
        return os.path.join(
            os.environ.get("AML_APP_ROOT", os.getcwd()),
            "modeldata",
            *self.workspace.split("/"),
            self.webservice_name,
            self.model_name,
            self.model_version,
            self.designation,
            f"{day.year:04d}",
            f"{day.month:02d}",
            f"{day.day:02d}",
            self.collection_name + ".csv",
        )

    def _append(self, now: datetime.datetime, header: list[str], lines: list[list[Any]]) -> None:
        target = self.path(now.date())
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        with _LOCK:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                writer.writerow(header)
            writer.writerows(lines)
            with open(target, "a", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())


def _request_id() -> str:
    """The id of the request being answered, when the modelyard host runs this script."""
    context = sys.modules.get("_modelyard_entry.context")
    return str(getattr(context, "request_id", "") or "")


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, anything else JSON cannot hold as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


class _Sender:
    """Sends collected rows to the replica over a Unix socket, from a background thread.

    Messages wait in a bounded queue; when it is full (the replica is slow or away) a
    message is dropped and counted, and the count goes with the next message sent."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(BUFFER)
        self.dropped = 0
        self._socket: socket.socket | None = None
        thread = threading.Thread(target=self._run, name="modelyard-collect", daemon=True)
        thread.start()

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            with _LOCK:
                self.dropped += len(message["rows"])

    def _run(self) -> None:
        while True:
            message = self.queue.get()
            with _LOCK:
                message["dropped"], self.dropped = self.dropped, 0
            line = json.dumps(message, default=_plain).encode() + b"\n"
            for attempt in range(3):
                try:
                    if self._socket is None:
                        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        self._socket.connect(self.address)
                    self._socket.sendall(line)
                    break
                except OSError:
                    if self._socket is not None:
                        self._socket.close()
                    self._socket = None
                    time.sleep(0.1 * (attempt + 1))
            else:
                with _LOCK:
                    self.dropped += len(message["rows"]) + int(message["dropped"])


_SENDERS: dict[str, _Sender] = {}


def _sender(address: str) -> _Sender:
    with _LOCK:
        found = _SENDERS.get(address)
        if found is None:
            found = _SENDERS[address] = _Sender(address)
        return found


def _tabulate(data: Any, names: list[str] | None) -> tuple[list[str], list[list[Any]]]:
    columns = getattr(data, "columns", None)
    if columns is not None and hasattr(data, "itertuples"):  # a pandas DataFrame
        return [str(c) for c in columns], [list(r) for r in data.itertuples(index=False)]
    if hasattr(data, "tolist"):  # numpy arrays and scalars
        data = data.tolist()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, (list, tuple)):
        data = [[data]]
    elif data and not isinstance(data[0], (list, tuple, dict)):
        data = [list(data)]
    if data and isinstance(data[0], dict):
        keys = names or list(data[0])
        return keys, [[row.get(k) for k in keys] for row in data]
    rows = [list(r) for r in data]
    width = max((len(r) for r in rows), default=0)
    return names or [f"c{i}" for i in range(width)], rows


__all__ = ["ModelDataCollector"]
