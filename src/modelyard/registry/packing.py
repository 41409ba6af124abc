"""Turning what a user registers (a file, a folder, a live estimator) into stored blobs
and a manifest. Blobs are written before any database row, so a crash leaves at
worst an unreferenced blob, never a version without its bytes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from modelyard.errors import InvalidInput, PickleNotAllowed, UnsupportedFormat, UntrustedTypes
from modelyard.registry.flavours.codecs import codec, flavour_of, skops_untrusted
from modelyard.registry.flavours.formats import (
    PICKLE_FORMATS,
    detect,
    pickled_flavour,
)
from modelyard.registry.flavours.pickles import find_pickle
from modelyard.registry.records import FileEntry, Manifest
from modelyard.storage.artifacts import ArtifactStore
from modelyard.storage.names import collect_folder, safe_relative_name
from modelyard.types import ArtifactFormat, Flavour


@dataclass(frozen=True)
class Packed:
    """A stored artifact ready to be recorded: flavour, format, manifest, digest, size."""

    flavour: Flavour
    format: ArtifactFormat
    manifest: Manifest
    sha256: str
    size: int


def _digest(files: tuple[FileEntry, ...]) -> tuple[str, int]:
    if len(files) == 1:
        return files[0].sha256, files[0].size
    canonical = json.dumps([f.to_dict() for f in files], sort_keys=True).encode()
    return hashlib.sha256(canonical).hexdigest(), sum(f.size for f in files)


def _check_pickle(fmt: ArtifactFormat, name: str, allow_pickle: bool) -> None:
    if fmt in PICKLE_FORMATS and not allow_pickle:
        raise PickleNotAllowed(
            f"{name} is a {fmt.value} file, which can run code when loaded: register it with "
            "--allow-pickle (admins only) or save the model with skops",
            file=name,
        )


def _check_skops(store: ArtifactStore, entry: FileEntry, trusted: tuple[str, ...]) -> None:
    refused = skops_untrusted(store.read_bytes(entry.sha256), trusted)
    if refused:
        raise UntrustedTypes(
            f"{entry.name} contains types outside the workspace allow-list: {', '.join(refused)}; "
            "add them to security.skops_trusted in modelyard.toml if you trust them",
            file=entry.name,
            types=refused,
        )


def pack_path(
    store: ArtifactStore,
    path: Path,
    *,
    flavour: Flavour | None,
    main: str | None,
    allow_pickle: bool,
    skops_trusted: tuple[str, ...],
    options: dict[str, object] | None = None,
) -> Packed:
    """Store a file or a folder; detect its flavour and main file unless given."""
    if not path.exists():
        raise InvalidInput(f"{path} does not exist", code="path_not_found")
    if path.is_dir():
        listed = collect_folder(path)
        if not listed:
            raise InvalidInput(f"folder {path} holds no files", code="empty_folder")
    else:
        listed = [(safe_relative_name(path.name), path)]
    if flavour is not Flavour.FILES and main is None:
        candidates = [n for n, _ in listed if _known(n)]
        if len(listed) == 1 or len(candidates) == 1:
            main = candidates[0] if candidates else listed[0][0]
        elif flavour is None:
            flavour = Flavour.FILES
        else:
            raise InvalidInput(
                f"{path} holds several model files ({', '.join(candidates) or 'none'}): "
                "say which with --main",
                code="ambiguous_main",
            )
    if main is not None and flavour is not Flavour.FILES:
        detected_flavour, fmt = detect(main)
        _check_pickle(fmt, main, allow_pickle)
        main_path = dict(listed).get(main)
        if main_path is None:
            raise InvalidInput(f"{main!r} is not a file of {path}", code="main_not_found")
        if fmt in PICKLE_FORMATS:  # the class inside tells, not the file name
            detected_flavour = pickled_flavour(main_path.read_bytes())
        flavour = flavour or detected_flavour
        if flavour is Flavour.XGBOOST and fmt not in (
            ArtifactFormat.XGBOOST_JSON,
            ArtifactFormat.XGBOOST_UBJ,
            *PICKLE_FORMATS,
        ):
            raise UnsupportedFormat(f"{main} is not an XGBoost .json or .ubj file")
        found = None if fmt in PICKLE_FORMATS else find_pickle(main_path.read_bytes(), main)
        if found is not None:
            raise PickleNotAllowed(
                f"{main} is named like {fmt.value} but {found} is a pickle: refusing it",
                file=main,
            )
    else:
        flavour, fmt, main = Flavour.FILES, ArtifactFormat.FILES, None
    entries = tuple(FileEntry(name, *_stored(store, file)) for name, file in listed)
    if fmt is ArtifactFormat.SKOPS and main is not None:
        _check_skops(store, next(e for e in entries if e.name == main), skops_trusted)
    manifest = Manifest(files=entries, main=main, options=dict(options or {}))
    return Packed(flavour, fmt, manifest, *_digest(entries))


def pack_object(store: ArtifactStore, model: object, skops_trusted: tuple[str, ...]) -> Packed:
    """Serialise a live model in a safe format and store it."""
    chosen = codec(flavour_of(model))
    if not chosen.can_dump(model):
        raise UnsupportedFormat(
            f"cannot register a {type(model).__module__}.{type(model).__name__}: expected a "
            "scikit-learn-compatible estimator, an XGBoost model or an ONNX ModelProto"
        )
    serialized = chosen.dump(model)
    info = store.put_bytes(serialized.data)
    entry = FileEntry(serialized.filename, info.sha256, info.size)
    if serialized.format is ArtifactFormat.SKOPS:
        _check_skops(store, entry, skops_trusted)
    manifest = Manifest(files=(entry,), main=entry.name, options=dict(serialized.options))
    return Packed(chosen.flavour, serialized.format, manifest, info.sha256, info.size)


def _known(name: str) -> bool:
    try:
        detect(name)
    except UnsupportedFormat:
        return False
    return True


def _stored(store: ArtifactStore, file: Path) -> tuple[str, int]:
    info = store.put_file(file)
    return info.sha256, info.size
