"""What a build installed: every distribution pinned, and the wheel files it came from.

pip's installation report (``pip install --report``, pip 22.2+) names each distribution it
installed and the file it installed it from; that is the lock. Installed without a report
(uv), the lock is the environment's distributions, pinned, without files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.utils import canonicalize_name, parse_wheel_filename

from modelyard.storage.environments import LockedWheel


@dataclass(frozen=True)
class BuiltLock:
    """The pins of a built environment and, where known, the local wheel file of each."""

    pins: tuple[str, ...]
    wheels: tuple[Path, ...] = ()

    @classmethod
    def from_report(cls, report: Path) -> BuiltLock:
        """Read pip's installation report: a pin per installed distribution, and its
        wheel when it was installed from a local ``.whl`` file."""
        document = json.loads(report.read_text(encoding="utf-8"))
        pins: list[str] = []
        wheels: list[Path] = []
        for item in document.get("install", []):
            meta = item.get("metadata", {})
            pins.append(pin(str(meta["name"]), str(meta["version"])))
            url = str(item.get("download_info", {}).get("url", ""))
            if url.startswith("file:") and url.endswith(".whl"):
                wheels.append(Path(unquote(urlparse(url).path)))
        return cls(tuple(sorted(pins)), tuple(sorted(wheels, key=lambda w: w.name)))

    @classmethod
    def from_packages(cls, packages: Mapping[str, str]) -> BuiltLock:
        """The pins of an environment's distributions (no wheels known)."""
        return cls(tuple(sorted(pin(name, version) for name, version in packages.items())))

    @property
    def complete(self) -> bool:
        """True if every pinned distribution has its wheel (the lock can be replayed
        offline)."""
        return bool(self.pins) and len(self.wheels) == len(self.pins)


def pin(name: str, version: str) -> str:
    """``name==version`` with the PEP 503 name."""
    return f"{canonicalize_name(name)}=={version}"


def hashed_lines(pins: Sequence[str], wheels: Sequence[LockedWheel]) -> list[str]:
    """Requirement lines that make pip install exactly these wheels (``--require-hashes``)."""
    by_name = {parse_wheel_filename(w.file)[0]: w for w in wheels}
    lines: list[str] = []
    for line in pins:
        wheel = by_name[canonicalize_name(line.split("==", 1)[0])]
        lines.append(f"{line} --hash=sha256:{wheel.sha256}")
    return lines
