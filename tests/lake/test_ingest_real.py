"""Ingest of the real datasets: every row accounted for, quirks quarantined with reasons."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from ml.lake import catalog
from ml.lake.ingest import ingest
from ml.settings import get_settings
from ml.sources import load_source


def land(source: str, lake, path=None, snapshot="2024-01"):
    return [ingest(ds, lake, snapshot) for ds in load_source(source, path, get_settings())]


def test_spotify_sample_quarantines_the_row_without_artist(shared_data, lake):
    (m,) = land("spotify-tracks", lake)
    assert m.rows_in == 10_000
    assert m.rows_in == m.rows_accepted + m.rows_quarantined
    con = catalog.connect(lake)
    no_artist = con.sql("SELECT artists, track_name, reason FROM quarantine_spotify_tracks WHERE artists IS NULL").fetchall()
    assert len(no_artist) == 1
    assert "artists: missing" in no_artist[0][2] and "track_name: missing" in no_artist[0][2]
    # exact duplicate listings upstream are quarantined, not silently dropped
    dups = con.execute("SELECT count(*) FROM quarantine_spotify_tracks WHERE reason LIKE 'duplicate%'").fetchone()[0]
    assert dups == m.quarantine_reasons.get("duplicate of an earlier row on (track_id, track_genre)", 0) > 0
    assert con.execute("SELECT count(*) FROM spotify_tracks").fetchone()[0] == m.rows_accepted
    # tempo == 0 rows are upstream "unknown", kept
    assert con.execute("SELECT count(*) FROM spotify_tracks WHERE tempo = 0").fetchone()[0] >= 13
    # a multi-genre track keeps all its listings
    assert con.execute("SELECT max(n) FROM (SELECT count(*) n FROM spotify_tracks GROUP BY track_id)").fetchone()[0] >= 2


def test_hetrec_lands_every_table(shared_data, lake):
    manifests = {m.dataset: m for m in land("lastfm-hetrec", lake)}
    assert manifests["lastfm_user_artists"].rows_accepted == 92_834
    assert manifests["lastfm_artists"].rows_accepted == 17_632
    assert manifests["lastfm_tags"].rows_accepted == 11_946
    # user_taggedartists is split over two files upstream (one row short of the official 186,479)
    assert manifests["lastfm_user_taggedartists"].rows_in == 186_478
    con = catalog.connect(lake)
    # tags.dat is latin-1: accents must survive decoding
    assert con.execute("SELECT count(*) FROM lastfm_tags WHERE tag = 'rock français'").fetchone()[0] > 0


def test_spotify_2023_bad_streams_row_is_quarantined_not_lost(shared_data, lake):
    (m,) = land("spotify-2023", lake)
    assert m.rows_in == 953 and m.rows_quarantined == 1 and m.rows_accepted == 952
    con = catalog.connect(lake)
    name, streams, reason = con.execute("SELECT track_name, streams, reason FROM quarantine_spotify_2023").fetchone()
    assert name.startswith("Love Grows") and streams.startswith("BPM110")
    assert reason == "streams: not a valid BIGINT"
    damaged = con.execute("SELECT count(*) FROM spotify_2023 WHERE text_damaged").fetchone()[0]
    assert 40 <= damaged <= 100


def test_gtzan_features_with_song_ids(shared_data, lake):
    (m,) = land("gtzan-features", lake)
    assert m.rows_accepted == 1_000
    con = catalog.connect(lake)
    assert con.execute("SELECT count(DISTINCT song_id), count(DISTINCT label) FROM gtzan_features").fetchone() == (1000, 10)


def test_reingest_is_idempotent(shared_data, lake):
    from ml.lake.commit import collect_garbage

    (first,) = land("spotify-tracks", lake)
    (second,) = land("spotify-tracks", lake)
    # a new run folder, the same bytes, the same fingerprint
    assert first.run_id != second.run_id
    assert [(first.relative(f.path), f.rows, f.sha256) for f in first.files] == \
        [(second.relative(f.path), f.rows, f.sha256) for f in second.files]
    assert first.fingerprint == second.fingerprint
    assert first.quarantine_files[0].sha256 == second.quarantine_files[0].sha256
    con = catalog.connect(lake)
    assert con.execute("SELECT count(*) FROM spotify_tracks").fetchone()[0] == first.rows_accepted
    # the replaced run's files wait out the grace period, then only the manifest's files remain
    assert lake.exists(lake.path(first.files[0].path))
    collect_garbage(lake, grace_s=0)
    on_disk = [lake.rel(e.path) for e in lake.list(lake.snapshot_dir("spotify_tracks", "2024-01"))]
    assert on_disk == [f.path for f in second.files]
    assert not lake.list(lake.path("_staging"))


def test_manifest_records_lineage(shared_data, lake):
    (m,) = land("spotify-tracks", lake, snapshot="2024-02")
    doc = lake.read_json(lake.manifest_path("spotify_tracks", "2024-02"))
    for key in ("dataset", "snapshot", "source_uri", "synthetic", "schema_version", "rows_in", "rows_accepted",
                "rows_quarantined", "files", "created_at"):
        assert key in doc
    assert doc["synthetic"] is False
    f = doc["files"][0]
    assert len(f["sha256"]) == 64 and f["path"].startswith("spotify_tracks/snapshot=2024-02/")
    assert pq.ParquetFile(lake.path(f["path"])).metadata.row_group(0).column(0).compression == "ZSTD"
    assert lake.sha256(lake.path(f["path"])) == f["sha256"]


def test_snapshots_coexist_and_latest_wins(shared_data, lake):
    land("gtzan-features", lake, snapshot="2024-01")
    land("gtzan-features", lake, snapshot="2024-03")
    assert [m.snapshot for m in catalog.manifests(lake, "gtzan_features")] == ["2024-01", "2024-03"]
    assert catalog.latest(lake, "gtzan_features").snapshot == "2024-03"


@pytest.mark.parametrize("snapshot", ["2024-13", "2024/01", "latest"])
def test_bad_snapshot_names_are_refused(shared_data, lake, snapshot):
    with pytest.raises(ValueError, match="YYYY-MM"):
        land("gtzan-features", lake, snapshot=snapshot)
