"""Per-user random holdout for implicit-feedback recommenders.

Each user with at least `min_interactions` interactions gives a random `test_frac` of them
(at least one, never all) to the test side; users with fewer stay entirely in train (they
still shape the model, they are just not evaluated). A (user, item) pair is on one side
only, so a test positive is never seen in training. Apply the splitter again to the train
side to carve a validation slice (for tuning and for the hybrid ranker) without touching test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def per_user_holdout(
    df: pd.DataFrame,
    user_col: str = "user_id",
    item_col: str = "item_id",
    test_frac: float = 0.2,
    min_interactions: int = 5,
    seed: int = 42,
) -> tuple[pd.Index, pd.Index]:
    """(train index, test index) of `df`: a random `test_frac` of each eligible user's rows."""
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
