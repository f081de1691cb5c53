"""Splitters: no group crosses train/test; assignment is stable as data grows; time never runs backwards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.evaluation.splits import assert_disjoint, group_kfold, group_split, temporal_split


def frame(n=1000, groups=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"artist": rng.integers(0, groups, n).astype(str), "x": rng.normal(size=n)})


def test_group_split_keeps_groups_disjoint_and_sized():
    df = frame()
    tr, te = group_split(df, "artist", test_size=0.2)
    assert_disjoint(df, tr, te, "artist")
    assert len(tr) + len(te) == len(df)
    assert 0.1 < len(te) / len(df) < 0.3


def test_group_split_is_stable_when_new_groups_arrive():
    old = frame(groups=100)
    new = pd.concat([old, frame(n=500, groups=300, seed=1)], ignore_index=True)
    _, te_old = group_split(old, "artist")
    _, te_new = group_split(new, "artist")
    old_test_artists = set(old.loc[te_old, "artist"])
    assert old_test_artists <= set(new.loc[te_new, "artist"])


def test_assert_disjoint_catches_leaks():
    df = pd.DataFrame({"artist": ["a", "a", "b"]})
    with pytest.raises(AssertionError, match="both sides"):
        assert_disjoint(df, df.index[:1], df.index[1:], "artist")


def test_group_kfold_covers_every_row_once_without_crossing_groups():
    df = frame()
    seen = []
    for tr, te in group_kfold(df, "artist", n_splits=5):
        assert_disjoint(df, tr, te, "artist")
        seen.extend(te)
    assert sorted(seen) == list(df.index)


def test_temporal_split_never_trains_on_later_dates():
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=100, freq="D")})
    tr, va, te = temporal_split(df, "date", "2020-02-15", "2020-03-15")
    assert df.loc[tr, "date"].max() < df.loc[va, "date"].min()
    assert df.loc[va, "date"].max() < df.loc[te, "date"].min()
    assert len(tr) + len(va) + len(te) == 100
