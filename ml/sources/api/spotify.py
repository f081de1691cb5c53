"""Spotify Web API connector (client-credentials flow) and its lake dataset.

Only catalogue endpoints that a client-credentials token may call are covered: tracks,
artists, audio features and search. Since November 2024 Spotify refuses audio features
(403) for newly registered apps; pass `audio_features=False` to the dataset builder then.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ml.sources.api.http import ApiClient, ApiError, ApiResponse, HttpOptions, ResponseParseError, error_for_status
from ml.sources.base import SourceDataset

API_BASE = "https://api.spotify.com/v1"
ACCOUNTS_BASE = "https://accounts.spotify.com"
TRACKS_BATCH = 50
ARTISTS_BATCH = 50
AUDIO_FEATURES_BATCH = 100
SEARCH_PAGE_MAX = 50
SEARCH_TYPES = ("track", "artist", "album", "playlist", "show", "episode", "audiobook")
_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")
_TOKEN_SKEW_S = 60.0


# ---------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SimpleArtist(_Model):
    id: str | None = None
    name: str


class SimpleAlbum(_Model):
    id: str | None = None
    name: str
    album_type: str | None = None
    release_date: str | None = None


class Track(_Model):
    id: str
    name: str
    artists: list[SimpleArtist]
    album: SimpleAlbum | None = None
    duration_ms: int
    explicit: bool = False
    popularity: int | None = None


class Artist(_Model):
    id: str
    name: str
    genres: list[str] = []
    popularity: int | None = None


class AudioFeatures(_Model):
    id: str
    danceability: float
    energy: float
    key: int
    loudness: float
    mode: int
    speechiness: float
    acousticness: float
    instrumentalness: float
    liveness: float
    valence: float
    tempo: float
    time_signature: int
    duration_ms: int | None = None


# ---------------------------------------------------------------------------- client


def spotify_error(response: ApiResponse) -> ApiError | None:
    """Spotify error bodies: `{"error": {"status", "message"}}` (current) or
    `{"error": {"type", "description"}}` (older), or OAuth `{"error", "error_description"}`."""
    if response.status < 400:
        return None
    message = f"HTTP {response.status}"
    try:
        err = response.json().get("error")
    except (ResponseParseError, AttributeError):
        err = None
    if isinstance(err, dict):
        message = str(err.get("message") or err.get("description") or err.get("type") or message)
    elif isinstance(err, str):
        message = err
    return error_for_status(response.status, message, response.url)


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ResponseParseError(
            200, f"unexpected {model.__name__} shape ({exc.error_count()} errors)", where
        ) from None


def _check_ids(ids: Iterable[str]) -> list[str]:
    ids = list(ids)
    for i in ids:
        if not _ID.match(i):
            raise ValueError(f"not a Spotify id: {i!r}")
    return ids


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SpotifyClient:
    """Spotify Web API with a cached client-credentials token (refreshed once on 401)."""

    def __init__(
        self,
        client_id: str | SecretStr,
        client_secret: str | SecretStr,
        *,
        api_base: str = API_BASE,
        accounts_base: str = ACCOUNTS_BASE,
        options: HttpOptions | None = None,
    ) -> None:
        cid = client_id.get_secret_value() if isinstance(client_id, SecretStr) else client_id
        secret = client_secret.get_secret_value() if isinstance(client_secret, SecretStr) else client_secret
        if not cid or not secret:
            raise ValueError("Spotify client id and client secret are required")
        self.api_base = api_base.rstrip("/")
        self.accounts_base = accounts_base.rstrip("/")
        self.http = ApiClient(self.api_base, options=options, error_parser=spotify_error)
        self.http.add_secret(secret)
        credentials = base64.b64encode(f"{cid}:{secret}".encode()).decode()
        self.http.add_secret(credentials)
        self._basic = f"Basic {credentials}"
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SpotifyClient(api_base={self.api_base!r})"

    def __enter__(self) -> SpotifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- auth

    def _access_token(self, *, refresh: bool = False) -> str:
        with self._token_lock:
            if refresh or self._token is None or time.monotonic() >= self._token_expires:
                response = self.http.post(
                    f"{self.accounts_base}/api/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": self._basic},
                )
                payload = response.json()
                token = payload.get("access_token") if isinstance(payload, dict) else None
                if not token:
                    raise ResponseParseError(response.status, "token response without access_token", response.url)
                self.http.add_secret(token)
                self._token = token
                expires_in = float(payload.get("expires_in", 3600))
                self._token_expires = time.monotonic() + max(0.0, expires_in - _TOKEN_SKEW_S)
            return self._token

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET an API path (or an absolute `next` URL) as JSON; one token refresh on 401."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._access_token(refresh=attempt > 0)}"}
            try:  # a failing token request raises above; only the API call's 401 refreshes
                return self.http.get(path, params=params, headers=headers).json()
            except ApiError as exc:
                if exc.status != 401 or attempt > 0:
                    raise
        raise AssertionError("unreachable")

    # -- endpoints

    def track(self, track_id: str) -> Track:
        (tid,) = _check_ids([track_id])
        return _parse(Track, self.get(f"tracks/{tid}"), self.api_base)

    def tracks(self, track_ids: Iterable[str]) -> list[Track | None]:
        """Tracks in input order, batches of 50; None where Spotify knows no such id."""
        out: list[Track | None] = []
        for chunk in _chunks(_check_ids(track_ids), TRACKS_BATCH):
            items = self.get("tracks", {"ids": ",".join(chunk)}).get("tracks", [])
            out.extend(_parse(Track, t, self.api_base) if t else None for t in items)
        return out

    def artist(self, artist_id: str) -> Artist:
        (aid,) = _check_ids([artist_id])
        return _parse(Artist, self.get(f"artists/{aid}"), self.api_base)

    def artists(self, artist_ids: Iterable[str]) -> list[Artist | None]:
        """Artists in input order, batches of 50; None for unknown ids."""
        out: list[Artist | None] = []
        for chunk in _chunks(_check_ids(artist_ids), ARTISTS_BATCH):
            items = self.get("artists", {"ids": ",".join(chunk)}).get("artists", [])
            out.extend(_parse(Artist, a, self.api_base) if a else None for a in items)
        return out

    def audio_features(self, track_ids: Iterable[str]) -> list[AudioFeatures | None]:
        """Audio features in input order, batches of 100; None where Spotify has none."""
        out: list[AudioFeatures | None] = []
        for chunk in _chunks(_check_ids(track_ids), AUDIO_FEATURES_BATCH):
            items = self.get("audio-features", {"ids": ",".join(chunk)}).get("audio_features", [])
            out.extend(_parse(AudioFeatures, f, self.api_base) if f else None for f in items)
        return out

    def search(
        self, q: str, type: str = "track", limit: int = 20, max_items: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Raw result items of one `type`, following `next` pages until exhausted or `max_items`."""
        if type not in SEARCH_TYPES:
            raise ValueError(f"search type must be one of {SEARCH_TYPES}, got {type!r}")
        if max_items is not None and max_items <= 0:
            return
        limit = max(1, min(limit, SEARCH_PAGE_MAX))
        if max_items is not None:
            limit = min(limit, max_items)
        url: str | None = "search"
        params: dict[str, Any] | None = {"q": q, "type": type, "limit": limit}
        seen = 0
        while url:
            page = self.get(url, params).get(f"{type}s") or {}
            items = page.get("items") or []
            for item in items:
                if item is None:  # Spotify pads some result lists with nulls
                    continue
                yield item
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            url, params = (page.get("next") if items else None), None
            if url and not url.startswith(self.api_base + "/"):  # never send the token elsewhere
                raise ResponseParseError(200, "search `next` points outside the API base", self.api_base)

    def search_tracks(self, q: str, limit: int = 20, max_items: int | None = None) -> Iterator[Track]:
        for item in self.search(q, "track", limit, max_items):
            yield _parse(Track, item, self.api_base)


# ---------------------------------------------------------------------------- Kaggle rows and dataset

KAGGLE_SCHEMA = pa.schema(
    [
        ("track_id", pa.string()),
        ("artists", pa.string()),
        ("album_name", pa.string()),
        ("track_name", pa.string()),
        ("popularity", pa.int64()),
        ("duration_ms", pa.int64()),
        ("explicit", pa.bool_()),
        ("danceability", pa.float64()),
        ("energy", pa.float64()),
        ("key", pa.int64()),
        ("loudness", pa.float64()),
        ("mode", pa.int64()),
        ("speechiness", pa.float64()),
        ("acousticness", pa.float64()),
        ("instrumentalness", pa.float64()),
        ("liveness", pa.float64()),
        ("valence", pa.float64()),
        ("tempo", pa.float64()),
        ("time_signature", pa.int64()),
        ("track_genre", pa.string()),
    ]
)
_FEATURE_COLUMNS = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo", "time_signature",
]  # fmt: skip


def kaggle_rows(
    tracks: Iterable[Track],
    audio_features: Iterable[AudioFeatures | None] = (),
    track_genre: str | Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Rows in the Kaggle Spotify Tracks schema; features are matched by track id (None if absent).

    track_genre: one genre for all rows, or a track_id -> genre mapping; None when unknown.
    """
    by_id = {f.id: f for f in audio_features if f is not None}
    rows = []
    for t in tracks:
        f = by_id.get(t.id)
        genre = track_genre.get(t.id) if isinstance(track_genre, Mapping) else track_genre
        row: dict[str, Any] = {
            "track_id": t.id,
            "artists": ";".join(a.name for a in t.artists),
            "album_name": t.album.name if t.album else None,
            "track_name": t.name,
            "popularity": t.popularity,
            "duration_ms": t.duration_ms,
            "explicit": t.explicit,
        }
        row.update({c: getattr(f, c) if f else None for c in _FEATURE_COLUMNS})
        row["track_genre"] = genre
        rows.append({c: row[c] for c in KAGGLE_SCHEMA.names})
    return rows


def spotify_tracks_dataset(
    client: SpotifyClient,
    track_ids: Iterable[str],
    *,
    audio_features: bool = True,
    track_genre: str | Mapping[str, str] | None = None,
    batch_size: int = 500,
) -> SourceDataset:
    """Tracks (+ audio features) as Kaggle-schema record batches for the `spotify_tracks` contract.

    track_ids must be re-iterable (list, tuple, ...): the lake may read the batches twice.
    Unknown ids are skipped. Genre and audio features are optional in the `spotify_api_tracks`
    contract (new Spotify apps get no audio-features); rows breaking it are quarantined, not dropped.
    """
    if isinstance(track_ids, Iterator):
        raise TypeError("track_ids must be re-iterable (a list or tuple), not a one-shot iterator")

    def batches() -> Iterator[pa.RecordBatch]:
        chunk: list[str] = []
        for tid in track_ids:
            chunk.append(tid)
            if len(chunk) >= batch_size:
                yield from _tracks_batch(client, chunk, audio_features, track_genre)
                chunk = []
        if chunk:
            yield from _tracks_batch(client, chunk, audio_features, track_genre)

    return SourceDataset(
        name="spotify_api_tracks",
        contract="spotify_api_tracks",
        batches=batches,
        source_uri=f"{client.api_base}/tracks",
        extra={"audio_features": audio_features},
    )


def _tracks_batch(
    client: SpotifyClient,
    ids: list[str],
    with_features: bool,
    track_genre: str | Mapping[str, str] | None,
) -> Iterator[pa.RecordBatch]:
    """At most one batch: nothing when none of `ids` is known to Spotify."""
    tracks = [t for t in client.tracks(ids) if t is not None]
    if tracks:
        features = client.audio_features([t.id for t in tracks]) if with_features else []
        yield pa.RecordBatch.from_pylist(kaggle_rows(tracks, features, track_genre), schema=KAGGLE_SCHEMA)
