"""Shared helpers: keyed random generators, rounding, Arrow/Parquet writing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# Stream keys: every dataset / purpose draws from its own child of the root SeedSequence,
# so e.g. the chart simulation for day 17 is the same whatever the chunk size.
CATALOG, TRACKS, CHARTS, LASTFM = 1, 2, 3, 4

COMPRESSION = "zstd"
ROW_GROUP_ROWS = 1 << 18  # 262,144 rows per row group


def rng_for(seed: int, *key: int) -> np.random.Generator:
    """Generator for the child `key` of SeedSequence(seed).

    Identical to walking `SeedSequence(seed).spawn(...)` down to that child (spawn
    sets `spawn_key`), but addressable directly, so streams never depend on the order
    or number of other streams spawned before.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def gumbel_top_k(log_weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a weighted sample without replacement (Efraimidis-Spirakis), best first."""
    k = min(k, len(log_weights))
    keys = log_weights + rng.gumbel(size=len(log_weights))
    top = np.argpartition(-keys, k - 1)[:k] if k < len(keys) else np.arange(len(keys))
    return top[np.argsort(-keys[top], kind="stable")]


def balanced_split(total: int, parts: int) -> np.ndarray:
    """`parts` counts, as equal as possible, summing to `total`."""
    base = np.full(parts, total // parts, dtype=np.int64)
    base[: total % parts] += 1
    return base


def round_sig(x: np.ndarray, digits: int = 3) -> np.ndarray:
    """Round to significant digits, as the upstream CSV prints audio features (0.0288, 1.84e-06)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    nz = x != 0
    mag = np.floor(np.log10(np.abs(x[nz])))
    scale = 10.0 ** (digits - 1 - mag)
    out[nz] = np.round(x[nz] * scale) / scale
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """(n, w) uint8 ASCII matrix -> Arrow string array without Python objects."""
    n, w = chars.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def string_array(values: Sequence[str | None] | np.ndarray) -> pa.Array:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return pa.array(values, type=pa.string())


def write_parquet(table: pa.Table, path: Path) -> None:
    """Deterministic Parquet: same table -> same bytes (no timestamps, fixed options)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression=COMPRESSION, row_group_size=ROW_GROUP_ROWS)
    tmp.replace(path)


def write_parquet_slices(path: Path, schema: pa.Schema, n_rows: int,
                         build: Callable[[int, int], pa.Table]) -> None:
    """One Parquet file written one row group at a time: `build(start, stop)` makes the
    rows [start, stop) only when needed, so a part file never sits in memory whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema, compression=COMPRESSION) as writer:
        for start in range(0, n_rows, ROW_GROUP_ROWS):
            writer.write_table(build(start, min(n_rows, start + ROW_GROUP_ROWS)), row_group_size=ROW_GROUP_ROWS)
    tmp.replace(path)


def part_name(i: int) -> str:
    return f"part-{i:05d}.parquet"
