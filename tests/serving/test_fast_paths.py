"""Each model's serving fast path returns the numbers of its MLflow pyfunc `predict`, on real rows."""

from __future__ import annotations

import numpy as np
import pytest

from ml.serving import schemas as S

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(world):
    from ml.serving.host import load_bundle
    from ml.serving.store import read_manifest

    return load_bundle(read_manifest(), "champion")


def _rows(tracks, model=S.Track, **drop):
    return [model.model_validate(t).model_dump(exclude_none=True) for t in tracks]


def test_genre_fast_equals_pyfunc(bundle, tracks):
    g = bundle.get("genre").predictor
    rows = _rows(tracks)
    fine, coarse = g.proba(rows)
    ref_fine, ref_coarse = g.reference(rows)
    np.testing.assert_allclose(fine, ref_fine, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(coarse, ref_coarse, rtol=1e-9, atol=1e-12)
    one_f, _ = g.proba(rows[:1])  # a single row equals its row in the batch
    np.testing.assert_allclose(one_f[0], fine[0], atol=1e-12)
    # the pyfunc's own outputs (top-1 labels) agree too
    out = bundle.get("genre").python_model.predict(None, __import__("pandas").DataFrame(rows))
    assert list(out["genre_top1"]) == [g.fine_classes[i] for i in fine.argmax(axis=1)]


def test_mood_fast_equals_pyfunc_single_and_batch(bundle, tracks):
    m = bundle.get("mood").predictor
    rows = _rows(tracks)
    np.testing.assert_allclose(m.proba(rows[:3]), m.reference(rows[:3]), atol=1e-12)  # numpy tree walk
    np.testing.assert_allclose(m.proba(rows), m.reference(rows), atol=1e-12)  # > SMALL rows: sklearn


def test_popularity_fast_equals_pyfunc(bundle, tracks):
    p = bundle.get("popularity").predictor
    rows = [{k: v for k, v in r.items() if k != "popularity"} for r in _rows(tracks)]
    fast = p.predict(rows, explain=True)
    ref = p.reference(rows)
    np.testing.assert_allclose(fast["pred"], ref["popularity_pred"], atol=1e-9)
    np.testing.assert_allclose(fast["lower"], ref["popularity_lower_80"], atol=1e-9)
    np.testing.assert_allclose(fast["upper"], ref["popularity_upper_80"], atol=1e-9)
    import json

    for mine, theirs in zip(fast["contributions"], ref["top_features"], strict=True):
        assert [f for f, _ in mine] == list(json.loads(theirs))


def test_audio_features_fast_equals_pyfunc(bundle, tracks):
    a = bundle.get("audio_features").predictor
    rows = _rows(tracks[:8], S.AudioFeaturesTrack)
    fast, ref = a.predict(rows), a.reference(rows)
    cols = [c for c in ref.columns if c.endswith(("_pred", "_std")) or c in ("confidence", "completeness")]
    np.testing.assert_allclose(fast[cols].to_numpy(float), ref[cols].to_numpy(float), atol=1e-6)
