"""MusicBrainz connector against real recorded WS/2 XML responses (mmd-2.0)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
from api_replay import MB_USER_AGENT, ReplayServer, Scripted

from ml.sources.api.http import ApiResponse, HttpOptions, NotFound, ResponseParseError
from ml.sources.api.musicbrainz import (
    MusicBrainzClient,
    lucene_phrase,
    musicbrainz_artists_dataset,
    parse_artist_search,
    parse_recording,
)

pytestmark = pytest.mark.timeout(30)

MB = "{http://musicbrainz.org/ns/mmd-2.0#}"


def mbid_of(path: Path) -> str:
    return path.name[:36]


def lookup_files(fixtures: Path, entity: str) -> list[Path]:
    return sorted((fixtures / "musicbrainz_ws2_xml" / entity).glob("*.xml"))


@pytest.fixture
def mb(server: ReplayServer, fast: HttpOptions) -> Iterator[MusicBrainzClient]:
    with MusicBrainzClient(MB_USER_AGENT, base_url=f"{server.url}/ws/2", options=fast) as client:
        yield client


@pytest.mark.parametrize("user_agent", ["", "   "])
def test_user_agent_is_required(user_agent: str) -> None:
    """MusicBrainz blocks anonymous clients; a missing User-Agent fails at construction."""
    with pytest.raises(ValueError, match="User-Agent"):
        MusicBrainzClient(user_agent)


def test_rate_limit_defaults_to_one_per_second(fast: HttpOptions) -> None:
    """1 req/s by default, and never faster against musicbrainz.org even if options ask for it."""
    assert MusicBrainzClient(MB_USER_AGENT).http.min_interval == 1.0
    assert MusicBrainzClient(MB_USER_AGENT, options=fast).http.min_interval == 1.0
    assert MusicBrainzClient(MB_USER_AGENT, base_url="http://127.0.0.1:9/ws/2", options=fast).http.min_interval == 0.0


def test_search_recordings(mb: MusicBrainzClient, server: ReplayServer, fixtures_dir: Path) -> None:
    """Every recording of search-recording.xml parses: ids, titles, scores, lengths, artist credit."""
    recordings = mb.search_recordings('recording:"Thief of Hearts"', limit=25)
    root = ET.parse(fixtures_dir / "musicbrainz_ws2_xml" / "search-recording.xml").getroot()
    expected_ids = [r.get("id") for r in root.iter(f"{MB}recording")]
    assert [r.mbid for r in recordings] == expected_ids and len(recordings) == 25
    assert all(r.title and r.score is not None and r.artist_credit for r in recordings)
    first = recordings[0]
    assert (first.title, first.score, first.length_ms) == ("Thief of Hearts", 100, 198586)
    assert first.artist_credit_phrase == "Dynamo Go"
    assert first.artist_credit[0].mbid == "952a4205-023d-4235-897c-6fdb6f58dfaa"
    (hit,) = server.hits("/ws/2/recording")
    assert hit.param("query") == 'recording:"Thief of Hearts"' and hit.param("limit") == "25"
    assert hit.headers["user-agent"] == MB_USER_AGENT


def test_search_artists(mb: MusicBrainzClient, fixtures_dir: Path) -> None:
    """Every artist of search-artist.xml parses, with sort name, country, score and tags."""
    artists = mb.search_artists("dynamo")
    root = ET.parse(fixtures_dir / "musicbrainz_ws2_xml" / "search-artist.xml").getroot()
    assert [a.mbid for a in artists] == [a.get("id") for a in root.find(f"{MB}artist-list")]
    assert len(artists) == 25 and all(a.name and a.sort_name and a.score is not None for a in artists)
    first = artists[0]
    assert (first.name, first.country, first.type, first.score, first.tags) == (
        "Dynamo Go",
        "NZ",
        "Group",
        100,
        ("testfoo",),
    )
    assert artists[2].tags == ("punk", "finland") and artists[2].disambiguation == "Finnish punk band"


def test_every_recorded_recording_lookup_parses(
    mb: MusicBrainzClient, server: ReplayServer, fixtures_dir: Path
) -> None:
    """recording/<mbid> lookups: all recorded files parse; `inc` is sent."""
    files = lookup_files(fixtures_dir, "recording")
    assert files
    for path in files:
        recording = mb.recording(mbid_of(path))
        assert recording.mbid == mbid_of(path) and recording.title and recording.length_ms
    assert all(h.param("inc") == "artist-credits tags genres" for h in server.hits("/ws/2/recording/"))


def test_every_recorded_artist_lookup_parses(mb: MusicBrainzClient, fixtures_dir: Path) -> None:
    """artist/<mbid> lookups: all recorded files parse into records with names and countries."""
    files = lookup_files(fixtures_dir, "artist")
    assert len(files) == 3
    artists = {mbid_of(p): mb.artist(mbid_of(p)) for p in files}
    assert all(a.mbid == mbid and a.name and a.sort_name and a.country for mbid, a in artists.items())
    assert artists["0e43fe9d-c472-4b62-be9e-55f971a023e1"].sort_name == "Prokofiev, Sergei Sergeyevich"


def test_recordings_with_artist_credits_in_releases_parse(fixtures_dir: Path) -> None:
    """The same recording parser handles the <recording>s nested in recorded release lookups."""
    files = sorted((fixtures_dir / "musicbrainz_ws2_xml" / "release").glob("*+artist-credits.xml"))
    assert files
    for path in files:
        elements = list(ET.parse(path).getroot().iter(f"{MB}recording"))
        recordings = [parse_recording(el) for el in elements]
        assert len(recordings) == len(elements) > 0
        assert all(r.mbid and r.title and r.artist_credit_phrase for r in recordings)


def test_unknown_mbid_is_not_found(mb: MusicBrainzClient) -> None:
    """MusicBrainz's 404 <error><text> body becomes NotFound with its text."""
    with pytest.raises(NotFound) as err:
        mb.artist("00000000-0000-0000-0000-000000000000")
    assert err.value.message == "Not Found"


def test_invalid_mbid_is_rejected_before_any_request(mb: MusicBrainzClient, server: ReplayServer) -> None:
    """MBIDs end up in URL paths: anything but a UUID is refused locally."""
    with pytest.raises(ValueError):
        mb.recording("../../admin")
    assert server.hits() == []


def test_503_over_rate_limit_is_retried(mb: MusicBrainzClient, server: ReplayServer) -> None:
    """MusicBrainz answers 503 when a client goes too fast; that is retried, not fatal."""
    server.script(
        "/ws/2/artist",
        Scripted(503, b"<error><text>Your requests are exceeding the allowable rate limit.</text></error>"),
    )
    assert mb.search_artists("dynamo")
    assert len(server.hits("/ws/2/artist")) == 2


def test_limiter_spacing_with_a_real_client(server: ReplayServer, fast: HttpOptions) -> None:
    """The connector passes its interval to the limiter: 3 searches at 0.2 s take >= 0.4 s."""
    options = replace(fast, min_interval=0.2)
    with MusicBrainzClient(MB_USER_AGENT, base_url=f"{server.url}/ws/2", options=options) as mb:
        start = time.monotonic()
        for _ in range(3):
            mb.search_artists("dynamo")
        assert time.monotonic() - start >= 0.4
    assert len(server.hits("/ws/2/artist")) == 3


def test_artists_dataset(mb: MusicBrainzClient, server: ReplayServer) -> None:
    """Best match per name, queried as a quoted Lucene phrase, in batches with the contract columns."""
    dataset = musicbrainz_artists_dataset(mb, ["Dynamo Go", 'AC/DC "live"', "Errors"], batch_size=2)
    assert dataset.name == dataset.contract_name == "musicbrainz_artists"
    batches = list(dataset.batches())
    assert [b.num_rows for b in batches] == [2, 1]
    table = pa.Table.from_batches(batches)
    assert table.column_names == ["query", "mbid", "name", "sort_name", "country", "score"]
    assert table.column("query").to_pylist() == ["Dynamo Go", 'AC/DC "live"', "Errors"]
    assert table.column("score").to_pylist() == [100] * 3  # the replay always serves the same search
    assert [h.param("query") for h in server.hits("/ws/2/artist")][1] == 'artist:"AC/DC \\"live\\""'
    assert all(h.param("limit") == "1" for h in server.hits("/ws/2/artist"))
    assert lucene_phrase('a"b\\') == '"a\\"b\\\\"'


def test_lookup_responses_without_entity_are_rejected() -> None:
    """A 200 that is not <metadata><artist> (e.g. an HTML error page) raises a parse error."""
    with pytest.raises(ResponseParseError):
        parse_artist_search(ApiResponse(200, "text/html", b"<html><body>maintenance</body></html>", "u"))
