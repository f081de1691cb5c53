"""Leakage-safe splitters as small pure functions over DataFrames with explicit columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, GroupShuffleSplit


def group_split(df: pd.DataFrame, group_col: str, test_size: float = 0.2, seed: int = 42) -> tuple[pd.Index, pd.Index]:
    """Train/test row indices such that no value of `group_col` is on both sides."""
    gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    tr, te = next(gss.split(df, groups=df[group_col].to_numpy()))
    return df.index[tr], df.index[te]


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
