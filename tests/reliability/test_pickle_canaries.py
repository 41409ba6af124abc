"""Pickle canaries on every load path: a pickle whose unpickling would write a marker
file, fed through the registry (a tampered artifact: the SDK, the CLI, a server loading
it as a champion), an entry script's ``init()``, a batch job pinned to a tampered
version, the request bodies of every wire format and the Studio's Test form. None may
run it, and each path answers with a clear refusal (a JSON error with a code over HTTP,
a ``HashMismatch`` or a one-line CLI error elsewhere)."""

from __future__ import annotations

import base64
import io
import json
import pickle
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.errors import ModelyardError
from tests.helpers import figures
from tests.helpers.models import fitted_immo
from tests.helpers.studio import Studio, serving_studio
from tests.security.test_pickle_guard import BYPASSES, SCRIPT, Payload

MODELYARD = (sys.executable, "-m", "modelyard")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with serving_studio(tmp_path_factory.mktemp("canaries")) as served:
        yield served


class Canaries:
    """Marker files in one folder: a fresh pickle per path, and which ones ran."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.paths: list[str] = []

    def pickle(self, path: str, protocol: int = 4) -> bytes:
        """A pickle that touches the marker of ``path`` when loaded."""
        self.paths.append(path)
        return pickle.dumps(Payload(self.marker(path)), protocol=protocol)

    def marker(self, path: str) -> Path:
        return self.folder / f"ran-{len(self.paths)}"

    def written(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir())


def _code(answer: httpx.Response) -> str | None:
    """The error code of a JSON error body in any protocol's shape, or None."""
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return None
    body = answer.json()
    if not isinstance(body, dict) or not str(body.get("message") or "").strip():
        return None
    error = body.get("error")
    nested = error.get("code") if isinstance(error, dict) else None
    found = body.get("code") or body.get("error_code") or nested
    return str(found) if found else None


def _pickled_table(data: bytes) -> pa.Table:
    """A column ``surface`` whose Arrow type is the legacy ``arrow.py_extension_type``: its
    metadata is a pickle that pyarrow < 14.0.1 unpickled on read (CVE-2023-47248)."""
    field = pa.field(
        "surface",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": data,
        },
    )
    return pa.Table.from_arrays([pa.array([data])], schema=pa.schema([field]))


def _parquet(data: bytes) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(_pickled_table(data), buffer)
    return buffer.getvalue()


def _arrow(data: bytes) -> bytes:
    buffer = io.BytesIO()
    table = _pickled_table(data)
    with pa.ipc.new_stream(buffer, table.schema) as writer:
        writer.write_table(table)
    return buffer.getvalue()


def _v2_binary(data: bytes) -> tuple[bytes, dict[str, str]]:
    """An Open Inference binary request: one BYTES tensor holding the pickle."""
    raw = struct.pack("<I", len(data)) + data
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "surface",
                    "shape": [1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return header + raw, headers


Body = Callable[[bytes], tuple[bytes, dict[str, str]]]


def _as(content_type: str, make: Callable[[bytes], bytes] = lambda d: d) -> Body:
    return lambda data: (make(data), {"Content-Type": content_type})


def _json(shape: Callable[[str], Any]) -> Body:
    def make(data: bytes) -> tuple[bytes, dict[str, str]]:
        text = base64.b64encode(data).decode()
        return json.dumps(shape(text)).encode(), {"Content-Type": "application/json"}

    return make


# (route, what): how the pickle travels in a request body of each wire format
WIRE: dict[tuple[str, str], Body] = {
    ("score", "raw pickle as JSON"): _as("application/json"),
    ("score", "pickle in a JSON cell"): _json(lambda b64: {"data": [[b64]]}),
    ("score", "raw pickle as CSV"): _as("text/csv"),
    ("score", "CSV cell"): _as("text/csv", lambda d: b"surface\n" + d.replace(b"\n", b" ")),
    ("score", "Parquet extension type"): _as("application/vnd.apache.parquet", _parquet),
    ("score", "Arrow extension type"): _as("application/vnd.apache.arrow.stream", _arrow),
    ("score", "application/octet-stream"): _as("application/octet-stream"),
    ("score", "application/python-pickle"): _as("application/python-pickle"),
    ("invocations", "raw pickle as JSON"): _as("application/json"),
    ("invocations", "dataframe_split cell"): _json(
        lambda b64: {"dataframe_split": {"columns": ["surface"], "data": [[b64]]}}
    ),
    ("invocations", "raw pickle as CSV"): _as("text/csv"),
    ("invocations", "Parquet extension type"): _as("application/vnd.apache.parquet", _parquet),
    ("invocations", "application/octet-stream"): _as("application/octet-stream"),
    ("infer", "raw pickle as JSON"): _as("application/json"),
    ("infer", "BYTES tensor (JSON)"): _json(
        lambda b64: {
            "inputs": [{"name": "surface", "shape": [1], "datatype": "BYTES", "data": [b64]}]
        }
    ),
    ("infer", "BYTES tensor (binary)"): _v2_binary,
    ("execute", "raw pickle as JSON"): _as("application/json"),
    ("execute", "pickle in a Values cell"): _json(
        lambda b64: {"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [[b64]]}}}
    ),
}
URLS = {
    "score": "/endpoints/immo/score",
    "invocations": "/endpoints/immo/invocations",
    "infer": "/v2/models/immo/infer",
    "execute": "/endpoints/immo/execute?api-version=2.0",
}


def _tampered(studio: Studio, canaries: Canaries, name: str) -> str:
    """``name:1``: a benign pickle registered with allow_pickle, its stored blob then
    swapped for a canary behind the registry's back."""
    ws = studio.ws
    model, frame = fitted_immo()
    benign = canaries.folder.parent / f"{name}.pkl"
    benign.write_bytes(pickle.dumps(model))
    version = ws.models.register(name, benign, allow_pickle=True, input_example=frame.head(3))
    blob = Path(ws.store.blob_path(version.sha256))
    blob.chmod(0o644)
    blob.write_bytes(canaries.pickle(f"registry: {name}"))
    return f"{name}:1"


def test_no_pickle_canary_runs_on_any_load_path(studio: Studio, tmp_path: Path) -> None:
    ws = studio.ws
    canaries = Canaries(tmp_path / "markers")
    refusals: dict[str, str] = {}  # path -> how it was refused
    wrong: list[str] = []

    def refused(path: str, how: str | None) -> None:
        if how:
            refusals[path] = how
        else:
            wrong.append(path)

    # --- the registry: tampered artifacts, through the SDK, the CLI and a server ---------
    ref = _tampered(studio, canaries, "tampered")
    try:
        ws.models.load(ref)
        refused("registry SDK load", None)
    except ModelyardError as exc:
        refused("registry SDK load", exc.code)
    try:
        ws.models.download(ref, tmp_path / "out")
        refused("registry SDK download", None)
    except ModelyardError as exc:
        refused("registry SDK download", exc.code)
    (tmp_path / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "{ws.settings.database_url.reveal()}"\n'
        f'artifacts = "{ws.settings.artifacts}"\n'
    )
    cli = subprocess.run(
        [*MODELYARD, "--workspace", str(tmp_path), "models", "download", ref, "--to",
         str(tmp_path / "cli-out")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    one_line = cli.returncode != 0 and len(cli.stderr.strip().splitlines()) == 1
    refused("registry CLI download", cli.stderr.strip() if one_line else None)

    _tampered(studio, canaries, "served")
    ws.models.promote("served", 1)
    key = (ws.endpoints.create("served", model="served@champion").keys or {})["primary"]
    deadline, answer = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # the server follows the new endpoint, then loads
        answer = httpx.post(
            f"{studio.base}/endpoints/served/score",
            json={"data": [[50.0]]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        if answer.status_code != 404:
            break
        time.sleep(0.2)
    assert answer is not None
    refused(
        "server loading a tampered champion", _code(answer) if answer.status_code >= 400 else None
    )

    # --- a batch job pinned to a tampered version ----------------------------------------
    pinned = _tampered(studio, canaries, "batched")
    try:
        ws.batch.score(pinned, source="immo_db", table="immo", key="surface",
                       output_table="canary_scores")  # fmt: skip
        refused("batch job", None)
    except ModelyardError as exc:
        refused("batch job", exc.code)

    # --- entry scripts: a files model holding a pickle, loaded by init() -----------------
    kinds = list(BYPASSES) if figures.FULL else ["protocol0", "gzip", "zip"]
    for kind in kinds:
        filename, make = BYPASSES[kind]
        folder = tmp_path / f"files-{kind}"
        folder.mkdir()
        canaries.paths.append(f"entry script init() ({kind})")
        (folder / filename).write_bytes(make(Payload(canaries.marker(kind))))
        ws.models.register(f"pk-{kind}", folder, flavour="files")  # no allow_pickle
        script = tmp_path / f"score_{kind}.py"
        script.write_text(SCRIPT.format(model=f"pk-{kind}"))
        ws.endpoints.deploy_script(f"ep-{kind}", entry_script=script, models=[f"pk-{kind}:1"])
    for kind in kinds:
        deadline = time.monotonic() + 90
        while (state := ws.endpoints.get(f"ep-{kind}")).state not in ("failed", "healthy"):
            assert time.monotonic() < deadline, ws.endpoints.logs(f"ep-{kind}")
            time.sleep(0.3)
        reason = state.state_reason or ""
        ok = state.state == "failed" and "allow_pickle" in reason
        refused(f"entry script init() ({kind})", "failed: allow_pickle" if ok else None)

    # --- request bodies of every wire format --------------------------------------------
    auth = {"Authorization": f"Bearer {studio.score_key}"}
    for (route, what), body in WIRE.items():
        content, headers = body(canaries.pickle(f"{route}: {what}"))
        answer = httpx.post(
            studio.base + URLS[route], content=content, headers={**auth, **headers}, timeout=30
        )
        code = _code(answer) if 400 <= answer.status_code < 500 else None
        refused(f"{route}: {what}", f"{answer.status_code} {code}" if code else None)

    # --- the Studio's Test form: the pickle as a field and as an uploaded file -----------
    client = studio.client("scientist")
    csrf = studio.csrf(client)
    form = f"{studio.base}/studio/endpoints/immo/test"
    origin = {"origin": studio.base, "hx-request": "true"}
    data = canaries.pickle("Studio Test form field", protocol=0).decode("latin-1")
    answer = client.post(form, data={"csrf": csrf, "col-surface": data}, headers=origin)
    error = answer.status_code < 500 and 'class="error"' in answer.text
    refused("Studio Test form field", f"{answer.status_code} error shown" if error else None)
    upload = canaries.pickle("Studio Test form upload")
    answer = client.post(
        form, data={"csrf": csrf}, files={"col-surface": ("m.pkl", upload)}, headers=origin
    )
    error = answer.status_code < 500 and 'class="error"' in answer.text
    refused("Studio Test form upload", f"{answer.status_code} error shown" if error else None)
    client.close()

    written = canaries.written()
    tried = len(refusals) + len(wrong)
    for path, how in refusals.items():
        print(f"  {path}: {how[:100]}")
    figures.record(
        "Pickle canaries on every load path",
        load=(
            f"{tried} paths, {len(canaries.paths)} canary pickles: registry (SDK load and "
            f"download, CLI, a server's champion), batch job, {len(kinds)} entry-script "
            f"pickles, {len(WIRE)} wire-format bodies, 2 Studio form posts"
        ),
        faults="a pickle whose loading writes a marker file (tampered artifact or body)",
        result=f"{len(written)} markers written; {len(refusals)}/{tried} paths refused clearly",
        passed=not written and not wrong,
    )
    assert written == [], written
    assert wrong == [], (wrong, refusals)
