"""``ws.models``: the registry as the SDK shows it."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import ConfigError, UnsupportedFormat
from modelyard.promotion import PromotionRule
from modelyard.registry.aliases import UNSET
from modelyard.registry.flavours.formats import PICKLE_FORMATS, detect
from modelyard.registry.records import Event, Model, ModelVersion
from modelyard.registry.registry import Registry, VersionInfo
from modelyard.types import DEFAULT_ALIAS, Flavour, ModelRef, OutputKind, Signature

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.training.reproduce import Reproduction
    from modelyard.training.runner import TrainingRunner


class Models:
    """``ws.models``: register, find, promote, roll back and load model versions."""

    def __init__(
        self,
        registry: Registry,
        trainings: Mapping[str, Mapping[str, Any]] | None = None,
        runner: Callable[[], TrainingRunner] | None = None,
    ) -> None:
        """``runner`` gives the runner that refits versions for :meth:`reproduce` (a
        workspace gives its own, built on first use)."""
        self._registry = registry
        self._trainings = trainings or {}
        self._runner = runner

    def register(
        self,
        name: str,
        model: object,
        *,
        input_example: pd.DataFrame | None = None,
        signature: Signature | None = None,
        output_kind: OutputKind = OutputKind.RAW,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        lineage: Mapping[str, Any] | None = None,
        description: str = "",
        flavour: Flavour | str | None = None,
        main: str | None = None,
        allow_pickle: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a path (file or folder) or a live estimator as the next version of ``name``.

        ``input_example`` (a DataFrame) gives the signature; ``allow_pickle`` lets an
        admin register a pickle/joblib file, which then loads only while its bytes match.
        """
        if signature is None and input_example is not None:
            # pandas is imported by what reads a frame, not by `import` (the CLI starts at once)
            from modelyard.registry.signature import infer_signature

            signature = infer_signature(input_example, output_kind)
        info = VersionInfo(
            signature=signature,
            metrics=dict(metrics or {}),
            params=dict(params or {}),
            tags=dict(tags or {}),
            lineage=dict(lineage or {}),
            description=description,
        )
        if isinstance(model, str | os.PathLike):
            if _pickled(Path(model), main) and "packages" not in info.lineage:
                # a pickle runs only with the packages that made it; the registering
                # process's are the best record of them (the deployments' pre-flight check)
                from modelyard.training.lineage import package_versions  # imports pandas

                info = replace(info, lineage={**info.lineage, "packages": package_versions()})
            return self._registry.register_path(
                name,
                Path(model),
                info,
                flavour=Flavour(flavour) if flavour else None,
                main=main,
                allow_pickle=allow_pickle,
                actor=actor,
            )
        if "packages" not in info.lineage:  # this process serialises it: its packages made it
            from modelyard.training.lineage import package_versions  # imports pandas

            info = replace(info, lineage={**info.lineage, "packages": package_versions()})
        return self._registry.register_object(name, model, info, actor=actor)

    def get(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """One version (default: the champion); raises ``NotFound`` if there is none."""
        if version is not None and alias is not None:
            raise ConfigError("give either version or alias, not both")
        return self._registry.get_version(name, version, alias=alias)

    def resolve(self, ref: str | ModelRef) -> ModelVersion:
        """The version ``immo``, ``immo@champion`` or ``immo:3`` names."""
        return self._registry.resolve(ref)

    def get_model(self, name: str) -> Model:
        """The model ``name`` with its latest version and aliases; raises ``ModelNotFound``."""
        return self._registry.get_model(name)

    def list(self, *, include_archived: bool = False) -> builtins.list[Model]:
        """All models."""
        return self._registry.list_models(include_archived=include_archived)

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """All versions of ``name``, oldest first."""
        return self._registry.list_versions(name)

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = DEFAULT_ALIAS,
        reason: str = "",
        force: bool = False,
        expected: Any = UNSET,
        actor: str | None = None,
    ) -> Event | None:
        """Move ``alias`` (default ``champion``) to ``version``; see ``Registry.promote``."""
        return self._registry.promote(
            name, version, alias=alias, reason=reason, force=force, expected=expected, actor=actor
        )

    def rollback(
        self, name: str, *, alias: str = DEFAULT_ALIAS, reason: str = "", actor: str | None = None
    ) -> Event:
        """Return ``alias`` to the version it held before the current one."""
        return self._registry.rollback(name, alias=alias, reason=reason, actor=actor)

    def history(self, name: str, *, alias: str | None = None) -> builtins.list[Event]:
        """The model's event log, oldest first."""
        return self._registry.history(name, alias=alias)

    def reproduce(
        self, ref: str | ModelRef, *, force: bool = False, tolerance: float | None = None
    ) -> Reproduction:
        """Refit the version ``ref`` names from its recorded lineage (query, parameters,
        code, packages) and set its metrics beside the recorded ones; ``.reproduced`` is
        True when each is within ``tolerance``, ``.data_changed`` when the source's rows
        changed since (``tolerance`` None: ``training.reproduce.TOLERANCE``, 1e-9). Raises
        ``Conflict`` listing the differences when the code or the packages differ from
        those recorded, unless ``force``; registers nothing."""
        from modelyard.training.reproduce import TOLERANCE  # scikit-learn: on first use

        if self._runner is None:
            raise ConfigError("this Models has no training runner: use a Workspace's ws.models")
        version = self._registry.resolve(ref)
        within = TOLERANCE if tolerance is None else tolerance
        return self._runner().reproduce(version, force=force, tolerance=within)

    def load(self, ref: str | ModelRef) -> object:
        """Load a version through the one safe loader (hash, allow-list and pickle checks)."""
        return self._registry.load(ref)

    def download(
        self, ref: str | ModelRef, target: str | os.PathLike[str], *, force: bool = False
    ) -> Path:
        """Write a version's verified files into the folder ``target``; ``Conflict`` if it
        is a file or a file there would be replaced, unless ``force``."""
        return self._registry.download(ref, Path(target), force=force)

    def archive(self, name: str, version: int | None = None, *, actor: str | None = None) -> None:
        """Archive a version (or the whole model)."""
        self._registry.archive(name, version, actor=actor)

    def approve(self, name: str, version: int, *, actor: str | None = None) -> Event | None:
        """Approve a version held pending by ``require_approval``: it becomes champion.
        Raises ``Forbidden`` if its training asks for ``four_eyes`` and ``actor`` is its
        author."""
        four_eyes = self.four_eyes(name, version)
        return self._registry.approve(name, version, actor=actor, four_eyes=four_eyes)

    def reject(
        self, name: str, version: int, *, reason: str = "", actor: str | None = None
    ) -> None:
        """Reject a version held pending by ``require_approval``: it is never promoted.
        The same ``four_eyes`` rule as :meth:`approve` applies."""
        four_eyes = self.four_eyes(name, version)
        self._registry.reject(name, version, actor=actor, reason=reason, four_eyes=four_eyes)

    def four_eyes(self, name: str, version: int) -> bool:
        """True if the training that made ``name:version`` wants its approver to be another
        person than its author (``four_eyes = true`` in its promotion rule)."""
        training = self.get(name, version=version).lineage.get("training")
        declared = self._trainings.get(str(training)) if training else None
        rule = (declared or {}).get("promotion")
        if not isinstance(rule, Mapping):
            return False
        return PromotionRule.from_mapping(rule, f"trainings.{training}.promotion").four_eyes


def _pickled(path: Path, main: str | None) -> bool:
    """Whether the model file registered from ``path`` (``main`` in a folder) is a pickle
    or joblib file, by its name."""
    name = main or (path.name if path.is_file() else "")
    try:
        return detect(name)[1] in PICKLE_FORMATS
    except UnsupportedFormat:
        return False
