"""Last.fm API 2.0 connector (XML responses) and its lake dataset.

Every response is `<lfm status="ok">…</lfm>` or `<lfm status="failed"><error code="N">…`.
Error codes map to exceptions: 6 (not found) -> NotFound, 29 (rate limit) -> RateLimited
and 8/11/16 (temporary backend failures) -> ServerError, the last two retried.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from pydantic import SecretStr

from ml.sources.api.http import (
    ApiClient,
    ApiError,
    ApiResponse,
    HttpOptions,
    NotFound,
    RateLimited,
    ResponseParseError,
    ServerError,
    parse_xml,
)
from ml.sources.base import SourceDataset

log = logging.getLogger(__name__)

BASE_URL = "https://ws.audioscrobbler.com/2.0/"
DEFAULT_MIN_INTERVAL = 0.2  # Last.fm asks for at most ~5 requests per second
NOT_FOUND_CODES = frozenset({6})
RATE_LIMIT_CODES = frozenset({29})
TEMPORARY_CODES = frozenset({8, 11, 16})
_FAILED = re.compile(rb"<lfm[^>]*status\s*=\s*[\"']failed")


@dataclass(frozen=True)
class Tag:
    name: str
    count: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class TrackInfo:
    name: str
    artist: str
    mbid: str | None
    artist_mbid: str | None
    album: str | None
    duration_ms: int | None
    listeners: int | None
    playcount: int | None
    url: str | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecentTrack:
    artist: str
    name: str
    album: str | None
    mbid: str | None
    artist_mbid: str | None
    played_at: int | None  # unix seconds; None while now playing
    now_playing: bool = False


@dataclass(frozen=True)
class RecentTracksPage:
    user: str | None
    page: int
    total_pages: int
    tracks: list[RecentTrack]


# ---------------------------------------------------------------------------- parsing


def _text(el: ET.Element | None, path: str | None = None) -> str | None:
    if el is not None and path is not None:
        el = el.find(path)
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def lastfm_error(response: ApiResponse) -> ApiError | None:
    """Map `<lfm status="failed"><error code=N>` (sent with 200 or 4xx) to an exception."""
    if not _FAILED.search(response.body[:512]):
        return None
    root = parse_xml(response)
    error = root.find("error")
    code = _int(error.get("code")) if error is not None else None
    message = _text(error) or "Last.fm request failed"
    status = response.status
    if code in NOT_FOUND_CODES:
        return NotFound(status, message, response.url, code=code)
    if code in RATE_LIMIT_CODES:
        return RateLimited(status, message, response.url, code=code)
    if code in TEMPORARY_CODES:
        return ServerError(status, message, response.url, code=code)
    return ApiError(status, message, response.url, code=code)


def _ok_root(response: ApiResponse, child: str) -> ET.Element:
    root = parse_xml(response)
    node = root.find(child)
    if root.tag != "lfm" or node is None:
        raise ResponseParseError(response.status, f"expected <lfm><{child}>, got <{root.tag}>", response.url)
    return node


def parse_top_tags(response: ApiResponse) -> list[Tag]:
    """`<toptags>` of track/artist/album/user.getTopTags."""
    node = _ok_root(response, "toptags")
    return [
        Tag(name, _int(_text(t, "count")), _text(t, "url")) for t in node.findall("tag") if (name := _text(t, "name"))
    ]


def parse_track_info(response: ApiResponse) -> TrackInfo:
    """`<track>` of track.getInfo."""
    t = _ok_root(response, "track")
    artist = t.find("artist")
    name = _text(t, "name")
    artist_name = _text(artist, "name") if artist is not None and len(artist) else _text(artist)
    if not name or not artist_name:
        raise ResponseParseError(response.status, "track.getInfo without track or artist name", response.url)
    return TrackInfo(
        name=name,
        artist=artist_name,
        mbid=_text(t, "mbid"),
        artist_mbid=_text(artist, "mbid") if artist is not None else None,
        album=_text(t, "album/title"),
        duration_ms=_int(_text(t, "duration")) or None,  # Last.fm sends 0 for unknown
        listeners=_int(_text(t, "listeners")),
        playcount=_int(_text(t, "playcount")),
        url=_text(t, "url"),
        tags=tuple(n for tag in t.findall("toptags/tag") if (n := _text(tag, "name"))),
    )


def parse_recent_tracks(response: ApiResponse) -> RecentTracksPage:
    """`<recenttracks page totalPages>` of user.getRecentTracks."""
    node = _ok_root(response, "recenttracks")
    tracks = []
    for t in node.findall("track"):
        artist, name = _text(t, "artist"), _text(t, "name")
        if not artist or not name:
            continue
        artist_el, date = t.find("artist"), t.find("date")
        tracks.append(
            RecentTrack(
                artist=artist,
                name=name,
                album=_text(t, "album"),
                mbid=_text(t, "mbid"),
                artist_mbid=(artist_el.get("mbid") or None) if artist_el is not None else None,
                played_at=_int(date.get("uts")) if date is not None else None,
                now_playing=t.get("nowplaying") == "true",
            )
        )
    return RecentTracksPage(
        user=node.get("user"),
        page=_int(node.get("page")) or 1,
        total_pages=_int(node.get("totalPages")) or 0,
        tracks=tracks,
    )


# ---------------------------------------------------------------------------- client


class LastfmClient:
    """Read-only Last.fm API 2.0 methods that need only an API key."""

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = BASE_URL,
        options: HttpOptions | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ValueError("a Last.fm api_key is required")
        self._api_key = key
        self.base_url = base_url
        self.http = ApiClient(
            base_url, options=options or HttpOptions(min_interval=DEFAULT_MIN_INTERVAL), error_parser=lastfm_error
        )
        self.http.add_secret(key)

    def __repr__(self) -> str:
        return f"LastfmClient(base_url={self.base_url!r})"

    def __enter__(self) -> LastfmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, **params: str | int | None) -> ApiResponse:
        """GET one API method; None-valued params are left out."""
        query = {"method": method, **{k: v for k, v in params.items() if v is not None}, "api_key": self._api_key}
        return self.http.get("", params=query)

    def track_get_info(self, artist: str, track: str, autocorrect: bool = True) -> TrackInfo:
        return parse_track_info(self.call("track.getInfo", artist=artist, track=track, autocorrect=int(autocorrect)))

    def track_get_top_tags(self, artist: str, track: str, autocorrect: bool = True) -> list[Tag]:
        return parse_top_tags(self.call("track.getTopTags", artist=artist, track=track, autocorrect=int(autocorrect)))

    def artist_get_top_tags(self, artist: str, autocorrect: bool = True) -> list[Tag]:
        return parse_top_tags(self.call("artist.getTopTags", artist=artist, autocorrect=int(autocorrect)))

    def user_get_recent_tracks(self, user: str, limit: int = 50, page: int = 1) -> RecentTracksPage:
        """One page (limit <= 200 per Last.fm)."""
        return parse_recent_tracks(self.call("user.getRecentTracks", user=user, limit=min(limit, 200), page=page))

    def iter_recent_tracks(self, user: str, limit: int = 200, max_pages: int | None = None) -> Iterator[RecentTrack]:
        """All recent tracks, page by page, until `totalPages` (or `max_pages`) is reached."""
        page = 1
        while max_pages is None or page <= max_pages:
            result = self.user_get_recent_tracks(user, limit=limit, page=page)
            yield from result.tracks
            if not result.tracks or page >= result.total_pages:
                return
            page += 1


# ---------------------------------------------------------------------------- dataset

TRACK_TAGS_SCHEMA = pa.schema(
    [("artist", pa.string()), ("track", pa.string()), ("tag", pa.string()), ("count", pa.int64())]
)


def lastfm_track_tags_dataset(
    client: LastfmClient, pairs: Iterable[tuple[str, str]], *, batch_size: int = 500
) -> SourceDataset:
    """Top tags of (artist, track) pairs: one row per tag, as queried (`lastfm_api_track_tags`).

    pairs must be re-iterable. Pairs Last.fm does not know are skipped with a log line.
    """
    if isinstance(pairs, Iterator):
        raise TypeError("pairs must be re-iterable (a list or tuple), not a one-shot iterator")

    def batches() -> Iterator[pa.RecordBatch]:
        rows: list[dict[str, object]] = []
        for artist, track in pairs:
            try:
                tags = client.track_get_top_tags(artist, track)
            except NotFound:
                log.info("Last.fm has no track %r by %r", track, artist)
                continue
            rows.extend({"artist": artist, "track": track, "tag": t.name, "count": t.count} for t in tags)
            while len(rows) >= batch_size:
                yield pa.RecordBatch.from_pylist(rows[:batch_size], schema=TRACK_TAGS_SCHEMA)
                rows = rows[batch_size:]
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=TRACK_TAGS_SCHEMA)

    return SourceDataset(
        name="lastfm_api_track_tags",
        batches=batches,
        source_uri=f"{client.base_url}?method=track.getTopTags",
    )
