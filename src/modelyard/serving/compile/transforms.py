"""Fitted scikit-learn transformers reproduced in numpy, in scikit-learn's own operation order.

Each block reads named columns and returns the float64 block sklearn's ``transform``
would return, bit for bit: a StandardScaler subtracts ``mean_`` then divides by
``scale_`` in float64 (never multiplies by a reciprocal, never works in float32), a
OneHotEncoder writes 1.0 at each known category and nothing for an unknown one. A
ColumnTransformer places the blocks where its ``output_indices_`` say.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from modelyard.serving.compile.base import Array, Columns, NeedsOriginal, Unsupported

# Above this many rows a column is encoded with numpy fancy indexing, below with a loop.
_VECTOR_ROWS = 32


class Block(Protocol):
    """Some columns in, an ``(n, width)`` block out."""

    @property
    def inputs(self) -> tuple[str, ...]: ...

    @property
    def width(self) -> int: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __call__(self, columns: Columns, rows: int) -> Array: ...


def numeric(columns: Columns, names: Sequence[str], rows: int, *, bools: bool = True) -> Array:
    """The ``names`` columns as one C-ordered float64 matrix, as ``check_array`` makes it.

    Integers (and booleans, where ``bools``) convert exactly as sklearn converts them. A
    float32 column would make sklearn compute in float32 and an object column would be
    parsed: both go back to the original.
    """
    out = np.empty((rows, len(names)), dtype=np.float64)
    kinds = "biuf" if bools else "iuf"
    for j, name in enumerate(names):
        values = columns[name]
        dtype = values.dtype
        if dtype.kind not in kinds or (dtype.kind == "f" and dtype.itemsize != 8):
            raise NeedsOriginal(f"column {name} has dtype {dtype}, not float64 or an integer")
        out[:, j] = values
    return out


@dataclass(frozen=True)
class Passthrough:
    """Columns passed through unchanged (``"passthrough"`` or the remainder)."""

    inputs: tuple[str, ...]

    @property
    def width(self) -> int:
        """One output column per input column."""
        return len(self.inputs)

    @property
    def dtype(self) -> np.dtype[Any]:
        """Numbers are stacked as float64."""
        return np.dtype(np.float64)

    def __call__(self, columns: Columns, rows: int) -> Array:
        """The columns as float64; a boolean column would make pandas stack objects."""
        return numeric(columns, self.inputs, rows, bools=False)


@dataclass(frozen=True)
class Scale:
    """A fitted StandardScaler: ``(x - mean_) / scale_`` in float64, in that order."""

    inputs: tuple[str, ...]
    mean: Array | None
    scale: Array | None

    @classmethod
    def of(cls, scaler: StandardScaler, inputs: Sequence[str]) -> Scale:
        """The scaler's fitted parameters, as float64 like the float64 data they apply to."""
        mean = np.asarray(scaler.mean_, dtype=np.float64) if scaler.with_mean else None
        scale = np.asarray(scaler.scale_, dtype=np.float64) if scaler.with_std else None
        return cls(tuple(inputs), mean, scale)

    @property
    def width(self) -> int:
        """One output column per input column."""
        return len(self.inputs)

    @property
    def dtype(self) -> np.dtype[Any]:
        """Always float64 (float32 inputs go back to the original)."""
        return np.dtype(np.float64)

    def __call__(self, columns: Columns, rows: int) -> Array:
        """The scaled columns."""
        return self.apply(numeric(columns, self.inputs, rows))

    def apply(self, matrix: Array) -> Array:
        """Scale a float64 matrix in place, as ``StandardScaler.transform`` does."""
        if self.mean is not None:
            matrix -= self.mean
        if self.scale is not None:
            matrix /= self.scale
        return matrix


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


@dataclass(frozen=True)
class OneHot:
    """A fitted OneHotEncoder with ``drop=None`` and no infrequent categories."""

    inputs: tuple[str, ...]
    tables: tuple[dict[Any, int], ...]
    offsets: tuple[int, ...]
    textual: tuple[bool, ...]
    width: int
    dtype: np.dtype[Any]
    reject_unknown: bool

    @classmethod
    def of(cls, encoder: OneHotEncoder, inputs: Sequence[str]) -> OneHot:
        """Lookup tables from the encoder's ``categories_``; Unsupported says what is not."""
        if encoder.drop is not None:
            raise Unsupported(f"OneHotEncoder(drop={encoder.drop!r}) is not compiled")
        if encoder.min_frequency is not None or encoder.max_categories is not None:
            raise Unsupported("OneHotEncoder with infrequent categories is not compiled")
        if encoder.handle_unknown not in ("ignore", "error", "infrequent_if_exist"):
            raise Unsupported(f"OneHotEncoder(handle_unknown={encoder.handle_unknown!r})")
        tables, offsets, textual = [], [], []
        offset = 0
        for name, categories in zip(inputs, encoder.categories_, strict=True):
            values = categories.tolist()
            if any(_missing(v) for v in values):
                raise Unsupported(f"OneHotEncoder with a missing-value category in {name}")
            tables.append({v: i for i, v in enumerate(values)})
            offsets.append(offset)
            textual.append(categories.dtype.kind in "OUS")
            offset += len(values)
        return cls(
            tuple(inputs),
            tuple(tables),
            tuple(offsets),
            tuple(textual),
            offset,
            np.dtype(encoder.dtype),
            encoder.handle_unknown == "error",
        )

    def __call__(self, columns: Columns, rows: int) -> Array:
        """The dense one-hot block; an unknown category is all zeros unless it must raise."""
        out = np.zeros((rows, self.width), dtype=np.float64)
        for name, table, offset, textual in zip(
            self.inputs, self.tables, self.offsets, self.textual, strict=True
        ):
            values = columns[name]
            if (values.dtype.kind in "OUS") != textual:
                raise NeedsOriginal(f"column {name} has dtype {values.dtype}")
            try:
                codes = [table.get(v, -1) for v in values.tolist()]
            except TypeError:  # an unhashable value: let sklearn say what it thinks of it
                raise NeedsOriginal(f"column {name} holds unhashable values") from None
            if rows > _VECTOR_ROWS:
                found = np.asarray(codes, dtype=np.intp)
                known = np.flatnonzero(found >= 0)
                if self.reject_unknown and known.size != rows:
                    raise NeedsOriginal(f"unknown category in {name}")
                out[known, offset + found[known]] = 1.0
                continue
            for row, code in enumerate(codes):
                if code >= 0:
                    out[row, offset + code] = 1.0
                elif self.reject_unknown:
                    raise NeedsOriginal(f"unknown category in {name}")
        return out


def _selected(columns: Any, names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(columns, str) or callable(columns):
        raise Unsupported("a ColumnTransformer given a single column name or a callable")
    if isinstance(columns, list | tuple) and all(isinstance(c, str) for c in columns):
        return tuple(columns)
    picked = np.asarray(names, dtype=object)[columns]
    return tuple(str(p) for p in np.atleast_1d(picked))


def _block(transformer: Any, inputs: tuple[str, ...]) -> Block:
    if isinstance(transformer, str) and transformer == "passthrough":
        return Passthrough(inputs)
    if type(transformer) is FunctionTransformer and (
        transformer.func is None and not transformer.validate
    ):
        return Passthrough(inputs)  # how ColumnTransformer stores remainder="passthrough"
    if type(transformer) is OneHotEncoder:
        return OneHot.of(transformer, inputs)
    if type(transformer) is StandardScaler:
        return Scale.of(transformer, inputs)
    raise Unsupported(f"{type(transformer).__name__} is not compiled")


@dataclass(frozen=True)
class ColumnStage:
    """Named columns to the matrix the first step (or the raw frame) hands on."""

    blocks: tuple[tuple[Block, int, int], ...]
    width: int
    dtype: np.dtype[Any]
    sparse: bool

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every column read, each once, in first-use order."""
        return tuple(dict.fromkeys(n for block, _, _ in self.blocks for n in block.inputs))

    def __call__(self, columns: Columns, rows: int) -> Array:
        """The C-ordered matrix; dense even where sklearn would hand on a sparse one."""
        if len(self.blocks) == 1 and self.blocks[0][0].dtype == self.dtype:
            return self.blocks[0][0](columns, rows)
        out = np.empty((rows, self.width), dtype=self.dtype)
        for block, start, stop in self.blocks:
            out[:, start:stop] = block(columns, rows)
        return out


def _stage(blocks: Sequence[tuple[Block, int, int]], sparse: bool) -> ColumnStage:
    if not blocks:
        raise Unsupported("the first step outputs no columns")
    width = max(stop for _, _, stop in blocks)
    covered = sorted((start, stop) for _, start, stop in blocks)
    if covered[0][0] != 0 or any(a[1] != b[0] for a, b in itertools.pairwise(covered)):
        raise Unsupported("the ColumnTransformer's output columns are not contiguous")
    dtype = np.result_type(*(block.dtype for block, _, _ in blocks))
    return ColumnStage(tuple(blocks), width, dtype, sparse)


def column_stage(first: Any, names: Sequence[str]) -> ColumnStage:
    """The stage of a pipeline whose first step is ``first``, fed the frame columns ``names``.

    ``first`` is a ColumnTransformer, a OneHotEncoder or StandardScaler over the whole
    frame, or None (a bare estimator, fed the frame as it is).
    """
    if first is None:
        return _stage([(Passthrough(tuple(names)), 0, len(names))], False)
    if type(first) is ColumnTransformer:
        if first.transformer_weights:
            raise Unsupported("a ColumnTransformer with transformer_weights is not compiled")
        names = list(getattr(first, "feature_names_in_", names))
        blocks: list[tuple[Block, int, int]] = []
        for name, transformer, selected in first.transformers_:
            span = first.output_indices_[name]
            if span.stop == span.start or (isinstance(transformer, str) and transformer == "drop"):
                continue
            block = _block(transformer, _selected(selected, names))
            if block.width != span.stop - span.start:
                raise Unsupported(f"transformer {name} outputs an unexpected number of columns")
            blocks.append((block, span.start, span.stop))
        return _stage(blocks, bool(first.sparse_output_))
    block = _block(first, tuple(getattr(first, "feature_names_in_", names)))
    sparse = type(first) is OneHotEncoder and bool(first.sparse_output)
    return _stage([(block, 0, block.width)], sparse)


def matrix_step(step: Any) -> Scale | None:
    """A later pipeline step on the matrix: a StandardScaler, or None for ``passthrough``."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return None
    if type(step) is StandardScaler:
        return Scale.of(step, ())
    raise Unsupported(f"{type(step).__name__} after the first step is not compiled")
