"""Popularity model: leakage guards, conformal interval, behaviour and a real-data roundtrip."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from ml.evaluation.splits import assert_disjoint, group_split
from ml.features.artist_history import TargetHistory, fold_ids, smoothed_mean
from ml.features.tracks import AUDIO_COLUMNS, dedupe_tracks
from ml.models import popularity as pop


# ------------------------------------------------------------------------ artist history
def test_smoothed_mean_pulls_toward_prior():
    assert smoothed_mean(np.array([0.0]), np.array([0]), 40.0, 5.0)[0] == pytest.approx(40.0)
    # 2 tracks at 90, prior 40 with weight 2 -> (180 + 80) / 4
    assert smoothed_mean(np.array([180.0]), np.array([2]), 40.0, 2.0)[0] == pytest.approx(65.0)


def test_oof_artist_history_never_uses_own_target():
    # one artist, three tracks; each track its own fold: its history is the other two only
    keys = ["a", "a", "a", "b"]
    y = np.array([10.0, 20.0, 90.0, 50.0])
    h = TargetHistory("artist", prior_weight=0.0)
    oof = h.fit_transform_oof(keys, y, folds=np.array([0, 1, 2, 3]))
    assert oof["artist_mean"].tolist()[:3] == pytest.approx([55.0, 50.0, 15.0])
    assert oof["artist_n"].tolist() == [2, 2, 2, 0]
    assert oof["artist_max"].tolist()[:3] == [90.0, 90.0, 20.0]
    assert np.isnan(oof["artist_max"].iloc[3])
    # the only "b" track has no other track: prior (global mean of the training rows)
    assert oof["artist_mean"].iloc[3] == pytest.approx(y.mean())

    # changing a track's own target must not move its own feature (only the others')
    y2 = y.copy()
    y2[2] = 0.0
    oof2 = TargetHistory("artist", prior_weight=0.0).fit_transform_oof(keys, y2, folds=np.array([0, 1, 2, 3]))
    assert oof2["artist_mean"].iloc[2] == pytest.approx(oof["artist_mean"].iloc[2])
    assert oof2["artist_mean"].iloc[0] != pytest.approx(oof["artist_mean"].iloc[0])


def test_oof_history_with_kfold_and_multi_keys():
    rng = np.random.default_rng(0)
    n = 200
    keys = [[f"g{i % 7}", f"g{(i * 3) % 5}"] for i in range(n)]
    y = rng.uniform(0, 100, n)
    folds = fold_ids([f"t{i}" for i in range(n)], 5, seed=1)
    oof = TargetHistory("genre", prior_weight=3.0).fit_transform_oof(keys, y, folds)
    for i in rng.choice(n, 20, replace=False):
        others = [j for j in range(n) if folds[j] != folds[i]]
        tot = sum(y[j] * sum(k in keys[j] for k in set(keys[i])) for j in others)
        cnt = sum(sum(k in keys[j] for k in set(keys[i])) for j in others)
        assert oof["genre_n"].iloc[i] == cnt
        assert oof["genre_mean"].iloc[i] == pytest.approx((tot + 3.0 * y.mean()) / (cnt + 3.0))


def test_fold_ids_keep_groups_together():
    groups = ["x", "y", "x", "z", "y", "x"]
    f = fold_ids(groups, 2, seed=3)
    assert f[0] == f[2] == f[5] and f[1] == f[4]


def test_unseen_key_gets_prior():
    h = TargetHistory("artist", prior_weight=5.0).fit(["a", "a", "b"], [10, 20, 60])
    out = h.transform(["zzz", None, "a"])
    assert out["artist_mean"].iloc[0] == pytest.approx(30.0) and out["artist_n"].iloc[0] == 0
    assert out["artist_mean"].iloc[1] == pytest.approx(30.0)
    assert out["artist_mean"].iloc[2] == pytest.approx((30 + 5 * 30) / 7)


# ----------------------------------------------------------------------------- conformal
def test_conformal_scores_match_coverage():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 100, 2000)
    pred = np.clip(y + rng.normal(0, 10, 2000), 0, 100)
    lo, hi = pred - 5, pred + 5
    q = pop.conformal_quantile(pop.conformity_scores(y, pred, lo, hi))
    _, lower, upper = pop.conformal_interval(pred, lo, hi, q)
    cov = np.mean((y >= lower) & (y <= upper))
    assert 0.79 <= cov <= 0.82


def test_interval_contains_point_prediction_even_with_negative_q():
    pred = np.array([10.0, 50.0, 120.0, -3.0])
    lo, hi = pred + 5, pred + 20  # quantile bounds not bracketing the point
    p, lower, upper = pop.conformal_interval(pred, lo, hi, q=-30.0)
    assert np.all((lower <= p) & (p <= upper))
    assert p.min() >= 0 and p.max() <= 100 and lower.min() >= 0 and upper.max() <= 100


# ------------------------------------------------------------------------- synthetic fit
def _toy_tracks(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    artist_pop = {f"Artist {i}": rng.uniform(5, 90) for i in range(60)}
    artists = rng.choice(list(artist_pop), n)
    rows = {c: rng.uniform(0, 1, n) for c in AUDIO_COLUMNS}
    rows.update(key=rng.integers(0, 12, n), mode=rng.integers(0, 2, n), tempo=rng.uniform(60, 180, n),
                loudness=rng.uniform(-20, 0, n), time_signature=np.full(n, 4))
    df = pd.DataFrame(rows)
    df["track_id"] = [f"t{i}" for i in range(n)]
    df["artists"] = artists
    df["artist_key"] = [a.lower() for a in artists]
    df["album_name"] = [f"Album {a[-2:]} {i % 3}" for i, a in enumerate(artists)]
    df["track_name"] = [f"Song {i}" for i in range(n)]
    df["track_genre"] = rng.choice(["pop", "rock", "jazz"], n)
    df["duration_ms"] = rng.integers(120_000, 300_000, n)
    df["explicit"] = rng.random(n) < 0.1
    df["popularity"] = np.clip([artist_pop[a] + rng.normal(0, 5) for a in artists], 0, 100).round()
    return df


def test_known_artist_history_raises_prediction():
    tracks = pop.prepare(_toy_tracks(), pop.PopularityConfig.fast())
    cfg = pop.PopularityConfig.fast()
    model, _ = pop.fit_model(tracks, cfg)
    stats = model.histories["artist"].stats_
    mean = {k: s[0] / s[1] for k, s in stats.items()}
    low_artist, high_artist = min(mean, key=mean.get), max(mean, key=mean.get)
    row = tracks.iloc[[0]].copy()
    low, high = row.copy(), row.copy()
    for r, key in ((low, low_artist), (high, high_artist)):
        r["artist_key"] = key
        r["artists"] = key
        r["album_name"] = "Brand New Album"
    p_low = model.predict(None, low)["popularity_pred"].iloc[0]
    p_high = model.predict(None, high)["popularity_pred"].iloc[0]
    assert p_high > p_low + 10


def test_prepare_and_track_split_are_disjoint():
    raw = _toy_tracks(300)
    dup = raw.iloc[:40].assign(track_genre="metal")  # same tracks listed under a second genre
    tracks = pop.prepare(pd.concat([raw, dup]), pop.PopularityConfig())
    assert tracks["track_id"].is_unique and len(tracks) == 300
    tr, te = group_split(tracks, "track_id", 0.2, 42)
    assert_disjoint(tracks, tr, te, "track_id")
    assert not set(tracks.loc[tr, "track_id"]) & set(tracks.loc[te, "track_id"])


# ------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_result(real_lake):
    from ml.lake.catalog import connect

    con = connect(real_lake)
    try:
        df = pop.SPEC.load(con).frame
    finally:
        con.close()
    return df, pop.SPEC.train(df, {"fast": True})


def test_real_split_keeps_track_ids_disjoint(real_result):
    df, res = real_result
    cfg = pop.PopularityConfig.fast()
    tracks = pop.prepare(df, cfg)
    tr, te = group_split(tracks, "track_id", cfg.test_size, cfg.seed)
    assert_disjoint(tracks, tr, te, "track_id")
    assert res.n_train == len(tr) and res.n_test == len(te)
    # tracks listed under several genres exist in the real data and end up on one side only
    multi = dedupe_tracks(df)["genres"].map(len) > 1
    assert multi.any()


def test_real_fast_train_and_roundtrip(real_result, real_con):
    df, res = real_result
    keys = {"r2", "rmse", "mae", "interval_coverage_80", "interval_width_80", "r2_artist_grouped"}
    assert keys <= set(res.metrics) and keys <= set(res.baseline)
    assert res.metrics["r2"] > res.baseline["r2"]  # beats the genre mean even in the fast config
    assert 0.65 <= res.metrics["interval_coverage_80"] <= 0.95
    assert {"residuals_vs_predicted.png", "predicted_vs_actual.png", "shap_summary.png",
            "interval_coverage_by_decile.png", "feature_importance.png"} <= set(res.figures)

    model = pickle.loads(cloudpickle.dumps(res.model))
    rows = pop.SPEC.load(real_con).frame.drop(columns=["popularity"]).head(20)
    out = model.predict(None, rows)
    assert list(out.columns) == ["popularity_pred", "popularity_lower_80", "popularity_upper_80", "top_features"]
    assert out.index.equals(rows.index)
    assert ((out.popularity_lower_80 <= out.popularity_pred) & (out.popularity_pred <= out.popularity_upper_80)).all()
    assert out.popularity_pred.between(0, 100).all()
    top = json.loads(out.top_features.iloc[0])
    assert len(top) == 3 and set(top) <= set(model.feature_names)

    one = model.predict(None, rows.head(1))  # single row, without optional columns
    assert len(one) == 1
    slim = rows.head(1).drop(columns=["album_name", "artist_key"]).astype({"explicit": str})
    assert np.isfinite(model.predict(None, slim)["popularity_pred"]).all()
    with pytest.raises(ValueError, match="missing column"):
        model.predict(None, rows.drop(columns=["track_genre"]))


def test_real_model_loads_in_fresh_process(real_result, real_con, tmp_path):
    _, res = real_result
    rows = pop.SPEC.load(real_con).frame.drop(columns=["popularity"]).head(3)
    (tmp_path / "model.pkl").write_bytes(cloudpickle.dumps(res.model))
    rows.to_pickle(tmp_path / "rows.pkl")
    code = (
        "import pickle, pandas as pd; m = pickle.load(open('model.pkl', 'rb')); "
        "out = m.predict(None, pd.read_pickle('rows.pkl')); out.to_pickle('out.pkl')"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=120)
    expected = res.model.predict(None, rows)
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "out.pkl"), expected)
