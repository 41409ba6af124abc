"""A real ``modelyard serve --grpc-port`` process over a workspace with ``immo``, ``churn``
(the protocol tests' models) and ``k`` (constant versions, for hot swaps), and a
self-signed certificate for its TLS variant."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from modelyard import Workspace
from modelyard.types import OutputKind
from tests.helpers.endpoints import fitted_churn
from tests.helpers.models import fitted_immo, register_constants
from tests.helpers.processes import Process, started
from tests.helpers.server import free_port

ADMIN_KEY = "grpc-admin-secret"
CONSTANTS = (10.0, 20.0, 30.0)


@dataclass(frozen=True)
class GrpcServed:
    """The running server: HTTP base URL, gRPC address, keys, workspace, process."""

    ws: Workspace
    base: str
    address: str
    keys: dict[str, str]
    process: Process
    cert: Path | None = None

    def auth(self, endpoint: str) -> dict[str, str]:
        """The ``authorization`` header (or gRPC metadata) of ``endpoint``."""
        return {"authorization": f"Bearer {self.keys[endpoint]}"}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def serving_over_grpc(
    root: Path, *, tls: bool = False, command: str = "serve"
) -> Iterator[GrpcServed]:
    """Register and promote the models, create the endpoints, and run ``modelyard serve
    --grpc-port`` (or ``command``: ``up``), with ``[serve] tls_cert``/``tls_key`` if ``tls``,
    until the block ends."""
    serve = ""
    cert: Path | None = None
    if tls:
        cert, key = self_signed(root)
        serve = f'[serve]\ntls_cert = "{cert.name}"\ntls_key = "{key.name}"\n'
    (root / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "sqlite:///{root / "r.db"}"\nartifacts = "artifacts"\n\n'
        f'[security]\nadmin_key = "{ADMIN_KEY}"\n\n{serve}'
    )
    ws = Workspace.from_config(root)
    immo, immo_rows = fitted_immo()
    ws.models.register("immo", immo, input_example=immo_rows)
    ws.models.promote("immo", 1)
    churn, churn_rows = fitted_churn()
    ws.models.register(
        "churn", churn, input_example=churn_rows, output_kind=OutputKind.PROBABILITIES
    )
    ws.models.promote("churn", 1)
    register_constants(ws, "k", *CONSTANTS)
    ws.models.promote("k", 1)
    keys = {
        name: (ws.endpoints.create(name, model=f"{name}@champion").keys or {})["primary"]
        for name in ("immo", "churn", "k")
    }
    collected = ws.endpoints.create("collected", model="immo@champion", collect=True)
    keys["collected"] = (collected.keys or {})["primary"]
    port, grpc_port = free_port(), free_port()
    args = [command, "--port", str(port), "--grpc-port", str(grpc_port), "--drain-seconds", "0"]
    scheme = "https" if tls else "http"
    try:
        with started(root, *args) as process:
            base = f"{scheme}://127.0.0.1:{port}"
            verify = ssl.create_default_context(cafile=str(cert)) if cert else True
            process.wait_ready(base, timeout=120, verify=verify)
            yield GrpcServed(ws, base, f"127.0.0.1:{grpc_port}", keys, process, cert)
    finally:
        ws.close()
