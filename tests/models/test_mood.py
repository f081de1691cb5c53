"""Mood model: tag -> label derivation, the threshold-rule baseline, a fast real-data run, behaviour."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from ml.models import mood


@pytest.fixture(scope="module")
def trained(real_lake):
    from ml.lake.catalog import connect

    con = connect(real_lake)
    try:
        df = mood.SPEC.load(con).frame
        result = mood.SPEC.train(df, {"fast": True})
    finally:
        con.close()
    return df, result


# ---------------------------------------------------------------------------- labels


def test_mood_tag_mapping_is_clean():
    m = mood.load_mood_tags()
    assert set(m["mood"]) == set(mood.MOODS)
    assert not m.duplicated(["tag", "mood"]).any()
    assert m["weight"].between(0, 1, inclusive="right").all()
    assert (m["tag"] == m["tag"].str.lower().str.strip()).all()


def test_artist_labels_need_votes_and_a_clear_winner():
    tags = pd.DataFrame([
        ("a", "sad", 3), ("a", "happy", 1),          # sad wins 3 vs 1
        ("b", "sad", 1), ("b", "happy", 1),          # tie -> no label
        ("c", "dark", 1),                            # 0.5 vote < min_votes 1 -> no label
        ("d", "dark", 2), ("d", "rock", 50),         # 1.0 weak vote; unmapped tags are ignored -> sad
        ("e", "chillout", 2), ("e", "party", 1), ("e", "energetic", 1),  # 2 calm vs 2 energetic -> tie
        ("f", "instrumental", 3), ("f", "chillout", 2),  # focus 3/5 = 0.6 >= 0.5
    ], columns=["artist_key", "tag", "n"])
    got = mood.artist_moods(tags).set_index("artist_key")["mood_label"].to_dict()
    assert got["a"] == "sad" and got["b"] is None and got["d"] == "sad" and got["e"] is None
    assert got["f"] == "focus"
    assert "c" not in got or got["c"] is None
    strict = mood.artist_moods(tags, min_share=0.7).set_index("artist_key")["mood_label"].to_dict()
    assert strict["f"] is None and strict["a"] == "sad"


def test_rules_precedence_and_fallback():
    rows = pd.DataFrame({
        # instrumental + sad valence: focus comes first
        "valence": [0.2, 0.9, 0.5, 0.2], "energy": [0.3, 0.9, 0.5, 0.5], "danceability": [0.3, 0.8, 0.5, 0.5],
        "tempo": [120, 128, 120, 90], "acousticness": [0.1, 0.1, 0.1, 0.9],
        "instrumentalness": [0.9, 0.0, 0.0, 0.0], "speechiness": [0.05, 0.05, 0.05, 0.05],
    })
    assert list(mood.rules(rows, fallback="calm")) == ["focus", "energetic", "calm", "calm"]
    assert list(mood.rules(rows, mood.SEED_ORDER, fallback="happy")) == ["sad", "happy", "happy", "sad"]


def test_real_labels_cover_some_tracks(real_con):
    df = mood.SPEC.load(real_con).frame
    assert df["track_id"].is_unique
    labelled = df["mood_label"].dropna()
    assert set(labelled) == set(mood.MOODS)
    assert 0.05 < len(labelled) / len(df) < 0.3
    # an artist has one label: all its tracks share it
    assert (df.dropna(subset=["mood_label"]).groupby("artist_key")["mood_label"].nunique() == 1).all()


# ------------------------------------------------------------------------ training run


def test_fast_training_beats_the_rules(trained):
    _, r = trained
    keys = {"macro_f1", "accuracy", "label_coverage", "rules_agreement"}
    assert keys <= set(r.metrics) and set(r.metrics) == set(r.baseline)
    assert r.metrics["label_coverage"] == r.baseline["label_coverage"] > 0
    assert r.metrics["macro_f1"] > r.baseline["macro_f1"]
    assert r.metrics["macro_f1"] > r.extra["majority"]["macro_f1"] + 0.2
    assert "focus > calm > energetic > happy > sad" in r.params["baseline"]
    assert {"confusion.png", "per_class_f1.png"} <= set(r.figures)
    assert set(r.tables["per_class.csv"]["class"]) == set(mood.MOODS)


def test_predict_outputs(trained):
    _, r = trained
    out = r.model.predict(None, r.input_example)
    cols = ["mood", *(f"mood_p_{m}" for m in mood.MOODS), "mood_intensity"]
    assert list(out.columns) == cols
    p = out[[f"mood_p_{m}" for m in mood.MOODS]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert out["mood_intensity"].between(0, 1).all()
    assert (out["mood"].to_numpy() == np.array(mood.MOODS)[p.argmax(axis=1)]).all()
    clone = cloudpickle.loads(cloudpickle.dumps(r.model))
    pd.testing.assert_frame_equal(clone.predict(None, r.input_example), out)
    # genre is optional at prediction time: unknown / missing genre still predicts
    assert len(r.model.predict(None, r.input_example.assign(track_genre=None))) == len(out)


def test_score_matches_logged_metrics(trained):
    _, r = trained
    scored = mood.score(r.model, r.eval_frame)
    assert scored["macro_f1"] == pytest.approx(r.metrics["macro_f1"])
    assert scored["accuracy"] == pytest.approx(r.metrics["accuracy"])


def test_split_is_grouped_by_artist(trained):
    df, r = trained
    lab = df[df["mood_label"].notna()]
    test_artists = set(lab.loc[lab["track_id"].isin(set(r.eval_frame["track_id"])), "artist_key"])
    train_artists = set(lab.loc[~lab["track_id"].isin(set(r.eval_frame["track_id"])), "artist_key"])
    assert test_artists and train_artists and not test_artists & train_artists
    assert r.n_train + r.n_test == len(lab)


# ----------------------------------------------------------------------- behaviour


def test_more_energy_and_tempo_does_not_lower_energetic(trained):
    df, r = trained
    rows = df.sample(400, random_state=3).reset_index(drop=True)
    faster = rows.assign(energy=np.clip(rows["energy"] + 0.15, 0, 1), tempo=rows["tempo"] + 15)
    before = r.model.predict_df(rows)["mood_p_energetic"].mean()
    after = r.model.predict_df(faster)["mood_p_energetic"].mean()
    assert after >= before


def test_invariant_to_identity_columns(trained):
    df, r = trained
    rows = df.sample(100, random_state=4).reset_index(drop=True)
    renamed = rows.assign(track_id="x", track_name="whatever", artists="someone else")
    pd.testing.assert_frame_equal(r.model.predict_df(rows), r.model.predict_df(renamed))
