"""MusicBrainz WS/2 connector (XML, mmd-2.0 namespace) and its lake dataset.

MusicBrainz requires a meaningful User-Agent ("app/version ( contact )") and allows one
request per second per client; against musicbrainz.org the interval never goes below 1 s.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import httpx
import pyarrow as pa

from ml.sources.api.http import (
    ApiClient,
    ApiError,
    ApiResponse,
    HttpOptions,
    ResponseParseError,
    error_for_status,
    parse_xml,
)
from ml.sources.base import SourceDataset

BASE_URL = "https://musicbrainz.org/ws/2"
OFFICIAL_HOST = "musicbrainz.org"
MIN_INTERVAL = 1.0
NS = {"mb": "http://musicbrainz.org/ns/mmd-2.0#"}
_SCORE = "{http://musicbrainz.org/ns/ext#-2.0}score"
RECORDING_INC = ("artist-credits", "tags", "genres")
ARTIST_INC = ("tags", "genres")
T = TypeVar("T")


@dataclass(frozen=True)
class ArtistCredit:
    mbid: str | None
    name: str  # credited name (falls back to the artist's name)
    joinphrase: str = ""


@dataclass(frozen=True)
class Artist:
    mbid: str
    name: str
    sort_name: str | None = None
    type: str | None = None
    country: str | None = None
    disambiguation: str | None = None
    score: int | None = None  # search results only
    tags: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recording:
    mbid: str
    title: str
    length_ms: int | None = None
    score: int | None = None
    artist_credit: tuple[ArtistCredit, ...] = ()
    tags: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()

    @property
    def artist_credit_phrase(self) -> str:
        return "".join(c.name + c.joinphrase for c in self.artist_credit)


# ---------------------------------------------------------------------------- parsing


def _text(el: ET.Element, path: str) -> str | None:
    found = el.find(path, NS)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _names(el: ET.Element, path: str) -> tuple[str, ...]:
    return tuple(n for item in el.findall(path, NS) if (n := _text(item, "mb:name")))


def parse_artist(el: ET.Element) -> Artist:
    """An `<artist>` element (lookup, search hit or relation target)."""
    mbid, name = el.get("id"), _text(el, "mb:name")
    if not mbid or not name:
        raise ValueError("artist element without id or name")
    return Artist(
        mbid=mbid,
        name=name,
        sort_name=_text(el, "mb:sort-name"),
        type=el.get("type"),
        country=_text(el, "mb:country"),
        disambiguation=_text(el, "mb:disambiguation"),
        score=_int(el.get(_SCORE) or el.get("score")),
        tags=_names(el, "mb:tag-list/mb:tag"),
        genres=_names(el, "mb:genre-list/mb:genre"),
    )


def parse_recording(el: ET.Element) -> Recording:
    """A `<recording>` element (lookup, search hit or a release's track)."""
    mbid, title = el.get("id"), _text(el, "mb:title")
    if not mbid or not title:
        raise ValueError("recording element without id or title")
    credits = []
    for nc in el.findall("mb:artist-credit/mb:name-credit", NS):
        artist = nc.find("mb:artist", NS)
        name = _text(nc, "mb:name") or (_text(artist, "mb:name") if artist is not None else None)
        if name:
            mbid_ = artist.get("id") if artist is not None else None
            credits.append(ArtistCredit(mbid_, name, nc.get("joinphrase", "")))
    return Recording(
        mbid=mbid,
        title=title,
        length_ms=_int(_text(el, "mb:length")),
        score=_int(el.get(_SCORE) or el.get("score")),
        artist_credit=tuple(credits),
        tags=_names(el, "mb:tag-list/mb:tag"),
        genres=_names(el, "mb:genre-list/mb:genre"),
    )


def _metadata(response: ApiResponse) -> ET.Element:
    root = parse_xml(response)
    if root.tag != f"{{{NS['mb']}}}metadata":
        raise ResponseParseError(response.status, f"expected <metadata>, got <{root.tag}>", response.url)
    return root


def _one(response: ApiResponse, entity: str) -> ET.Element:
    el = _metadata(response).find(f"mb:{entity}", NS)
    if el is None:
        raise ResponseParseError(response.status, f"no <{entity}> in response", response.url)
    return el


def _parsed(response: ApiResponse, parse: Callable[[ET.Element], T], el: ET.Element) -> T:
    try:
        return parse(el)
    except ValueError as exc:
        raise ResponseParseError(response.status, str(exc), response.url) from None


def parse_artist_search(response: ApiResponse) -> list[Artist]:
    root = _metadata(response)
    return [_parsed(response, parse_artist, el) for el in root.findall("mb:artist-list/mb:artist", NS)]


def parse_recording_search(response: ApiResponse) -> list[Recording]:
    root = _metadata(response)
    return [_parsed(response, parse_recording, el) for el in root.findall("mb:recording-list/mb:recording", NS)]


def musicbrainz_error(response: ApiResponse) -> ApiError | None:
    """`<error><text>…</text></error>` bodies (404, 400, 503 when over the rate limit)."""
    if response.status < 400:
        return None
    message = f"HTTP {response.status}"
    try:
        root = ET.fromstring(response.body)
        texts = [t.text.strip() for t in root.iter("text") if t.text and t.text.strip()]
        message = texts[0] if texts else message
    except ET.ParseError:
        pass
    return error_for_status(response.status, message, response.url)


# ---------------------------------------------------------------------------- client


def _check_mbid(mbid: str) -> str:
    try:
        return str(uuid.UUID(mbid))
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"not a MusicBrainz id: {mbid!r}") from None


class MusicBrainzClient:
    """Lookups and searches for recordings and artists."""

    def __init__(self, user_agent: str, *, base_url: str = BASE_URL, options: HttpOptions | None = None) -> None:
        if not user_agent or not user_agent.strip():
            raise ValueError(
                "MusicBrainz requires a User-Agent identifying the application and a contact, "
                "e.g. 'music-mlops/0.1 ( ops@example.org )'"
            )
        options = options or HttpOptions(min_interval=MIN_INTERVAL)
        interval = options.min_interval
        host = httpx.URL(base_url).host
        if host == OFFICIAL_HOST or host.endswith("." + OFFICIAL_HOST):
            interval = max(interval, MIN_INTERVAL)
        options = replace(options, user_agent=user_agent.strip(), min_interval=interval)
        self.base_url = base_url.rstrip("/")
        self.http = ApiClient(
            self.base_url, options=options, headers={"Accept": "application/xml"}, error_parser=musicbrainz_error
        )

    def __repr__(self) -> str:
        return f"MusicBrainzClient(base_url={self.base_url!r})"

    def __enter__(self) -> MusicBrainzClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _lookup(self, entity: str, mbid: str, inc: Sequence[str]) -> ApiResponse:
        params = {"inc": " ".join(inc)} if inc else None
        return self.http.get(f"{entity}/{_check_mbid(mbid)}", params=params)

    def recording(self, mbid: str, inc: Sequence[str] = RECORDING_INC) -> Recording:
        response = self._lookup("recording", mbid, inc)
        return _parsed(response, parse_recording, _one(response, "recording"))

    def artist(self, mbid: str, inc: Sequence[str] = ARTIST_INC) -> Artist:
        response = self._lookup("artist", mbid, inc)
        return _parsed(response, parse_artist, _one(response, "artist"))

    def search_recordings(self, query: str, limit: int = 25, offset: int = 0) -> list[Recording]:
        """Lucene `query` (e.g. 'recording:"Believe" AND artist:"Cher"'), best first; limit <= 100."""
        params = {"query": query, "limit": max(1, min(limit, 100)), "offset": offset}
        return parse_recording_search(self.http.get("recording", params=params))

    def search_artists(self, query: str, limit: int = 25, offset: int = 0) -> list[Artist]:
        params = {"query": query, "limit": max(1, min(limit, 100)), "offset": offset}
        return parse_artist_search(self.http.get("artist", params=params))


# ---------------------------------------------------------------------------- dataset

ARTISTS_SCHEMA = pa.schema(
    [
        ("query", pa.string()),
        ("mbid", pa.string()),
        ("name", pa.string()),
        ("sort_name", pa.string()),
        ("country", pa.string()),
        ("score", pa.int64()),
    ]
)


def lucene_phrase(text: str) -> str:
    """`text` as a quoted Lucene phrase."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def musicbrainz_artists_dataset(
    client: MusicBrainzClient, names: Iterable[str], *, per_name: int = 1, batch_size: int = 500
) -> SourceDataset:
    """Best `per_name` artist matches for each name (`musicbrainz_artists`), for entity linking.

    names must be re-iterable. At one request per second, 3600 names take an hour; the
    client's on-disk cache makes re-runs cheap.
    """
    if isinstance(names, Iterator):
        raise TypeError("names must be re-iterable (a list or tuple), not a one-shot iterator")

    def batches() -> Iterator[pa.RecordBatch]:
        rows: list[dict[str, object]] = []
        for name in names:
            for a in client.search_artists(f"artist:{lucene_phrase(name)}", limit=per_name)[:per_name]:
                rows.append(
                    {
                        "query": name,
                        "mbid": a.mbid,
                        "name": a.name,
                        "sort_name": a.sort_name,
                        "country": a.country,
                        "score": a.score,
                    }
                )
            if len(rows) >= batch_size:
                yield pa.RecordBatch.from_pylist(rows, schema=ARTISTS_SCHEMA)
                rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=ARTISTS_SCHEMA)

    return SourceDataset(name="musicbrainz_artists", batches=batches, source_uri=f"{client.base_url}/artist")
