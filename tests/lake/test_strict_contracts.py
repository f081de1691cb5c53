"""Strict, explicit contracts: each case here was accepted silently (or failed with a bare
codec error) before, and now is quarantined with a reason or refused with a clear message."""

from __future__ import annotations

import gzip
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from ml.cli import app
from ml.lake import catalog
from ml.pipeline import ingest_source

HEADER = "title,rank,date,artist,url,region,chart,trend,streams\n"


def row(rank="1", date="2021-01-01", streams="1000", title="Song"):
    return f"{title},{rank},{date},Artist,https://open.spotify.com/track/abc,Global,top200,SAME_POSITION,{streams}\n"


def land(tmp_path, body: str, name="charts.csv"):
    f = tmp_path / name
    f.write_text(HEADER + body)
    return ingest_source("spotify-charts", f, "2024-01", str(tmp_path / "lake")).manifests[0]


def cli(*args):
    return CliRunner().invoke(app, list(args))


def reasons_by_title(tmp_path) -> dict[str, str]:
    con = catalog.connect(catalog.Lake.from_uri(str(tmp_path / "lake")))
    try:
        return dict(con.execute("SELECT title, reason FROM quarantine_spotify_charts").fetchall())
    finally:
        con.close()


def test_chart_dates_outside_the_dataset_range_are_quarantined(tmp_path):
    cases = {"y0": "0000-01-01", "neg": "-0001-01-01", "future": "2999-01-01", "time": "2021-01-01 10:00:00",
             "epoch": "epoch", "slash": "2021/01/01", "short": "2021-1-1", "ok": "2021-06-30"}
    m = land(tmp_path, "".join(row(date=d, title=t) for t, d in cases.items()))
    assert (m.rows_in, m.rows_accepted) == (8, 1)
    r = reasons_by_title(tmp_path)
    assert r["future"] == "date: after today" and "date: before 2008-10-01" in r["y0"]
    assert all("date: not a valid DATE" in r[t] for t in ("neg", "time", "epoch", "slash", "short"))
    assert {f.path.split("/")[3] for f in m.files} == {"year=2021"}  # no year=0 partition


@pytest.mark.parametrize("value", ["1.5", "50.7", "0x10", "0b101", "1_000", "1e3", "١", "9223372036854775808"])
def test_integers_must_be_integers(tmp_path, value):
    m = land(tmp_path, row(rank=value) + row(streams=value, title="Other"))
    assert m.rows_accepted == 0
    assert sorted(r.split(";")[0] for r in m.quarantine_reasons) == ["rank: not a valid BIGINT",
                                                                   "streams: not a valid BIGINT"]


def test_signed_and_padded_integers_still_parse(tmp_path):
    m = land(tmp_path, row(rank=" +7 ", streams="007"))
    assert m.rows_accepted == 1


def test_typed_float_input_keeps_whole_numbers_and_refuses_fractions(tmp_path):
    t = pa.table({"title": ["a", "b"], "rank": [3.0, 1.5], "date": ["2021-01-01"] * 2, "artist": ["x"] * 2,
                  "url": ["u"] * 2, "region": ["g"] * 2, "chart": ["top200"] * 2, "trend": ["s"] * 2,
                  "streams": [10.0, 11.0]})
    pq.write_table(t, tmp_path / "c.parquet")
    m = ingest_source("spotify-charts", tmp_path / "c.parquet", "2024-01", str(tmp_path / "lake")).manifests[0]
    assert (m.rows_accepted, m.quarantine_reasons) == (1, {"rank: not a valid BIGINT": 1})


def test_doubles_and_booleans_are_strict(shared_data, tmp_path):
    src = (shared_data / "spotify_tracks" / "dataset_sample_10k.csv").read_text().splitlines(keepends=True)[:4]
    head, good = src[0], src[1]
    cols = head.rstrip("\n").split(",")
    vals = next(__import__("csv").reader([good]))

    def variant(**kw):
        v = list(vals)
        for k, x in kw.items():
            v[cols.index(k)] = x
        return ",".join(f'"{x}"' if "," in x else x for x in v) + "\n"

    f = tmp_path / "t.csv"
    f.write_text(head + good + variant(track_id="a", tempo="inf") + variant(track_id="b", energy="1,5")
                 + variant(track_id="c", explicit="yes") + variant(track_id="d", loudness="1e400"))
    m = ingest_source("spotify-tracks", f, "2024-01", str(tmp_path / "lake")).manifests[0]
    assert m.rows_accepted == 1 and m.rows_quarantined == 4
    assert set(m.quarantine_reasons) == {"tempo: not a valid DOUBLE", "energy: not a valid DOUBLE",
                                         "explicit: not a valid BOOLEAN", "loudness: not a valid DOUBLE"}


def test_utf8_bom_is_stripped_from_the_first_header(shared_data, tmp_path):
    lines = (shared_data / "spotify_tracks" / "dataset_sample_10k.csv").read_bytes().splitlines(keepends=True)[:51]
    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbf" + b"".join(lines))
    m = ingest_source("spotify-tracks", f, "2024-01", str(tmp_path / "lake")).manifests[0]
    assert m.rows_in == 50
    con = catalog.connect(catalog.Lake.from_uri(str(tmp_path / "lake")))
    # the first column ("Unnamed: 0" -> row_index) used to be NULL in every row
    assert con.execute("SELECT count(*) FROM spotify_tracks WHERE row_index IS NULL").fetchone()[0] == 0


def test_duplicate_header_names_are_refused_by_name(tmp_path):
    f = tmp_path / "dup.csv"
    f.write_text(HEADER.replace("trend", "rank") + row())
    r = cli("ingest", "spotify-charts", str(f), "--lake", str(tmp_path / "lake"))
    assert r.exit_code == 2 and "duplicate column name(s)" in r.output and "'rank'" in r.output


def test_hetrec_member_file_without_its_header_is_refused(shared_data, tmp_path):
    folder = tmp_path / "hetrec"
    folder.mkdir()
    for p in (shared_data / "lastfm_hetrec2011_2k").iterdir():
        data = p.read_bytes()
        if p.name == "user_taggedartists_2.dat":
            data = data.split(b"\n", 1)[1]  # drop its header line
        (folder / p.name).write_bytes(data)
    r = cli("ingest", "lastfm-hetrec", str(folder), "--lake", str(tmp_path / "lake"))
    assert r.exit_code == 2, r.output
    assert "user_taggedartists_2.dat" in r.output and "must start with the header line" in r.output
    assert not (tmp_path / "lake" / "_manifests").exists()  # refused before anything landed


@pytest.mark.parametrize("snapshot", ["2024-1", " 2024-01", "2024-01 ", "24-01", "2024-00", "2024-13", "1850-01"])
def test_snapshot_must_be_exactly_yyyy_mm(tmp_path, snapshot):
    f = tmp_path / "c.csv"
    f.write_text(HEADER + row())
    r = cli("ingest", "spotify-charts", str(f), "--snapshot", snapshot, "--lake", str(tmp_path / "lake"))
    assert r.exit_code == 2 and "exactly YYYY-MM" in r.output
    assert not (tmp_path / "lake" / "_manifests").exists()


def test_non_utf8_input_names_file_offset_and_encoding(tmp_path):
    f = tmp_path / "latin.csv"
    body = (HEADER + row() + row(title="Café")).encode("latin-1")
    f.write_bytes(body)
    r = cli("ingest", "spotify-charts", str(f), "--lake", str(tmp_path / "lake"))
    assert r.exit_code == 2, r.output
    offset = body.index("é".encode("latin-1"))
    assert "latin.csv" in r.output and f"at byte {offset}" in r.output and "--encoding" in r.output
    assert "codec can't decode" not in r.output and "Traceback" not in r.output
    ok = cli("ingest", "spotify-charts", str(f), "--encoding", "latin-1", "--lake", str(tmp_path / "lake"), "--json")
    assert ok.exit_code == 0, ok.output
    con = catalog.connect(catalog.Lake.from_uri(str(tmp_path / "lake")))
    assert con.execute("SELECT count(*) FROM spotify_charts WHERE title = 'Café'").fetchone()[0] == 1


def test_unknown_encoding_is_bad_input(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(HEADER + row())
    r = cli("ingest", "spotify-charts", str(f), "--encoding", "klingon", "--lake", str(tmp_path / "lake"))
    assert r.exit_code == 2 and "unknown encoding 'klingon'" in r.output


def test_gzip_input_is_read_and_zip_is_refused_with_a_hint(shared_data, tmp_path):
    src = shared_data / "spotify_tracks" / "dataset_sample_10k.csv"
    gz = tmp_path / "tracks.csv.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    m = ingest_source("spotify-tracks", gz, "2024-01", str(tmp_path / "lake")).manifests[0]
    assert (m.rows_in, m.rows_quarantined) == (10_000, 6)
    z = tmp_path / "tracks.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(src, "tracks.csv")
    r = cli("ingest", "spotify-tracks", str(z), "--lake", str(tmp_path / "lake2"))
    assert r.exit_code == 2 and "zip archive" in r.output and "unpack it first" in r.output
