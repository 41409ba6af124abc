"""Issue 13 item 3: the entry-script pickle guard decides by content. Each bypass found
(joblib compressed with gzip, zlib, bz2, xz or lzma; a protocol-0 pickle; a
newline-prefixed pickle; a pickle inside a zip or a tar) is refused when a ``files``
version registered without ``allow_pickle`` is deployed behind a real ``modelyard serve``,
and the payload never runs."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio

from modelyard import Workspace
from modelyard.registry.flavours.pickles import find_pickle
from tests.helpers.models import fitted_immo
from tests.security.serving import Served, immo_workspace, serving


class Payload:
    """Unpickling it runs ``touch MARKER`` (the attack the guard must stop)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _joblib(payload: Payload, compress: str) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(payload, buffer, compress=(compress, 3))
    return buffer.getvalue()


BYPASSES: dict[str, tuple[str, Callable[[Payload], bytes]]] = {
    "gzip": ("model.bin", lambda p: _joblib(p, "gzip")),
    "zlib": ("model.bin", lambda p: _joblib(p, "zlib")),
    "bz2": ("model.bin", lambda p: _joblib(p, "bz2")),
    "xz": ("model.bin", lambda p: _joblib(p, "xz")),
    "lzma": ("model.bin", lambda p: _joblib(p, "lzma")),
    "protocol0": ("model.dat", lambda p: pickle.dumps(p, protocol=0)),
    "newline": ("model.dat", lambda p: b"\n" + pickle.dumps(p, protocol=4)),
    "zip": ("bundle.zip", lambda p: _zip("inner/model.dat", pickle.dumps(p))),
    "tar": ("bundle.tar", lambda p: _tar("inner/model.dat", pickle.dumps(p))),
}

SCRIPT = """
import os, pickle, zipfile, tarfile, io
import joblib
from azureml.core.model import Model

def init():
    root = Model.get_model_path("{model}")
    for name in os.listdir(root):
        path = os.path.join(root, name)
        for load in (joblib.load, lambda p: pickle.loads(open(p, "rb").read().lstrip())):
            try:
                load(path)
            except Exception:
                pass

def run(raw_data):
    return "ok"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Served, Path]]:
    root = tmp_path_factory.mktemp("pickles")
    ws, key = immo_workspace(root)
    with serving(root, key) as served:
        yield ws, served, root
    ws.close()


@pytest.mark.parametrize("kind", list(BYPASSES))
def test_a_hidden_pickle_is_refused_at_deploy_and_never_runs(
    server: tuple[Workspace, Served, Path], kind: str
) -> None:
    ws, _, root = server
    marker = root / f"ran-{kind}"
    filename, make = BYPASSES[kind]
    folder = root / f"files-{kind}"
    folder.mkdir()
    (folder / filename).write_bytes(make(Payload(marker)))
    model = f"pk-{kind}"
    ws.models.register(model, folder, flavour="files")  # no allow_pickle
    script = root / f"score_{kind}.py"
    script.write_text(SCRIPT.format(model=model))
    ws.endpoints.deploy_script(f"ep-{kind}", entry_script=script, models=[f"{model}:1"])
    deadline = time.monotonic() + 90
    while (state := ws.endpoints.get(f"ep-{kind}")).state not in ("failed", "healthy"):
        assert time.monotonic() < deadline, ws.endpoints.logs(f"ep-{kind}")
        time.sleep(0.3)
    assert state.state == "failed", ws.endpoints.logs(f"ep-{kind}")
    assert "allow_pickle" in (state.state_reason or ""), state.state_reason
    assert not marker.exists(), f"the {kind} payload ran"


def test_what_is_no_pickle_passes(tmp_path: Path) -> None:
    model, _ = fitted_immo()
    npy = io.BytesIO()
    np.save(npy, np.arange(10.0))
    for data in (
        b"1.5\n",
        b"0.5",
        b"surface,prix\n1,2\n",
        b"config\nvalue\nthird line\n",
        b'{"weights": [1, 2]}',
        sio.dumps(model),
        npy.getvalue(),
        _zip("weights.txt", b"1.5\n"),
        pickle.dumps({"plain": [1, 2.0, "data"]}),  # imports and runs nothing
    ):
        assert find_pickle(data, "f") is None, data[:40]
    found = find_pickle(_zip("a/b.zip", _zip("c.pkl", pickle.dumps(Payload(tmp_path)))), "x")
    assert found == "x: a/b.zip: c.pkl"
