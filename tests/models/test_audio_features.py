"""Audio feature predictor: artist-grouped split, no popularity/audio inputs, ranges, confidence, roundtrip."""

from __future__ import annotations

import subprocess
import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from ml.features.tracks import AUDIO_COLUMNS
from ml.models import audio_features as af

UNIT = [f for f in af.FEATURES if f != "tempo"]


# ------------------------------------------------------------------------ pure pieces
def test_feature_metrics_keys_and_tempo_scales():
    rng = np.random.default_rng(0)
    y = np.column_stack([rng.uniform(0, 1, (50, 7)), rng.uniform(60, 200, 50)])
    p = y + rng.normal(0, 0.05, y.shape) * np.r_[np.ones(7), 100.0]
    m = af.feature_metrics(y, p)
    for f in af.FEATURES:
        for k in ("mse", "r2", "mae", "pearson"):
            assert np.isfinite(m[f"{k}_{f}"]), f"{k}_{f}"
    # mse_tempo is in BPM², mse_tempo_scaled on the tempo/250 scale the net predicts
    assert m["mse_tempo"] == pytest.approx(m["mse_tempo_scaled"] * af.TEMPO_SCALE**2)
    assert m["mse_tempo"] > 1.0 > m["mse_tempo_scaled"]
    perfect = af.feature_metrics(y, y)
    assert perfect["mse_energy"] == 0.0 and perfect["r2_energy"] == 1.0 and perfect["pearson_tempo"] == pytest.approx(1)


def test_keyword_and_missing_inputs_are_encoded():
    train = pd.DataFrame({
        "artists": ["A", "B", "C;D"], "track_name": ["Song (Live)", "Sonata No. 3", "x"], "album_name": ["x", "y", "z"],
        "genres": [["rock"], ["classical"], ["pop", "rock"]], "duration_ms": [200_000, 400_000, 180_000],
        "explicit": [False, False, True], "artist_key": ["a", "b", "c"],
        af.TAG_COLUMN: ["rock=3|live=1", None, "pop=5"],
    })
    b = af.FeatureBuilder.fit(train, train, n_tags=10, min_tag_artists=1)
    assert b.genres == ["classical", "pop", "rock"] and b.numeric == ["duration_ms", "explicit"]
    G, meta = b._genre_block(train), b._meta_block(train)
    assert G[2].tolist() == pytest.approx([0.0, 0.5, 0.5])  # mean-pooling weights over the genre set
    kw = {k: 2 * len(b.numeric) + i for i, k in enumerate(b.keywords)}
    assert meta[0, kw["live"]] == 1 and meta[1, kw["classical"]] == 1 and meta[2, kw["live"]] == 0
    # a row with nothing but artist and title: genre, tags, duration, explicit, album all absent
    bare = pd.DataFrame({"artists": ["Nobody"], "track_name": ["Untitled"], "track_genre": ["not-a-genre"]})
    assert b._genre_block(bare).sum() == 0
    assert b.completeness(bare)[0] == 0.0
    assert b.completeness(train.assign(artist_key=["a", "zz", "c"]))[0] == 1.0


# ------------------------------------------------------------------------ real data, one fast model
@pytest.fixture(scope="module")
def trained(real_lake, tmp_path_factory):
    """One fast training on the real lake for this module (own work dir: the embedding cache stays out of the repo)."""
    from ml.lake.catalog import connect
    from ml.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        work = tmp_path_factory.mktemp("audio_work")
        mp.setenv("MUSICML_WORK_DIR", str(work))
        mp.chdir(work)
        get_settings.cache_clear()
        con = connect(real_lake)
        try:
            df = af.SPEC.load(con).frame
            result = af.SPEC.train(df, af.AudioFeaturesConfig.fast())
        finally:
            con.close()
            get_settings.cache_clear()
    return df, result


def test_split_dedupes_tracks_and_is_artist_disjoint(trained):
    df, _ = trained
    d = af.prepare(df)
    assert d["track_id"].is_unique
    assert (d["tempo"] > 0).all()
    multi = d[d["genres"].map(len) > 1]
    assert len(multi) > 0  # multi-genre listings became one row with a genre set
    train, fit, val, test = af.make_splits(d, 0.2, 0.15, 42)
    assert len(train) + len(test) == len(d) and len(fit) + len(val) == len(train)
    for a, b in ((fit, val), (fit, test), (val, test)):
        assert not set(a["artist_key"]) & set(b["artist_key"])
        assert not set(a["track_id"]) & set(b["track_id"])


def test_fast_train_result(trained):
    _, r = trained
    keys = {f"{k}_{f}" for k in ("mse", "r2", "mae", "pearson") for f in af.FEATURES} | {"mse_tempo_scaled"}
    assert keys <= set(r.metrics) and keys <= set(r.baseline)
    assert set(r.metrics) == set(r.baseline)
    assert all(np.isfinite(v) for v in r.metrics.values())
    # even the fast model must learn something beyond the mean on held-out artists
    assert r.metrics["r2_energy"] > 0.1 and r.metrics["r2_acousticness"] > 0.1
    assert r.n_train + r.n_test == af.AudioFeaturesConfig.fast().max_rows and r.n_train > 2 * r.n_test > 0
    assert {"pred_vs_actual.png", "r2_model_vs_baseline.png", "loss_curves.png"} <= set(r.figures)
    assert len(r.tables["loss_history.csv"]) == r.params["epochs_run"] >= 1
    assert r.params["n_tag_vocab"] > 0  # Last.fm tags reached the model
    assert not {"popularity", *AUDIO_COLUMNS} & set(r.input_example.columns)


def test_score_on_the_frozen_eval_frame_reproduces_metrics(trained):
    _, r = trained
    assert len(r.eval_frame) == r.n_test and set(af.FEATURES) <= set(r.eval_frame.columns)
    rescored = af.SPEC.score(r.model, r.eval_frame)
    for k in ("mse_energy", "r2_valence", "mse_tempo", "pearson_liveness"):
        assert rescored[k] == pytest.approx(r.metrics[k], rel=1e-4, abs=1e-6)


def _source_rows(df, n=120, seed=0):
    return df.sample(n=n, random_state=seed).reset_index(drop=True)


def test_never_reads_popularity_or_audio_features(trained):
    df, r = trained
    rows = _source_rows(df)
    base = r.model.predict(None, rows)
    shuffled = rows.copy()
    rng = np.random.default_rng(1)
    for c in ["popularity", *AUDIO_COLUMNS]:
        shuffled[c] = rng.permutation(shuffled[c].to_numpy())
    pd.testing.assert_frame_equal(r.model.predict(None, shuffled), base)
    dropped = rows.drop(columns=["popularity", *AUDIO_COLUMNS])
    pd.testing.assert_frame_equal(r.model.predict(None, dropped), base)


def test_outputs_in_range_and_deterministic(trained):
    df, r = trained
    rows = _source_rows(df, seed=2)
    out = r.model.predict(None, rows)
    assert len(out) == len(rows) and out.index.equals(rows.index)
    for f in UNIT:
        assert out[f"{f}_pred"].between(0, 1).all(), f
    assert out["tempo_pred"].between(40, 250).all()
    std_cols = [f"{f}_std" for f in af.FEATURES]
    assert (out[std_cols] >= 0).all().all() and (out[std_cols].to_numpy().mean() > 0)
    assert out["confidence"].between(0, 1).all()
    # MC-dropout is seeded: the same input gives the same output
    pd.testing.assert_frame_equal(r.model.predict(None, rows), out)
    # one row alone gives the same numbers as inside a batch
    single = r.model.predict(None, rows.iloc[[5]])
    np.testing.assert_allclose(single.to_numpy(), out.iloc[[5]].to_numpy(), rtol=1e-4, atol=1e-5)


def test_less_metadata_means_lower_confidence(trained):
    df, r = trained
    rows = _source_rows(df, seed=3)
    full = r.model.predict(None, rows)
    bare = r.model.predict(None, rows[["artists", "track_name"]].assign(artist_key=None))
    assert (bare["completeness"] < full["completeness"]).all()
    assert bare["confidence"].mean() < full["confidence"].mean()
    assert (bare["confidence"] < full["confidence"]).mean() > 0.8
    # the bare rows still get valid predictions
    assert bare[[f"{f}_pred" for f in UNIT]].apply(lambda s: s.between(0, 1).all()).all()


def test_roundtrip_in_a_fresh_process(trained, real_con, tmp_path):
    """Pickled with cloudpickle, loaded in a new interpreter, predicts raw lake rows like the original."""
    _, r = trained
    rows = real_con.execute("SELECT * FROM spotify_tracks USING SAMPLE 12 ROWS (reservoir, 7)").df()
    expected = r.model.predict(None, rows)
    (tmp_path / "model.pkl").write_bytes(cloudpickle.dumps(r.model))
    rows.to_pickle(tmp_path / "rows.pkl")
    code = (
        "import pickle, pandas as pd, sys;"
        f"m = pickle.load(open(r'{tmp_path / 'model.pkl'}', 'rb'));"
        f"m.predict(None, pd.read_pickle(r'{tmp_path / 'rows.pkl'}')).to_pickle(r'{tmp_path / 'out.pkl'}')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    got = pd.read_pickle(tmp_path / "out.pkl")
    pd.testing.assert_frame_equal(got, expected, rtol=1e-4, atol=1e-5)
