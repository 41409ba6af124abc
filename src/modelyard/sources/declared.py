"""Sources as ``modelyard.toml`` declares them: ``[sources.NAME]`` opened by its ``url``
or ``path``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelyard.config.secret import SecretURL
from modelyard.errors import ConfigError
from modelyard.sources.files import FileSource
from modelyard.sources.sql import SqlSource
from modelyard.sources.sql_target import DEFAULT_PARTITIONS


def open_source(name: str, spec: Mapping[str, Any], root: Path) -> SqlSource | FileSource:
    """Build the source declared as ``[sources.NAME]`` (``url = …`` or ``path = …``)."""
    if "url" in spec and "path" in spec:
        raise ConfigError(f"[sources.{name}]: give url or path, not both")
    if "url" in spec:
        url = str(spec["url"])
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            relative = url[len("sqlite:///") :]
            if relative and not relative.startswith(":memory:"):
                url = f"sqlite:///{root / relative}"
        partition_on = spec.get("partition_on")
        return SqlSource(
            name,
            SecretURL(url),
            reader=str(spec.get("reader", "auto")),
            partition_on=str(partition_on) if partition_on else None,
            partitions=int(spec.get("partitions", DEFAULT_PARTITIONS)),
        )
    if "path" in spec:
        path = Path(str(spec["path"])).expanduser()
        return FileSource(name, path if path.is_absolute() else root / path)
    raise ConfigError(
        f'[sources.{name}] needs url = "postgresql+psycopg://…" or path = "data/file.parquet"'
    )
