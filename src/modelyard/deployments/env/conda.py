"""A conda environment file, read as far as modelyard needs it, and conda specs as pip lines.

PyYAML is not a dependency of modelyard, and conda files use a small part of YAML:
top-level keys, block or flow sequences of plain or quoted scalars, and one nested
``- pip:`` list. :func:`parse_conda_yaml` reads exactly that and refuses the rest with
the line number, rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.errors import InvalidInput

# conda names whose PyPI distribution is called differently.
CONDA_TO_PIP = {
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "matplotlib-base": "matplotlib",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "py-lightgbm": "lightgbm",
    "pyqt": "pyqt5",
}
# conda packages with no PyPI counterpart to install: interpreters, C libraries and
# runtimes that the PyPI wheels bring with them.
_CONDA_ONLY_NAMES = """
    pip python python_abi libxgboost _py-xgboost-mutex _libgcc_mutex _openmp_mutex libgcc-ng
    libgcc libstdcxx-ng libgomp libgfortran-ng libgfortran5 llvm-openmp mkl mkl-service mkl_fft
    mkl_random intel-openmp blas libblas libcblas liblapack libopenblas openblas nomkl
    cudatoolkit cudnn nccl ca-certificates openssl tk xz zlib sqlite readline ncurses libffi
    bzip2 ld_impl_linux-64 libuuid libnsl libzlib libsqlite libxcrypt tbb
"""
CONDA_ONLY = frozenset(_CONDA_ONLY_NAMES.split())
_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$")
_OPERATOR = re.compile(r"^(==|>=|<=|!=|~=|>|<)")


@dataclass(frozen=True)
class CondaFile:
    """What a conda environment file declares, as written."""

    name: str | None
    channels: tuple[str, ...]
    dependencies: tuple[str, ...]
    pip: tuple[str, ...]


@dataclass(frozen=True)
class _Token:
    line: int
    indent: int
    text: str


def parse_conda_yaml(text: str) -> CondaFile:
    """Read ``name``, ``channels``, ``dependencies`` and its ``- pip:`` list; ignore other keys.

    Raises ``InvalidInput`` (code ``invalid_requirements``) with the line number for
    anything outside that subset (anchors, multi-line scalars, nested lists).
    """
    tokens = _tokens(text)
    name: str | None = None
    channels: list[str] = []
    dependencies: list[str] = []
    pip: list[str] = []
    if not tokens:
        return CondaFile(None, (), (), ())
    base = tokens[0].indent
    i = 0
    while i < len(tokens):
        token = tokens[i]
        key, rest = _key_value(token)
        if token.indent != base or key is None:
            raise _bad(token, "expected a top-level `key: value` line")
        block, i = _block(tokens, i + 1, base, sequence_at_same_indent=not rest)
        if key == "name":
            name = _scalar(rest, token) if rest else None
        elif key == "channels":
            channels.extend(_scalars(_items(rest, block, token)))
        elif key == "dependencies":
            for item, nested in _items(rest, block, token):
                item_key, item_rest = _key_value(item)
                if item_key is None:
                    if nested:
                        raise _bad(nested[0], "a list item continues on this line")
                    dependencies.append(_scalar(item.text, item))
                elif item_key == "pip":
                    pip.extend(_scalars(_items(item_rest, nested, item)))
                else:
                    raise _bad(item, f"unknown entry `{item_key}:` in dependencies (only pip:)")
    return CondaFile(name, tuple(channels), tuple(dependencies), tuple(pip))


def conda_to_pip(spec: str) -> tuple[str | None, str | None]:
    """One conda spec as a pip requirement and a note for the build log.

    ``scikit-learn=0.22.1`` -> ``scikit-learn==0.22.1``; ``numpy=1.21`` (conda: any 1.21.x)
    -> ``numpy==1.21.*``; a build string (``=py38_0``) and a channel (``conda-forge::``) are
    dropped; ``py-xgboost`` -> ``xgboost``. Conda-only packages give ``(None, note)``.
    """
    written = spec
    spec = spec.split("::", 1)[-1].strip()
    if "[" in spec or "|" in spec:
        raise InvalidInput(
            f"conda spec {written!r}: brackets and `|` alternatives have no pip equivalent; "
            "write one version, e.g. `numpy=1.26`",
            code="invalid_requirements",
        )
    match = _SPEC.match(spec)
    if match is None:
        raise InvalidInput(f"not a conda package spec: {written!r}", code="invalid_requirements")
    conda_name, rest = match["name"].lower(), match["rest"].strip()
    if conda_name in CONDA_ONLY:
        note = None if conda_name in ("pip", "python") else f"skipped conda-only package {written}"
        return None, note
    name = CONDA_TO_PIP.get(conda_name, conda_name)
    note = (
        f"conda package {conda_name} is installed as {name} from PyPI"
        if name != conda_name
        else None
    )
    return name + _version(rest, written), note


def _version(rest: str, written: str) -> str:
    if not rest:
        return ""
    if _OPERATOR.match(rest):
        return "".join(rest.split())
    # `=1.2.3`, `=1.2.3=build`, or the space-separated `1.2.3 build` form
    version = rest.lstrip("=").replace("=", " ").split()[0] if rest.lstrip("=") else ""
    if not version:
        raise InvalidInput(
            f"conda spec {written!r} has an empty version", code="invalid_requirements"
        )
    if version.endswith(".*") or version.count(".") >= 2:
        return f"=={version}"
    if "*" in version:
        raise InvalidInput(
            f"conda spec {written!r}: only a trailing `.*` wildcard has a pip equivalent",
            code="invalid_requirements",
        )
    # conda's `=1.21` means any 1.21.x; pip's `==1.21` would mean exactly 1.21.0
    return f"=={version}.*"


def conda_python(spec: str) -> str | None:
    """The version a ``python…`` spec asks for (``python=3.8`` -> ``3.8``), else ``None``."""
    match = _SPEC.match(spec.split("::", 1)[-1].strip())
    if match is None or match["name"].lower() != "python":
        return None
    rest = match["rest"].strip()
    if not rest:
        return None
    if _OPERATOR.match(rest):
        return rest.replace(" ", "")
    return rest.lstrip("=").replace("=", " ").split()[0] or None


# -- the YAML subset -------------------------------------------------------------------


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = _strip_comment(raw).rstrip()
        if not stripped.strip() or stripped.strip() in ("---", "..."):
            continue
        body = stripped.lstrip(" ")
        if body.startswith("\t"):
            raise InvalidInput(
                f"line {number}: YAML indentation must be spaces, not tabs",
                code="invalid_requirements",
                line=number,
            )
        if body[0] in "&*!|>%@`{":
            raise InvalidInput(
                f"line {number}: {body!r} uses YAML that conda files do not need "
                "(anchors, tags, block scalars, flow mappings); write plain lists",
                code="invalid_requirements",
                line=number,
            )
        out.append(_Token(number, len(stripped) - len(body), body))
    return out


def _strip_comment(line: str) -> str:
    quote: str | None = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"" and (index == 0 or line[index - 1] in " -[,:"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index]
    return line


def _key_value(token: _Token) -> tuple[str | None, str]:
    """``key: rest`` -> ``("key", "rest")``; a plain scalar -> ``(None, text)``."""
    text = token.text
    if text[0] in "'\"[" or text.startswith("- "):
        return None, text
    key, sep, rest = text.partition(":")
    if not sep or (rest and not rest.startswith(" ")) or not re.fullmatch(r"[\w.\-]+", key):
        return None, text
    return key, rest.strip()


def _block(
    tokens: list[_Token], start: int, indent: int, *, sequence_at_same_indent: bool
) -> tuple[list[_Token], int]:
    """The tokens under a key: deeper ones, or (YAML allows it) a list at the key's indent."""
    end = start
    while end < len(tokens):
        token = tokens[end]
        deeper = token.indent > indent
        same_list = sequence_at_same_indent and token.indent == indent and _is_item(token)
        if not (deeper or same_list):
            break
        end += 1
    return tokens[start:end], end


def _is_item(token: _Token) -> bool:
    return token.text == "-" or token.text.startswith("- ")


def _items(rest: str, block: list[_Token], owner: _Token) -> list[tuple[_Token, list[_Token]]]:
    """A sequence's items, each with the tokens nested under it; flow ``[a, b]`` too."""
    if rest:
        flow = _flow(rest, owner)
        if block:
            raise _bad(block[0], "a value was given on the line above already")
        return [(_Token(owner.line, owner.indent, item), []) for item in flow]
    if not block:
        return []
    indent = block[0].indent
    items: list[tuple[_Token, list[_Token]]] = []
    for token in block:
        if token.indent == indent and _is_item(token):
            text = token.text[1:].strip()
            if not text:
                raise _bad(token, "an empty list item")
            if _is_item(_Token(token.line, 0, text)):
                raise _bad(token, "nested lists are not part of a conda file")
            items.append((_Token(token.line, indent + 2, text), []))
        elif token.indent > indent and items:
            items[-1][1].append(token)
        else:
            raise _bad(token, "expected a list item `- …` here")
    return items


def _flow(rest: str, owner: _Token) -> list[str]:
    if not (rest.startswith("[") and rest.endswith("]")):
        if rest.startswith("["):
            raise _bad(owner, "a `[…]` list must close on the same line")
        raise _bad(owner, "expected a list here (`- item` lines or `[a, b]`)")
    inner, parts, current, quote = rest[1:-1], [], "", None
    for char in inner:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def _scalars(items: list[tuple[_Token, list[_Token]]]) -> list[str]:
    out: list[str] = []
    for item, nested in items:
        if nested:
            raise _bad(nested[0], "a list item continues on this line")
        out.append(_scalar(item.text, item))
    return out


def _scalar(text: str, token: _Token) -> str:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text[0] in "'\"":
        raise _bad(token, "an unclosed quote")
    if ": " in text or text.endswith(":"):
        raise _bad(token, f"{text!r} is a mapping where a plain value was expected")
    return text


def _bad(token: _Token, why: str) -> InvalidInput:
    return InvalidInput(
        f"conda file line {token.line}: {why}: {token.text!r}",
        code="invalid_requirements",
        line=token.line,
    )
