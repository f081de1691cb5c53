"""Entity keys: the spellings each source uses land on one key; coverage is measured on real data."""

from __future__ import annotations

import pytest

from ml.lake import catalog
from ml.lake.coverage import join_coverage
from ml.lake.ingest import ingest
from ml.lake.linking import artist_key, track_key
from ml.settings import get_settings
from ml.sources import load_source


@pytest.mark.parametrize(
    "a, b",
    [
        ("Beyoncé", "Beyonce"),
        ("The Beatles", "beatles"),
        ("Beyoncé feat. JAY-Z", "Beyonce"),
        ("AC/DC", "ac dc"),
        ("Simon & Garfunkel", "Simon and Garfunkel"),
        ("  Sigur Rós ", "sigur ros"),
    ],
)
def test_artist_spellings_share_a_key(a, b):
    assert artist_key(a) == artist_key(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("Hey Jude - Remastered 2015", "Hey Jude"),
        ("Song (feat. Someone)", "song"),
        ("Creep (Live)", "Creep"),
        ("O Holy Night - Remastered 1999", "o holy night"),
    ],
)
def test_track_versions_share_a_key(a, b):
    assert track_key(a) == track_key(b)


def test_different_artists_keep_different_keys():
    assert artist_key("Theatre of Tragedy") != artist_key("Tragedy")
    assert artist_key(None) is None and artist_key("!!!") is None


def test_join_coverage_between_spotify_sample_and_hetrec(shared_data, lake):
    settings = get_settings()
    for source in ("spotify-tracks", "lastfm-hetrec"):
        for ds in load_source(source, None, settings):
            ingest(ds, lake, "2024-01")
    report = join_coverage(catalog.connect(lake))
    assert report["tracks_dataset"] == "spotify_tracks"
    # measured: about a third of sample tracks have an artist Last.fm users played
    assert 0.2 < report["track_coverage"] < 0.6
    assert report["tracks_with_lastfm_artist"] > 1_400
