"""Ranking metrics against hand-computed values, and the per-user holdout splitter."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.evaluation import ranking as R
from ml.evaluation.splits import assert_pairs_disjoint, per_user_holdout

# user 1 likes a, b, c; user 2 likes d
TRUTH = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": ["a", "b", "c", "d"]})
# user 1 ranks a, x, b, y; user 2 ranks x, y, d
PRED = pd.DataFrame({
    "user_id": [1, 1, 1, 1, 2, 2, 2],
    "item_id": ["a", "x", "b", "y", "x", "y", "d"],
    "score": [4.0, 3.0, 2.0, 1.0, 3.0, 2.0, 1.0],
})


def test_precision_recall_hit_rate_by_hand():
    # k=3: user 1 hits a (rank 1) and b (rank 3); user 2 hits d (rank 3)
    assert R.precision_at_k(TRUTH, PRED, k=3) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert R.recall_at_k(TRUTH, PRED, k=3) == pytest.approx((2 / 3 + 1 / 1) / 2)
    assert R.hit_rate_at_k(TRUTH, PRED, k=3) == pytest.approx(1.0)
    # k=1: only user 1 hits
    assert R.hit_rate_at_k(TRUTH, PRED, k=1) == pytest.approx(0.5)
    assert R.precision_at_k(TRUTH, PRED, k=1) == pytest.approx(0.5)
    assert R.recall_at_k(TRUTH, PRED, k=1) == pytest.approx((1 / 3 + 0) / 2)


def test_ndcg_by_hand():
    dcg1 = 1 / math.log2(2) + 1 / math.log2(4)  # hits at ranks 1 and 3
    idcg1 = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # 3 relevant, k=3
    dcg2 = 1 / math.log2(4)  # hit at rank 3
    idcg2 = 1.0  # 1 relevant
    assert R.ndcg_at_k(TRUTH, PRED, k=3) == pytest.approx((dcg1 / idcg1 + dcg2 / idcg2) / 2)
    assert R.ndcg_at_k(TRUTH, PRED, k=3) == pytest.approx(0.601959, abs=1e-6)
    # k=2: user 1 has 1 hit at rank 1 and min(k, 3)=2 ideal hits; user 2 none
    assert R.ndcg_at_k(TRUTH, PRED, k=2) == pytest.approx((1 / (1 + 1 / math.log2(3)) + 0) / 2)


def test_map_by_hand():
    ap1 = (1 / 1 + 2 / 3) / 3  # precision at each hit rank, / min(k, n_relevant)
    ap2 = (1 / 3) / 1
    assert R.map_at_k(TRUTH, PRED, k=3) == pytest.approx((ap1 + ap2) / 2)
    assert R.map_at_k(TRUTH, PRED, k=3) == pytest.approx(0.444444, abs=1e-6)


def test_perfect_and_empty_rankings():
    perfect = TRUTH.assign(score=[3.0, 2.0, 1.0, 1.0])
    for fn in (R.ndcg_at_k, R.map_at_k, R.hit_rate_at_k, R.recall_at_k):
        assert fn(TRUTH, perfect, k=10) == pytest.approx(1.0)
    # a user in the truth with no recommendation counts as 0 (not dropped)
    only_user1 = PRED[PRED["user_id"] == 1]
    assert R.hit_rate_at_k(TRUTH, only_user1, k=3) == pytest.approx(0.5)
    assert R.recall_at_k(TRUTH, only_user1, k=3) == pytest.approx((2 / 3) / 2)


def test_ties_keep_row_order_and_columns_are_explicit():
    truth = pd.DataFrame({"u": [1], "i": ["b"]})
    pred = pd.DataFrame({"u": [1, 1], "i": ["a", "b"], "s": [1.0, 1.0]})
    assert R.hit_rate_at_k(truth, pred, col_user="u", col_item="i", col_prediction="s", k=1) == 0.0
    assert R.ndcg_at_k(truth, pred, col_user="u", col_item="i", col_prediction="s", k=2) == pytest.approx(
        1 / math.log2(3))


def test_catalog_coverage_and_diversity_by_hand():
    # top-3 lists: user 1 {a, x, b}, user 2 {x, y, d}: 5 of 7 catalogue items
    assert R.catalog_coverage(PRED, list("abcdxyz"), k=3) == pytest.approx(5 / 7)
    vectors = pd.DataFrame({"v0": [1.0, 0.0, 1.0, 1.0], "v1": [0.0, 1.0, 0.0, 1.0]}, index=["a", "b", "x", "y"])
    # user 1: a-x identical (0), a-b and x-b orthogonal (1 each) -> 2/3; user 2: x-y at 45 degrees, d has no vector
    expected = (2 / 3 + (1 - 1 / math.sqrt(2))) / 2
    assert R.intra_list_diversity(PRED, vectors, k=3) == pytest.approx(expected)
    assert R.intra_list_diversity(PRED, {k: vectors.loc[k].to_numpy() for k in vectors.index}, k=3) == pytest.approx(
        expected)


def test_ranking_report_keys():
    rep = R.ranking_report(TRUTH, PRED, catalog=list("abcdxyz"), item_vectors={"a": [1, 0], "b": [0, 1]}, k=10)
    assert set(rep) == {"ndcg_at_10", "map_at_10", "hit_rate_at_10", "precision_at_10", "recall_at_10", "coverage",
                        "diversity"}


def _interactions(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(60):
        n = int(rng.integers(1, 40))
        for i in rng.choice(500, n, replace=False):
            rows.append((u, int(i)))
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


def test_per_user_holdout_never_shows_a_test_pair_in_training():
    df = _interactions()
    tr, te = per_user_holdout(df, "user_id", "item_id", test_frac=0.2, min_interactions=5, seed=3)
    train, test = df.loc[tr], df.loc[te]
    assert len(tr) + len(te) == len(df) and not set(tr) & set(te)
    assert_pairs_disjoint(train, test, "user_id", "item_id")
    merged = train.merge(test, on=["user_id", "item_id"])
    assert merged.empty
    n = df.groupby("user_id").size()
    n_test = test.groupby("user_id").size().reindex(n.index, fill_value=0)
    small = n < 5
    assert (n_test[small] == 0).all()  # too few interactions: train only, not evaluated
    big = n[~small]
    expected = np.clip(np.rint(big * 0.2), 1, big - 1)
    assert (n_test[~small] == expected).all()
    assert (train.groupby("user_id").size().reindex(n.index, fill_value=0) > 0).all()  # everyone keeps history


def test_per_user_holdout_is_seeded_and_random():
    df = _interactions()
    a = per_user_holdout(df, "user_id", "item_id", seed=1)[1]
    b = per_user_holdout(df, "user_id", "item_id", seed=1)[1]
    c = per_user_holdout(df, "user_id", "item_id", seed=2)[1]
    assert a.equals(b)
    assert not a.equals(c)


def test_leakage_guard_raises_and_duplicates_are_rejected():
    df = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6]})
    with pytest.raises(AssertionError):
        assert_pairs_disjoint(df, df.iloc[:1], "user_id", "item_id")
    with pytest.raises(ValueError):
        per_user_holdout(pd.DataFrame({"user_id": [1, 1], "item_id": [5, 5]}), "user_id", "item_id")
