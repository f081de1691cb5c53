"""Leakage-safe splitters as small pure functions over DataFrames with explicit columns.

Every model's split lives here, each with its leakage guard:
- grouped (`group_split`, `group_kfold` + `assert_disjoint`): no artist / track / song on both
  sides; hash-based per group, so a frozen evaluation set stays out of later training sets;
- temporal (`temporal_split`, `chart_split` + `assert_temporal`): forecasts train on the past only;
- per-user holdout (`per_user_holdout` + `assert_pairs_disjoint`): implicit-feedback recommenders.
"""

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


# ---------------------------------------------------------------------------- temporal (forecasts)


def chart_split(df: pd.DataFrame, test_frac: float = 0.2, valid_frac: float = 0.15, time_col: str = "target_end"):
    """Temporal split on the target period: (train_idx, valid_idx, test_idx, (valid_start, test_start)).

    Train: the earliest periods; valid: the next `valid_frac`; test: the latest `test_frac` of the
    distinct values of `time_col` (the last day a row's target reads). Every day a training row
    reads (features and target) is then before the first target day of any validation or test row.
    """
    ends = np.sort(df[time_col].unique())
    n = len(ends)
    n_test = max(1, int(round(test_frac * n)))
    n_valid = max(1, int(round(valid_frac * n)))
    if n - n_test - n_valid < 1:
        raise ValueError(f"only {n} labelled weeks of chart data: need at least 3 for train / valid / test")
    valid_start, test_start = ends[n - n_test - n_valid], ends[n - n_test]
    tr, va, te = temporal_split(df, time_col, valid_start, test_start)
    return tr, va, te, (pd.Timestamp(valid_start), pd.Timestamp(test_start))


def assert_temporal(df: pd.DataFrame, train_idx, later_idx, anchor_col: str = "anchor", horizon_days: int = 7) -> None:
    """Leakage guard for forecasts made at `anchor_col` for the next `horizon_days` days: the last day any
    training row reads (anchor + horizon) must be before the first target day of the later rows (anchor + 1)."""
    if len(train_idx) == 0 or len(later_idx) == 0:
        return
    last_read = pd.to_datetime(df.loc[train_idx, anchor_col]).max() + pd.Timedelta(days=horizon_days)
    first_target = pd.to_datetime(df.loc[later_idx, anchor_col]).min() + pd.Timedelta(days=1)
    if last_read >= first_target:
        raise AssertionError(f"training reads {last_read.date()}, on/after a later target day {first_target.date()}")


# ----------------------------------------------------------------------- per-user holdout (recommenders)


def per_user_holdout(
    df: pd.DataFrame,
    user_col: str = "user_id",
    item_col: str = "item_id",
    test_frac: float = 0.2,
    min_interactions: int = 5,
    seed: int = 42,
) -> tuple[pd.Index, pd.Index]:
    """(train index, test index) of `df`: a random `test_frac` of each eligible user's rows.

    Each user with at least `min_interactions` interactions gives a random `test_frac` of them
    (at least one, never all) to the test side; users with fewer stay entirely in train (they
    still shape the model, they are just not evaluated). A (user, item) pair is on one side
    only, so a test positive is never seen in training. Apply the splitter again to the train
    side to carve a validation slice (for tuning and for the hybrid ranker) without touching test.
    """
    if not 0.0 < test_frac < 1.0:
        raise ValueError("test_frac must be in (0, 1)")
    pairs = df[[user_col, item_col]]
    if pairs.duplicated().any():
        raise ValueError(f"duplicate ({user_col}, {item_col}) pairs: aggregate them before splitting")
    rng = np.random.default_rng(seed)
    n = len(df)
    order = rng.permutation(n)  # random position within each user
    users = df[user_col].to_numpy()
    codes, _ = pd.factorize(users)
    counts = np.bincount(codes)
    # rank of each row among its user's rows, in the random order
    shuffled_codes = codes[order]
    rank_sorted = pd.Series(shuffled_codes).groupby(shuffled_codes).cumcount().to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    n_user = counts[codes]
    n_test = np.clip(np.rint(n_user * test_frac).astype(np.int64), 1, n_user - 1)
    is_test = (n_user >= max(min_interactions, 2)) & (rank < n_test)
    return df.index[~is_test], df.index[is_test]


def assert_pairs_disjoint(train: pd.DataFrame, test: pd.DataFrame, user_col: str = "user_id",
                          item_col: str = "item_id") -> None:
    """Leakage guard: raise if any (user, item) pair is on both sides."""
    both = train[[user_col, item_col]].drop_duplicates().merge(test[[user_col, item_col]].drop_duplicates())
    if len(both):
        row = both.iloc[0]
        raise AssertionError(f"{len(both)} ({user_col}, {item_col}) pair(s) on both sides, e.g. {tuple(row)}")
