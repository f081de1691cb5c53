"""Every endpoint through the service's ASGI app in process: shapes, versions, validation, limits, auth, metrics."""

from __future__ import annotations

import pytest

from tests.serving.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.slow


def _check_answer(r, models):
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["request_id"] == r.headers["x-request-id"]
    assert [m["model"] for m in body["models"]] == models
    assert all(m["variant"] == "champion" and m["version"] == "1" for m in body["models"])
    return body


def test_classify_single_and_batch(app_client, tracks):
    body = _check_answer(app_client.post("/classify", json=tracks[0]), ["genre", "mood"])  # a raw CSV row as is
    res = body["results"][0]
    assert len(res["genre"]) == 5 and len(res["super_genre"]) == 5
    assert res["genre"][0]["p"] >= res["genre"][1]["p"] > 0
    assert abs(sum(res["mood_probabilities"].values()) - 1) < 1e-6 and res["mood"] in res["mood_probabilities"]
    assert 0 <= res["mood_intensity"] <= 1
    batch = _check_answer(app_client.post("/classify", json={"tracks": tracks[:10], "top_k": 3}), ["genre", "mood"])
    assert len(batch["results"]) == 10 and all(len(x["genre"]) == 3 for x in batch["results"])
    same = batch["results"][0]["genre"]  # same track, same answer in a batch (up to float rounding)
    assert [g["label"] for g in same] == [g["label"] for g in res["genre"][:3]]
    assert [g["p"] for g in same] == pytest.approx([g["p"] for g in res["genre"][:3]], rel=1e-9)


def test_optional_fields_are_optional(app_client, tracks):
    t = {k: v for k, v in tracks[1].items() if k not in ("album_name", "popularity", "duration_ms", "explicit",
                                                          "track_genre", "track_id")}
    _check_answer(app_client.post("/classify", json=t), ["genre", "mood"])
    _check_answer(app_client.post("/popularity", json=t), ["popularity"])


def test_popularity_explain_only_when_asked(app_client, tracks):
    plain = _check_answer(app_client.post("/popularity", json=tracks[0]), ["popularity"])["results"][0]
    assert plain["contributions"] is None and plain["lower_80"] <= plain["popularity"] <= plain["upper_80"]
    expl = _check_answer(app_client.post("/popularity", json={**tracks[0], "explain": True}), ["popularity"])
    assert len(expl["results"][0]["contributions"]) == 3
    assert expl["results"][0]["popularity"] == plain["popularity"]


def test_audio_features_from_metadata(app_client, tracks):
    t = {k: tracks[0][k] for k in ("artists", "track_name", "album_name", "track_genre", "duration_ms", "explicit")}
    res = _check_answer(app_client.post("/audio-features", json={**t, "tags": {"rock": 12}}), ["audio_features"])
    out = res["results"][0]
    assert set(out["features"]) == {"energy", "valence", "danceability", "acousticness", "instrumentalness", "liveness",
                                    "speechiness", "tempo"}
    assert 0 <= out["confidence"] <= 1


def test_recommend_known_unknown_and_exclude(app_client):
    known = _check_answer(app_client.post("/recommend", json={"user_id": 5, "k": 5}), ["recommender"])
    assert not known["cold_start"] and len(known["items"]) == 5
    first = known["items"][0]["artist_id"]
    ex = _check_answer(app_client.post("/recommend", json={"user_id": 5, "k": 5, "exclude": [first]}), ["recommender"])
    assert first not in [i["artist_id"] for i in ex["items"]]
    cold = _check_answer(app_client.post("/recommend", json={"user_id": 987654321, "k": 4}), ["recommender"])
    assert cold["cold_start"] and len(cold["items"]) == 4 and cold["items"][0]["reason"] == "popularity"
    seeded = _check_answer(app_client.post("/recommend", json={"k": 4, "seed_artists": [1, 2]}), ["recommender"])
    assert seeded["cold_start"] and len(seeded["items"]) == 4


def test_similar_track_and_artist(app_client, world):
    import duckdb

    store_tracks = app_client.app  # noqa: F841 - keep the app alive
    tid = duckdb.sql(f"SELECT track_id FROM read_parquet('{world['root']}/lake/synthetic_spotify_tracks/**/*.parquet')"
                     " LIMIT 1").fetchall()[0][0]
    r = _check_answer(app_client.post("/similar", json={"track_id": tid, "k": 3}), ["recommender"])
    assert r["neighbours"][0]["track_id"] == tid and len(r["neighbours"]) == 3
    a = _check_answer(app_client.post("/similar", json={"artist_id": 1, "k": 3}), ["recommender"])
    assert len(a["neighbours"]) <= 3
    bad = app_client.post("/similar", json={"track_id": "no-such-track", "k": 3})
    assert bad.status_code == 400 and bad.json()["detail"][0]["loc"] == ["track_id"]


def _history(weeks: int = 3):
    import datetime as dt

    start = dt.date(2021, 6, 6)
    return [{"date": str(start + dt.timedelta(days=i)), "rank": 20 + i % 7, "streams": 50_000 - 300 * i}
            for i in range(7 * weeks)]


def test_streams_and_unknown_region(app_client):
    from ml.serving.host import ServingHost  # noqa: F401

    regions = app_client.get("/version").json()  # noqa: F841
    from bentos.service import _HOSTS

    region = sorted(_HOSTS[0].bundle.get("streams").predictor.regions)[0]
    r = _check_answer(app_client.post("/streams", json={"track_id": "abc", "region": region, "history": _history()}),
                      ["streams"])
    assert r["streams_next_week"] > 0 and r["week_anchor"]
    bad = app_client.post("/streams", json={"track_id": "abc", "region": "atlantis", "history": _history()})
    assert bad.status_code == 400 and bad.json()["detail"][0]["loc"] == ["region"]


@pytest.mark.parametrize("body, field", [
    ({"energy": 1.5}, "energy"), ({"tempo": -3}, "tempo"), ({"loudness": "loud"}, "loudness"), ({"key": 12}, "key"),
])
def test_out_of_range_audio_features_name_the_field(app_client, tracks, body, field):
    r = app_client.post("/classify", json={**tracks[0], **body})
    assert r.status_code == 400
    assert r.json()["detail"][0]["loc"][-1] == field


def test_k_cap_tracks_cap_and_missing_fields(app_client, tracks):
    r = app_client.post("/recommend", json={"user_id": 5, "k": 1000})
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["k"]
    r = app_client.post("/classify", json={"tracks": [tracks[0]] * 1001})
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["tracks"]
    r = app_client.post("/classify", json={"track_name": "x"})
    assert r.status_code == 400 and {tuple(d["loc"])[-1] for d in r.json()["detail"]} >= {"energy", "tempo"}


def test_body_limit_content_type_and_bad_json(app_client):
    big = app_client.post("/classify", content=b"[" + b"1," * 3_000_000 + b"1]",
                          headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.headers["x-request-id"]
    assert app_client.post("/classify", content=b"a=b", headers={"content-type": "text/plain"}).status_code == 415
    bad = app_client.post("/classify", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400


def test_feedback_202_and_validation(app_client):
    r = app_client.post("/feedback", json={"request_id": "abcdef123456", "event": "label", "label": "rock"})
    assert r.status_code == 202 and r.json()["accepted"]
    assert app_client.post("/feedback", json={"request_id": "abcdef123456", "event": "label"}).status_code == 400
    assert app_client.post("/feedback", json={"request_id": "x", "event": "skip"}).status_code == 400
    assert app_client.post("/feedback", json={"request_id": "abcdef123456", "event": "like"}).status_code == 400


def test_version_reports_registry_identity(app_client):
    v = app_client.get("/version").json()
    assert v["variant"] == "champion" and set(v["models"]) == {"genre", "mood", "popularity", "audio_features",
                                                               "recommender", "streams"}
    g = v["models"]["genre"]
    assert g["registered_name"] == "music-genre" and g["alias"] == "champion" and len(g["run_id"]) == 32
    assert g["lake_fingerprint"] not in ("", "unknown")


def test_admin_needs_the_token(app_client):
    assert app_client.post("/admin/reload", json={}).status_code == 401
    r = app_client.post("/admin/reload", json={}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and "Traceback" not in r.text
    ok = app_client.post("/admin/reload", json={}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["versions"]["genre"] == "1"


def test_metrics_has_our_series(app_client, tracks):
    app_client.post("/classify", json=tracks[0])
    text = app_client.get("/metrics").text
    for series in ("musicml_requests_total", "musicml_predictions_total", "musicml_model_latency_seconds",
                   "musicml_top_genre_total", "musicml_prediction_log_buffer_rows", "musicml_model_info",
                   "musicml_errors_total"):
        assert series in text, series
