"""Leakage-safe splitters as small pure functions over DataFrames with explicit columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold


def stable_fraction(values, seed: int = 42) -> np.ndarray:
    """Map each value to a fixed number in [0, 1) from a hash of (seed, value).

    A group's side of the split then depends only on the group itself, not on which other
    groups are present: next month's data keeps last month's test artists in test, so a
    frozen evaluation set never leaks into a later training set.
    """
    import hashlib

    out = np.empty(len(values), dtype=np.float64)
    cache: dict = {}
    for i, v in enumerate(values):
        if v not in cache:
            digest = hashlib.blake2b(f"{seed}:{v}".encode(), digest_size=8).digest()
            cache[v] = int.from_bytes(digest, "big") / 2**64
        out[i] = cache[v]
    return out


def group_split(df: pd.DataFrame, group_col: str, test_size: float = 0.2, seed: int = 42) -> tuple[pd.Index, pd.Index]:
    """Train/test row indices such that no value of `group_col` is on both sides (stable per group)."""
    is_test = stable_fraction(df[group_col].astype(str).to_numpy(), seed) < test_size
    return df.index[~is_test], df.index[is_test]


def group_kfold(df: pd.DataFrame, group_col: str, n_splits: int = 5, seed: int = 42):
    """Yield (train_idx, test_idx) for grouped K-fold with shuffled group assignment."""
    groups = df[group_col].to_numpy()
    rng = np.random.default_rng(seed)
    uniq = pd.unique(groups)
    perm = dict(zip(uniq, rng.permutation(len(uniq)), strict=True))
    shuffled = np.array([perm[g] for g in groups])
    for tr, te in GroupKFold(n_splits=n_splits).split(df, groups=shuffled):
        yield df.index[tr], df.index[te]


def temporal_split(df: pd.DataFrame, time_col: str, train_end, valid_end=None):
    """Rows strictly before `train_end` train; [train_end, valid_end) validate; the rest test."""
    t = pd.to_datetime(df[time_col])
    train = df.index[t < pd.Timestamp(train_end)]
    if valid_end is None:
        return train, df.index[t >= pd.Timestamp(train_end)]
    valid = df.index[(t >= pd.Timestamp(train_end)) & (t < pd.Timestamp(valid_end))]
    test = df.index[t >= pd.Timestamp(valid_end)]
    return train, valid, test


def assert_disjoint(df: pd.DataFrame, train_idx, test_idx, group_col: str) -> None:
    """Leakage guard: raise if any group value appears on both sides."""
    overlap = set(df.loc[train_idx, group_col]) & set(df.loc[test_idx, group_col])
    if overlap:
        raise AssertionError(f"{len(overlap)} {group_col} value(s) on both sides of the split, e.g. {next(iter(overlap))!r}")
