"""Names inside a version, and the folders they are read from or written to.

Every name is checked by :func:`safe_relative_name` so that nothing can point outside
the artifact store or outside the folder a version is materialised into; symlinks are
never followed out of either.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from modelyard.errors import UnsafePath

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_relative_name(name: str) -> str:
    """Return ``name`` as a clean relative POSIX path, or raise ``UnsafePath``.

    Refused: empty names, absolute paths, drive letters, backslashes, NUL and
    control characters, ``.`` and ``..`` components, and percent-encoded
    forms of any of these (``%2e%2e``, ``%2f``, ``%5c``, ``%00``).
    """
    decoded = name
    for _ in range(3):  # undo double and triple encoding too
        decoded = unquote(decoded)
    for candidate in (name, decoded):
        if not candidate or candidate != candidate.strip():
            raise UnsafePath(f"artifact name {name!r} is empty or has surrounding spaces")
        if any(ord(ch) < 32 or ch == "\x7f" for ch in candidate):
            raise UnsafePath(f"artifact name {name!r} contains a NUL or control character")
        if "\\" in candidate:
            raise UnsafePath(f"artifact name {name!r} contains a backslash: use '/'")
        if candidate.startswith("/") or _WINDOWS_DRIVE.match(candidate):
            raise UnsafePath(f"artifact name {name!r} is absolute: names are relative")
        parts = candidate.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise UnsafePath(f"artifact name {name!r} has an empty, '.' or '..' component")
    if decoded != name:
        raise UnsafePath(f"artifact name {name!r} is percent-encoded: give the plain name")
    return str(PurePosixPath(name))


def materialize_file(data: bytes, target_root: Path, name: str) -> Path:
    """Write ``data`` at ``target_root/name``, refusing any name that escapes the root.

    Symlinks already inside the target are never followed out of it.
    """
    root = target_root.resolve()
    rel = safe_relative_name(name)
    dest = root / rel
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not parent.resolve().is_relative_to(root):
        raise UnsafePath(f"artifact name {name!r} leads through a symlink outside {root}")
    if dest.is_symlink():
        raise UnsafePath(f"artifact name {name!r} is a symlink in {root}: refusing to follow it")
    tmp = parent / f".{dest.name}.{uuid.uuid4().hex}.part"
    with tmp.open("xb") as out:
        out.write(data)
    os.replace(tmp, dest)
    return dest


def collect_folder(folder: Path) -> list[tuple[str, Path]]:
    """List the regular files under ``folder`` as (safe relative name, path).

    A symlink that resolves outside ``folder`` is refused; one that stays inside
    is stored as the file it points to.
    """
    root = folder.resolve()
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for dirname in list(dirnames):
            link = here / dirname
            if link.is_symlink() and not link.resolve().is_relative_to(root):
                raise UnsafePath(f"{link} is a symlink pointing outside {root}")
        for filename in sorted(filenames):
            path = here / filename
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise UnsafePath(f"{path} is a symlink pointing outside {root}")
            if not path.resolve().is_file():
                continue
            files.append((safe_relative_name(path.relative_to(root).as_posix()), path))
    return sorted(files)
