"""Real object-storage servers for the tests, on 127.0.0.1 and free ports: moto's standalone
S3 server (the one s3fs's own tests use), run from a cached virtualenv of its own so that its
boto3 pins never steer the resolution of modelyard's dependencies, and Azurite, Microsoft's
Azure Storage emulator (installed by ``make test`` under ``tests/.npm/azurite``). Each test
gets a bucket or container of its own; the servers live for the test session and are stopped
by PID."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import s3fs
from azure.storage.blob import BlobServiceClient

from tests.helpers.venvs import cached_venv

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "tests" / ".npm" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
S3_KEY, S3_SECRET = "modelyard-test-key", "modelyard-test-secret-0123456789"
MOTO = ("moto[server]==5.2.5",)
# botocore must never ask a cloud metadata address for credentials.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@dataclass
class ObjectStore:
    """A running server: how to reach it, and how to make an empty bucket or container."""

    kind: str  # "s3" or "azure"
    endpoint: str
    options: dict[str, Any] = field(default_factory=dict)  # [registry.storage_options]
    environment: dict[str, str] = field(default_factory=dict)  # the same, as the drivers' env

    def new_location(self) -> str:
        """An empty bucket (S3) or container (Azure) of its own, as an artifacts URI."""
        name = f"t{uuid.uuid4().hex[:16]}"
        if self.kind == "s3":
            self.s3().mkdir(name)
            return f"s3://{name}/registry"
        self.azure().create_container(name)
        return f"abfs://{name}/registry"

    def s3(self) -> Any:
        """An s3fs file system on the S3 server, of its own (no instance cache)."""
        return s3fs.S3FileSystem(
            key=S3_KEY,
            secret=S3_SECRET,
            client_kwargs={"endpoint_url": self.endpoint},  # no region: no LocationConstraint
            skip_instance_cache=True,
        )

    def azure(self) -> BlobServiceClient:
        """A client on the Azurite account."""
        return BlobServiceClient.from_connection_string(self.options["connection_string"])

    def overwrite(self, location: str, key: str, data: bytes) -> None:
        """Replace the object at ``key`` (a path inside ``location``'s bucket) behind the
        store's back."""
        bucket = location.split("://", 1)[1].split("/", 1)[0]
        if self.kind == "s3":
            self.s3().pipe_file(f"{bucket}/{key}", data)
        else:
            self.azure().get_blob_client(bucket, key).upload_blob(data, overwrite=True)

    def delete(self, location: str, key: str) -> None:
        """Delete the object at ``key`` in ``location``'s bucket."""
        bucket = location.split("://", 1)[1].split("/", 1)[0]
        if self.kind == "s3":
            self.s3().rm_file(f"{bucket}/{key}")
        else:
            self.azure().get_blob_client(bucket, key).delete_blob()


def _started(command: list[str], log: Path, pattern: str, what: str) -> tuple[int, int]:
    """Start ``command``, wait for ``pattern`` (one group: the port) in its output."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return process.pid, int(found.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')}")
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{what} did not start in 60 s: {log.read_text(errors='replace')}")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


@contextmanager
def moto_server(folder: Path) -> Iterator[ObjectStore]:
    """moto's S3 server on a free port of 127.0.0.1."""
    command = [str(cached_venv("moto", MOTO)), "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"]
    pid, port = _started(
        command, folder / "moto.log", r"Running on http://127\.0\.0\.1:(\d+)", "moto"
    )
    endpoint = f"http://127.0.0.1:{port}"
    options = {"key": S3_KEY, "secret": S3_SECRET, "endpoint_url": endpoint}
    environment = {
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        yield ObjectStore("s3", endpoint, options, environment)
    finally:
        _stop(pid)


@contextmanager
def azurite_server(folder: Path) -> Iterator[ObjectStore]:
    """Azurite's blob service on a free port of 127.0.0.1, in memory, telemetry off."""
    if not AZURITE.exists():
        raise FileNotFoundError(f"{AZURITE} is missing: `make test` installs it (npm)")
    command = [
        str(AZURITE),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        "0",
        "--inMemoryPersistence",
        "--extentMemoryLimit",
        "512",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
    ]
    pid, port = _started(
        command, folder / "azurite.log", r"listens on http://127\.0\.0\.1:(\d+)", "Azurite"
    )
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    try:
        yield ObjectStore(
            "azure",
            endpoint,
            {"connection_string": connection},
            {"AZURE_STORAGE_CONNECTION_STRING": connection},
        )
    finally:
        _stop(pid)
