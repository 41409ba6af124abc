"""The ONE safe loader: every model that modelyard deserialises goes through here.

Order of checks, before any byte is deserialised:
1. pickle and joblib versions must have been registered with ``allow_pickle``;
2. every file's sha256 (and size) must match the registry;
3. skops files may hold only types matching the workspace allow-list.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.errors import HashMismatch, PickleNotAllowed
from modelyard.registry.flavours.base import LoadContext
from modelyard.registry.flavours.codecs import codec
from modelyard.registry.flavours.formats import PICKLE_FORMATS
from modelyard.registry.records import FileEntry, ModelVersion
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.blobcache import check_sha
from modelyard.storage.names import materialize_file
from modelyard.types import Flavour


class SafeLoader:
    """Loads model versions from the artifact store, checking hashes and allow-lists."""

    def __init__(self, store: ArtifactStore, skops_trusted: tuple[str, ...], scratch: Path) -> None:
        self._store = store
        self._ctx = LoadContext(skops_trusted=skops_trusted, scratch=scratch)

    def read_verified(self, version: ModelVersion, entry: FileEntry) -> bytes:
        """The bytes of one file of ``version``, refused unless its sha256 matches."""
        try:
            return self._store.read_bytes(entry.sha256, expected_size=entry.size)
        except HashMismatch as exc:
            raise HashMismatch(
                f"{version.ref} file {entry.name!r} does not match the registry: "
                f"expected sha256 {entry.sha256}, actual {exc.details.get('actual')}; "
                "the artifact was modified after registration",
                file=entry.name,
                expected=entry.sha256,
                actual=exc.details.get("actual"),
            ) from None

    def load(self, version: ModelVersion) -> object:
        """Return the live model of ``version`` (for ``files``: the folder holding its files)."""
        if version.format in PICKLE_FORMATS and not version.allow_pickle:
            raise PickleNotAllowed(
                f"{version.ref} is a {version.format.value} file registered without allow_pickle: "
                "refusing to unpickle it; re-register it with --allow-pickle (admins only) "
                "or save it with skops",
                file=version.manifest.main,
            )
        if version.flavour is Flavour.FILES:
            return self.materialize(version, self._ctx.scratch / check_sha(version.sha256))
        main = version.manifest.main
        assert main is not None, "a non-files version always has a main file"
        data = self.read_verified(version, version.manifest.entry(main))
        options = {**version.manifest.options, "file": f"{version.ref} file {main!r}"}
        return codec(version.flavour).load(data, version.format, options, self._ctx)

    def materialize(self, version: ModelVersion, target: Path) -> Path:
        """Write every verified file of ``version`` under ``target``; returns ``target``."""
        target.mkdir(parents=True, exist_ok=True)
        for entry in version.manifest.files:
            materialize_file(self.read_verified(version, entry), target, entry.name)
        return target
