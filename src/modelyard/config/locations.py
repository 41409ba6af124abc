"""Where a workspace's files are: ``modelyard.toml``, its ``.modelyard/`` state folder, and
relative SQLite paths and artifact folders resolved against the workspace root."""

from __future__ import annotations

from pathlib import Path

from modelyard.errors import WorkspaceNotFound

CONFIG_FILE = "modelyard.toml"
STATE_DIR = ".modelyard"
DEFAULT_DATABASE_URL = f"sqlite:///{STATE_DIR}/registry.db"
DEFAULT_ARTIFACTS = f"{STATE_DIR}/artifacts"


def find_config(start: Path | None = None) -> Path:
    """Return the ``modelyard.toml`` in ``start`` (default: cwd) or its nearest parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    raise WorkspaceNotFound(
        f"no {CONFIG_FILE} in {here} or any parent folder: "
        "run `modelyard init` to create a workspace"
    )


def resolve_sqlite(url: str, root: Path) -> str:
    """Make a relative ``sqlite:///path`` absolute against the workspace root."""
    prefix = next((p for p in ("sqlite:///", "sqlite+pysqlite:///") if url.startswith(p)), None)
    if prefix is None:
        return url
    path = url[len(prefix) :]
    if not path or path.startswith(":memory:") or path.startswith("/"):
        return url
    return prefix + str(root / path)


def resolve_artifacts(location: str, root: Path) -> str:
    """Make a relative folder absolute; leave URIs (``s3://``, ``memory://``) alone."""
    if "://" in location:
        if location.startswith("file://"):
            return location[len("file://") :]
        return location
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else root / path)
