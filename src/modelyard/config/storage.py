"""Artifacts beyond a folder: the fsspec storage options and the local blob cache.

```toml
[registry]
artifacts = "s3://models/prod"            # or abfs://container/prefix, az://container/prefix
# artifact_cache = "/var/cache/modelyard"  # default .modelyard/cache/blobs

[registry.storage_options]                # handed to s3fs or adlfs; ${VAR} is expanded
endpoint_url = "https://minio.internal:9000"
key = "${AWS_ACCESS_KEY_ID}"
secret = "${AWS_SECRET_ACCESS_KEY}"
```

Without storage options s3fs and adlfs find credentials where they always do: their
environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``,
``AZURE_STORAGE_CONNECTION_STRING``, …), profiles and managed identities. No option
value shows in ``str`` or ``repr``, and the credentials among them (keys, secrets,
tokens, passwords, connection strings and the keys inside them) are scrubbed out of
every error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from modelyard.config.secret import Secret
from modelyard.errors import ConfigError

# Option names (and connection-string parts) whose values are credentials.
_SECRET_NAME = re.compile(r"key|secret|token|passw|credential|signature|sas|connection", re.I)


class StorageOptions:
    """fsspec storage options that print their names only (``key=***``)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values = dict(values or {})

    @classmethod
    def parse(cls, raw: object) -> StorageOptions:
        """From ``[registry.storage_options]``: a table, or raise ``ConfigError``."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError("registry.storage_options must be a table of fsspec options")
        return cls(raw)

    def reveal(self) -> dict[str, Any]:
        """The real options, for the one place that opens the store."""
        return dict(self._values)

    def secrets(self) -> tuple[Secret, ...]:
        """The credentials among the values, to scrub out of foreign error messages."""
        return tuple(Secret(text) for text in _credentials(self._values))

    def __repr__(self) -> str:
        names = ", ".join(f"{name}=***" for name in sorted(self._values))
        return f"StorageOptions({names})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageOptions) and other._values == self._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values)))

    def __bool__(self) -> bool:
        return bool(self._values)


def _credentials(node: object, sensitive: bool = False) -> Iterator[str]:
    if isinstance(node, str):
        if sensitive:
            yield node
        for part in node.split(";"):  # a connection string: AccountKey=…;SharedAccessSignature=…
            name, sep, value = part.partition("=")
            if sep and value and _SECRET_NAME.search(name):
                yield value
    elif isinstance(node, Mapping):
        for name, value in node.items():
            yield from _credentials(value, sensitive or bool(_SECRET_NAME.search(str(name))))
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _credentials(value, sensitive)
