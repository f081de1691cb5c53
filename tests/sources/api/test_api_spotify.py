"""Spotify connector against real recorded Web API responses (old 2015-2020 shapes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from api_replay import (
    SEARCH_FILES,
    SPOTIFY_CLIENT_ID,
    SPOTIFY_CLIENT_SECRET,
    FixtureIndex,
    ReplayServer,
    Scripted,
    load_json,
)

from ml.sources.api.http import ApiError, HttpOptions, NotFound, ResponseParseError
from ml.sources.api.spotify import (
    KAGGLE_SCHEMA,
    Artist,
    AudioFeatures,
    SpotifyClient,
    Track,
    kaggle_rows,
    spotify_tracks_dataset,
)

pytestmark = pytest.mark.timeout(30)

KAGGLE_COLUMNS = [
    "track_id", "artists", "album_name", "track_name", "popularity", "duration_ms", "explicit",
    "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo", "time_signature", "track_genre",
]  # fmt: skip
# Fixture files holding full track / artist objects, and where in the JSON they sit.
TRACK_FILES = {
    "track.json": (),
    "tracks.json": ("tracks",),
    "artist_top_tracks.json": ("tracks",),
    "recommendations.json": ("tracks",),
    "search_track.json": ("tracks", "items"),
    "search.json": ("tracks", "items"),
}
ARTIST_FILES = {
    "artist.json": (),
    "artists.json": (),  # the recording holds a single artist object, not {"artists": [...]}
    "search_artist.json": ("artists", "items"),
    "search.json": ("artists", "items"),
}
MISSING_ID = "0000000000000000000000"


def objects(fixtures: Path, name: str, path: tuple[str, ...]) -> list[dict[str, Any]]:
    data = load_json(fixtures, name)
    for key in path:
        data = data[key]
    return data if isinstance(data, list) else [data]


@pytest.fixture
def spotify(server: ReplayServer, fast: HttpOptions) -> Iterator[SpotifyClient]:
    with SpotifyClient(
        SPOTIFY_CLIENT_ID,
        SPOTIFY_CLIENT_SECRET,
        api_base=f"{server.url}/v1",
        accounts_base=server.url,
        options=fast,
    ) as client:
        yield client


# ---------------------------------------------------------------------------- recorded shapes parse


@pytest.mark.parametrize("name", sorted(TRACK_FILES))
def test_every_recorded_track_parses(fixtures_dir: Path, name: str) -> None:
    """Each track object in the recordings validates into Track with ids, names and artists."""
    raw = objects(fixtures_dir, name, TRACK_FILES[name])
    tracks = [Track.model_validate(t) for t in raw]
    assert len(tracks) == len(raw) > 0
    assert [t.id for t in tracks] == [t["id"] for t in raw]
    assert all(t.id and t.name and t.artists and t.duration_ms > 0 for t in tracks)
    assert all(a.name for t in tracks for a in t.artists)


@pytest.mark.parametrize("name", sorted(ARTIST_FILES))
def test_every_recorded_artist_parses(fixtures_dir: Path, name: str) -> None:
    """Each full artist object validates into Artist, genres included."""
    raw = objects(fixtures_dir, name, ARTIST_FILES[name])
    artists = [Artist.model_validate(a) for a in raw]
    assert len(artists) == len(raw) > 0
    assert all(a.id and a.name for a in artists)
    assert [a.genres for a in artists] == [r.get("genres", []) for r in raw]


@pytest.mark.parametrize("name", ["track_audio_features.json", "tracks_audio_features.json"])
def test_recorded_audio_features_parse(fixtures_dir: Path, name: str) -> None:
    """Both audio-features recordings validate, with values in their documented ranges."""
    data = load_json(fixtures_dir, name)
    raw = data.get("audio_features", [data])
    features = [AudioFeatures.model_validate(f) for f in raw]
    assert len(features) == len(raw) > 0
    for f in features:
        assert f.id
        assert 0 <= f.danceability <= 1 and 0 <= f.energy <= 1 and -1 <= f.key <= 11 and f.tempo > 0


# ---------------------------------------------------------------------------- endpoints over HTTP


def test_track_lookup_and_token_flow(spotify: SpotifyClient, server: ReplayServer, fixtures_dir: Path) -> None:
    """One client-credentials token (basic auth) is fetched, cached, and sent as a Bearer token."""
    expected = load_json(fixtures_dir, "track.json")
    track = spotify.track(expected["id"])
    spotify.track(expected["id"])
    assert (track.id, track.name, track.album and track.album.name) == (
        "0eGsygTp906u18L0Oimnem",
        "Mr. Brightside",
        "Hot Fuss",
    )
    assert [a.name for a in track.artists] == ["The Killers"]
    tokens = server.hits("/api/token")
    assert len(tokens) == 1
    assert tokens[0].headers["authorization"].startswith("Basic ")
    assert tokens[0].body == b"grant_type=client_credentials"
    api_calls = server.hits("/v1/tracks/")
    assert len(api_calls) == 2
    assert all(r.headers["authorization"] == "Bearer test-access-token-1-x7" for r in api_calls)


def test_token_refreshed_once_on_401(spotify: SpotifyClient, server: ReplayServer, fixtures_dir: Path) -> None:
    """An expired/revoked token triggers exactly one refresh, then the call succeeds."""
    track_id = load_json(fixtures_dir, "track.json")["id"]
    spotify.track(track_id)
    server.revoke_tokens()
    assert spotify.track(track_id).id == track_id
    assert len(server.hits("/api/token")) == 2
    assert len(server.hits("/v1/tracks/")) == 3


def test_persistent_401_is_raised_after_one_refresh(spotify: SpotifyClient, server: ReplayServer) -> None:
    """A 401 that survives a fresh token is an error, not a refresh loop."""
    body = b'{"error": {"status": 401, "message": "Invalid access token"}}'
    server.script("/v1/", Scripted(401, body), Scripted(401, body))
    with pytest.raises(ApiError) as err:
        spotify.track("0eGsygTp906u18L0Oimnem")
    assert err.value.status == 401
    assert err.value.message == "Invalid access token"
    assert len(server.hits("/api/token")) == 2


def test_tracks_batches_of_50_keep_order(
    spotify: SpotifyClient, server: ReplayServer, fixture_index: FixtureIndex
) -> None:
    """120 ids -> 3 requests (50, 50, 20); unknown ids come back as None in input order."""
    known = sorted(fixture_index.tracks)
    ids = [known[i % len(known)] if i % 3 else f"{MISSING_ID[:-3]}{i:03d}" for i in range(120)]
    result = spotify.tracks(ids)
    assert len(result) == 120
    assert [t.id if t else None for t in result] == [i if i in fixture_index.tracks else None for i in ids]
    batches = [r.param("ids").split(",") for r in server.hits("/v1/tracks")]
    assert [len(b) for b in batches] == [50, 50, 20]


def test_artists_and_audio_features_batches(
    spotify: SpotifyClient, server: ReplayServer, fixture_index: FixtureIndex
) -> None:
    """Artists go in batches of 50, audio features in batches of 100."""
    artist_ids = sorted(fixture_index.artists) * 30
    artists = spotify.artists(artist_ids)
    assert [a.id if a else None for a in artists] == artist_ids
    expected_sizes = [min(50, len(artist_ids) - start) for start in range(0, len(artist_ids), 50)]
    assert [len(r.param("ids").split(",")) for r in server.hits("/v1/artists")] == expected_sizes
    feature_id = next(iter(fixture_index.features))
    features = spotify.audio_features([feature_id] * 150)
    assert len(features) == 150 and all(f and f.id == feature_id for f in features)
    assert [len(r.param("ids").split(",")) for r in server.hits("/v1/audio-features")] == [100, 50]
    assert spotify.artist(artist_ids[0]).id == artist_ids[0]


def test_unknown_track_raises_not_found(spotify: SpotifyClient, server: ReplayServer) -> None:
    """The recorded 404 body (old {"error": {"type", "description"}} shape) becomes NotFound."""
    with pytest.raises(NotFound) as err:
        spotify.track(MISSING_ID)
    assert err.value.status == 404
    assert err.value.message == "non existing id"
    assert len(server.hits("/v1/tracks/")) == 1


def test_invalid_ids_are_rejected_before_any_request(spotify: SpotifyClient, server: ReplayServer) -> None:
    """Ids end up in URL paths: anything but base62 is refused locally."""
    with pytest.raises(ValueError):
        spotify.track("../me")
    assert server.hits("/v1/") == []


@pytest.mark.parametrize("kind", sorted(SEARCH_FILES))
def test_search_follows_next_across_pages(
    spotify: SpotifyClient, server: ReplayServer, fixtures_dir: Path, kind: str
) -> None:
    """Every recorded search result list comes back complete when paged 3 at a time via `next`."""
    expected = [i["id"] for i in load_json(fixtures_dir, SEARCH_FILES[kind])[f"{kind}s"]["items"] if i]
    items = list(spotify.search("gatan", kind, limit=3))
    assert [i["id"] for i in items] == expected
    assert all(i.get("name") for i in items)
    hits = server.hits("/v1/search")
    assert len(hits) == max(1, -(-len(expected) // 3))
    assert hits[0].param("q") == "gatan"
    assert all(h.param("query") == "gatan" and h.param("offset") for h in hits[1:])  # Spotify's own next URLs


def test_search_max_items_caps_requests(spotify: SpotifyClient, server: ReplayServer) -> None:
    """max_items stops both the iteration and the paging."""
    tracks = list(spotify.search_tracks("gatan", limit=3, max_items=5))
    assert len(tracks) == 5 and all(isinstance(t, Track) for t in tracks)
    assert len(server.hits("/v1/search")) == 2


def test_429_on_api_is_retried(spotify: SpotifyClient, server: ReplayServer) -> None:
    """Spotify's rate limit answer (429 + Retry-After) is waited out and retried."""
    server.script("/v1/tracks/", Scripted(429, b"", headers={"Retry-After": "0"}))
    assert spotify.track("0eGsygTp906u18L0Oimnem").name == "Mr. Brightside"
    assert len(server.hits("/v1/tracks/")) == 2


def test_bad_credentials_error_has_no_secret(server: ReplayServer, fast: HttpOptions) -> None:
    """A rejected token request raises without the client secret in message or repr."""
    secret = "wrong-secret-value-77"
    client = SpotifyClient(
        SPOTIFY_CLIENT_ID, secret, api_base=f"{server.url}/v1", accounts_base=server.url, options=fast
    )
    with pytest.raises(ApiError) as err:
        client.track("0eGsygTp906u18L0Oimnem")
    assert err.value.status == 400 and err.value.message == "invalid_client"
    for text in (str(err.value), repr(err.value), repr(client)):
        assert secret not in text and SPOTIFY_CLIENT_ID not in text
    assert len(server.hits("/api/token")) == 1
    assert server.hits("/v1/") == []


# ---------------------------------------------------------------------------- Kaggle rows and dataset


def test_kaggle_rows_map_fields(fixtures_dir: Path) -> None:
    """Track fields and audio features land in the Kaggle columns; artists are ';'-joined."""
    raw = next(t for t in load_json(fixtures_dir, "search_track.json")["tracks"]["items"] if len(t["artists"]) > 1)
    track = Track.model_validate(raw)
    features = AudioFeatures.model_validate(load_json(fixtures_dir, "track_audio_features.json"))
    features = features.model_copy(update={"id": track.id})  # the recordings share no track id
    (row,) = kaggle_rows([track], [features], track_genre={track.id: "swedish hip hop"})
    assert list(row) == KAGGLE_COLUMNS
    assert row["artists"] == "Stress;Abidaz;Hooks"
    assert (row["track_id"], row["track_name"], row["album_name"]) == (track.id, raw["name"], raw["album"]["name"])
    assert (row["duration_ms"], row["explicit"], row["popularity"]) == (
        raw["duration_ms"],
        raw["explicit"],
        raw["popularity"],
    )
    assert (row["danceability"], row["tempo"], row["key"], row["time_signature"]) == (0.735, 98.002, 5, 4)
    assert row["track_genre"] == "swedish hip hop"
    (bare,) = kaggle_rows([track])
    assert bare["danceability"] is None and bare["track_genre"] is None


def test_spotify_tracks_dataset_batches(
    spotify: SpotifyClient, server: ReplayServer, fixture_index: FixtureIndex
) -> None:
    """The dataset yields Kaggle-schema batches of at most batch_size rows, skipping unknown ids."""
    ids = sorted(fixture_index.tracks)[:5] + [MISSING_ID]
    dataset = spotify_tracks_dataset(spotify, ids, batch_size=2, track_genre="pop")
    assert (dataset.name, dataset.contract_name) == ("spotify_api_tracks", "spotify_api_tracks")
    batches = list(dataset.batches())
    assert [b.num_rows for b in batches] == [2, 2, 1]  # the last chunk: one known id, one unknown
    assert all(b.schema.equals(KAGGLE_SCHEMA) for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.column_names == KAGGLE_COLUMNS
    assert table.column("track_id").to_pylist() == ids[:5]
    assert set(table.column("track_genre").to_pylist()) == {"pop"}
    assert len(server.hits("/v1/audio-features")) == 3
    assert len(list(dataset.batches())) == 3  # re-iterable: the lake may read twice


def test_spotify_tracks_dataset_rejects_one_shot_iterators(spotify: SpotifyClient) -> None:
    """A generator of ids would silently yield nothing on a second read; refuse it up front."""
    with pytest.raises(TypeError):
        spotify_tracks_dataset(spotify, iter(["0eGsygTp906u18L0Oimnem"]))


def test_search_refuses_next_urls_off_the_api(spotify: SpotifyClient, server: ReplayServer) -> None:
    """A `next` link to another host would receive the bearer token; it is refused instead."""
    page = {"tracks": {"items": [{"id": "x"}], "next": "http://evil.example/v1/search?offset=1"}}
    server.script("/v1/search", Scripted(200, json.dumps(page).encode()))
    results = spotify.search("gatan")
    assert next(results) == {"id": "x"}
    with pytest.raises(ResponseParseError):
        next(results)
    assert len(server.hits("/v1/search")) == 1
