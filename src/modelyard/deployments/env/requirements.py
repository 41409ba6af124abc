"""An endpoint's declared environment as normalised pip requirements, and its cache digest."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from modelyard.deployments.env.base_image import AZURE_INFERENCE_BASE, BaseImage
from modelyard.deployments.env.conda import conda_python, conda_to_pip, parse_conda_yaml
from modelyard.errors import InvalidInput

BUILDER_FORMAT = 1
"""Bumped when the way environments are built changes, so that old ones are rebuilt."""

SHIMMED = frozenset(
    {
        "azureml-defaults",
        "azureml-core",
        "azureml-contrib-services",
        "azureml-monitoring",
        "azureml-inference-server-http",
    }
)
"""Distributions whose modules modelyard supplies itself inside entry-script processes."""

_OPTION_HELP = {
    ("-r", "--requirement"): "a nested requirements file: list its packages here instead",
    ("-c", "--constraint"): "a constraints file: pin the versions here instead",
    ("-e", "--editable"): "an editable install: build a wheel and register it, or name a release",
    (
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--no-index",
        "--trusted-host",
    ): "package indexes come from the server's pip configuration, not from an endpoint",
}


@dataclass(frozen=True)
class Requirements:
    """Normalised pip requirement lines (sorted, one per distribution) and the python asked for.

    ``python`` is informational: environments are built with the server's interpreter,
    and the build log says so when the two differ. ``notes`` (not part of equality or
    the digest) say what was translated or dropped on the way, for the build log.
    """

    lines: tuple[str, ...]
    python: str | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_lines(
        cls, lines: Iterable[str], *, python: str | None = None, notes: Iterable[str] = ()
    ) -> Requirements:
        """Normalise requirement strings: PEP 503 names, merged duplicates, shims dropped."""
        kept: dict[tuple[str, str], Requirement] = {}
        notes = list(notes)
        for line in lines:
            req = _parse(line)
            name = canonicalize_name(req.name)
            if name in SHIMMED:
                notes.append(f"dropped {line.strip()}: modelyard supplies its own {name} shim")
                continue
            key = (name, str(req.marker or ""))
            kept[key] = _merge(kept[key], req) if key in kept else req
        normalised = sorted({_format(req) for req in kept.values()})
        return cls(tuple(normalised), python, tuple(dict.fromkeys(notes)))

    @classmethod
    def from_requirements_text(cls, text: str) -> Requirements:
        """Read a requirements file: comments and blank lines skipped, pip options refused."""
        lines: list[str] = []
        for number, line in _logical_lines(text):
            _refuse_options(line, f"requirements line {number}", number)
            lines.append(line)
        return cls.from_lines(lines)

    @classmethod
    def from_conda_yaml(
        cls, text: str, *, base: BaseImage | None = AZURE_INFERENCE_BASE
    ) -> Requirements:
        """Read a conda environment file: its plain packages and its ``- pip:`` list.

        ``python=3.8`` sets :attr:`python`; ``pip`` and conda-only libraries are skipped;
        conda names are mapped to PyPI ones (``py-xgboost`` -> ``xgboost``); channels
        are ignored. The pip list goes through :meth:`from_requirements_text`'s checks.
        The packages of ``base`` (Azure ML's inference image: numpy, pandas) that the
        file does not declare are added, as Azure's image had them; ``base=None`` adds
        nothing.
        """
        conda = parse_conda_yaml(text)
        python: str | None = None
        lines: list[str] = []
        notes: list[str] = []
        for spec in conda.dependencies:
            asked = conda_python(spec)
            if asked is not None:
                python = asked
            line, note = conda_to_pip(spec)
            if line is not None:
                lines.append(line)
            if note is not None:
                notes.append(note)
        if conda.channels:
            notes.append(
                f"conda channels ignored (packages come from PyPI): {', '.join(conda.channels)}"
            )
        for line in conda.pip:
            _refuse_options(line, "conda file, pip list", None)
        added = base.missing_from([*lines, *conda.pip]) if base is not None else []
        if base is not None and added:
            notes.append(
                f"added {', '.join(added)}: {base.name} {base.version} (Azure ML's inference "
                "base image) provided them; declare them in the conda file to choose versions"
            )
        return cls.from_lines([*lines, *conda.pip, *added], python=python, notes=notes)

    @classmethod
    def from_file(cls, path: str | Path) -> Requirements:
        """A ``.yml``/``.yaml`` file is a conda environment; anything else a requirements file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read the environment file {path}: {exc.strerror or exc}",
                code="invalid_requirements",
            ) from None
        if path.suffix.lower() in (".yml", ".yaml"):
            return cls.from_conda_yaml(text)
        return cls.from_requirements_text(text)

    @property
    def digest(self) -> str:
        """The cache key for this interpreter's major.minor (see :meth:`digest_for`)."""
        return self.digest_for(f"{sys.version_info.major}.{sys.version_info.minor}")

    def digest_for(self, python_version: str) -> str:
        """sha256 over the lines, the building interpreter's major.minor and the builder format."""
        major_minor = ".".join(python_version.split(".")[:2])
        payload = {"format": BUILDER_FORMAT, "python": major_minor, "lines": list(self.lines)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form, for an endpoint row's options."""
        return {"lines": list(self.lines), "python": self.python, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirements:
        """Rebuild from :meth:`to_dict`'s output (normalising again, so old rows stay valid)."""
        return cls.from_lines(
            [str(line) for line in data.get("lines") or ()],
            python=data.get("python"),
            notes=[str(note) for note in data.get("notes") or ()],
        )


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Non-blank lines without comments, with backslash continuations joined."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw if raw.lstrip().startswith("#") else raw.split(" #", 1)[0].split("\t#", 1)[0]
        line = "" if line.lstrip().startswith("#") else line
        if line.rstrip().endswith("\\"):
            start = start or number
            pending += line.rstrip()[:-1] + " "
            continue
        full, where = (pending + line).strip(), start or number
        pending, start = "", 0
        if full:
            yield where, " ".join(full.split())
    if pending.strip():
        yield start, " ".join(pending.split())


def _refuse_options(line: str, where: str, number: int | None) -> None:
    at: dict[str, Any] = {} if number is None else {"line": number}
    option = line.split("=", 1)[0].split()[0]
    if option.startswith("-"):
        why = next(
            (h for names, h in _OPTION_HELP.items() if option in names),
            "pip options are not supported in an endpoint's requirements",
        )
        raise InvalidInput(
            f"{where}: `{line}` is not supported: {why}", code="invalid_requirements", **at
        )
    if " --" in line or "\t--" in line:
        raise InvalidInput(
            f"{where}: per-requirement options (`--hash`, …) are not supported: `{line}`",
            code="invalid_requirements",
            **at,
        )


def _parse(line: str) -> Requirement:
    try:
        return Requirement(line.strip())
    except InvalidRequirement as exc:
        raise InvalidInput(
            f"not a pip requirement: `{line.strip()}` ({exc})", code="invalid_requirements"
        ) from None


def _merge(first: Requirement, second: Requirement) -> Requirement:
    """One requirement for both lines: extras united, version ranges intersected."""
    if first.url or second.url:
        if _format(first) == _format(second):
            return first
        raise InvalidInput(
            f"`{_format(first)}` and `{_format(second)}` name the same package two ways: keep one",
            code="invalid_requirements",
        )
    merged = Requirement(first.name)
    merged.extras = first.extras | second.extras
    merged.specifier = SpecifierSet(str(first.specifier & second.specifier))
    merged.marker = first.marker  # merged only when the markers are equal
    return merged


def _format(req: Requirement) -> str:
    text: str = canonicalize_name(req.name)
    if req.extras:
        text += "[" + ",".join(sorted(canonicalize_name(e) for e in req.extras)) + "]"
    if req.url:
        text += f" @ {req.url}"
    else:
        text += ",".join(sorted(str(s) for s in req.specifier))
    if req.marker:
        text += f"{' ' if req.url else ''}; {req.marker}"
    return text
