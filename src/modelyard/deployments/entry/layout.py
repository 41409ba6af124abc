"""The app root of an entry-script deployment, laid out as Azure ML lays out a container.

    R/score.py                                       the entry script (and its source folder)
    R/azureml-models/<model name>/<version>/<entry>  one file, or one folder, per version

``Model.get_model_path(name)`` resolves against ``R/azureml-models`` exactly as in
``/var/azureml-app``; ``AZUREML_MODEL_DIR`` is the version folder for a single model,
``R/azureml-models`` for several. Every byte written is checked against its sha256 first.
"""

from __future__ import annotations

import fcntl
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from modelyard.deployments.entry.spec import ScriptSpec
from modelyard.errors import PickleNotAllowed
from modelyard.registry.flavours.pickles import find_pickle
from modelyard.registry.records import ModelVersion
from modelyard.registry.registry import Registry
from modelyard.storage.names import materialize_file, safe_relative_name
from modelyard.types import ModelRef

MODELS_DIR = "azureml-models"
COMPLETE = ".modelyard-complete"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav")


@dataclass(frozen=True)
class AppRoot:
    """A laid-out deployment: where it is, its entry script and its model folder."""

    path: Path
    entry_script: Path
    model_dir: Path
    versions: tuple[ModelVersion, ...]


def entry_name(version: ModelVersion) -> str:
    """The one entry of ``<name>/<version>/``: the file or folder name it was registered with."""
    files = version.manifest.files
    basename = version.manifest.options.get("basename")
    if len(files) == 1 and "/" not in files[0].name and not version.manifest.options.get("folder"):
        return files[0].name
    return safe_relative_name(str(basename or version.name))


def version_target(folder: Path, version: ModelVersion) -> Path:
    """Where ``version``'s files go under ``folder``: in it for one registered file, in a
    subfolder named as the registered folder otherwise (so ``folder`` holds one entry)."""
    files = version.manifest.files
    name = entry_name(version)
    return folder if len(files) == 1 and name == files[0].name else folder / name


def lay_out(root: Path, spec: ScriptSpec, registry: Registry) -> AppRoot:
    """Write the deployment under ``root`` once; a complete root is reused as it is."""
    versions = tuple(registry.resolve(ModelRef.parse(ref)) for ref in spec.models)
    root.parent.mkdir(parents=True, exist_ok=True)
    # Several server processes of one machine may lay out the same deployment at once.
    with open(root.with_name(f".{root.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / COMPLETE).exists():
            tmp = root.with_name(f".{root.name}.{uuid.uuid4().hex[:8]}")
            try:
                _write(tmp, spec, registry, versions)
                (tmp / COMPLETE).write_text("", encoding="utf-8")
                if root.exists():  # an interrupted earlier attempt
                    shutil.rmtree(root)
                tmp.rename(root)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    models = root / MODELS_DIR
    model_dir = (
        models / versions[0].name / str(versions[0].version) if len(versions) == 1 else models
    )
    return AppRoot(root, root / safe_relative_name(spec.entry_script), model_dir, versions)


def _write(
    tmp: Path, spec: ScriptSpec, registry: Registry, versions: tuple[ModelVersion, ...]
) -> None:
    tmp.mkdir(parents=True)
    for item in spec.code:
        data = registry.store.read_bytes(item.sha256, expected_size=item.size)
        materialize_file(data, tmp, item.name)
    (tmp / MODELS_DIR).mkdir()
    for version in versions:
        target = version_target(tmp / MODELS_DIR / version.name / str(version.version), version)
        target.mkdir(parents=True, exist_ok=True)
        for item in version.manifest.files:
            data = registry.loader.read_verified(version, item)
            _refuse_unregistered_pickle(version, item.name, data)
            materialize_file(data, target, item.name)


def _refuse_unregistered_pickle(version: ModelVersion, name: str, data: bytes) -> None:
    """The entry script will unpickle what it finds: only bytes an admin registered
    with ``allow_pickle`` may be handed to it. Decided by content (compressed, archived,
    any protocol), not by the first bytes."""
    if version.allow_pickle:
        return
    found = find_pickle(data, name)
    if found is not None or name.lower().endswith(PICKLE_SUFFIXES):
        raise PickleNotAllowed(
            f"{version.ref} file {found or name!r} is or holds a pickle registered without "
            "allow_pickle: an entry script would unpickle it; re-register it with "
            "--allow-pickle (admins only)",
            file=name,
        )
