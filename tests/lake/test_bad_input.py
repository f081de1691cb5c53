"""Bad input gets a clear error; malformed lines are quarantined, never dropped."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ml.cli import app
from ml.lake.ingest import ingest
from ml.settings import get_settings
from ml.sources import SourceError, load_source

HEADER = "title,rank,date,artist,url,region,chart,trend,streams\n"
ROW = 'Song,1,2021-01-01,Artist,https://open.spotify.com/track/abc,Global,top200,SAME_POSITION,1000\n'

runner = CliRunner()


def _cli(*args):
    return runner.invoke(app, list(args))


def test_missing_file_is_a_clear_cli_error(tmp_path):
    result = _cli("ingest", "spotify-charts", str(tmp_path / "nope.csv"), "--lake", str(tmp_path / "lake"))
    assert result.exit_code != 0
    assert "no such file" in result.output and "nope.csv" in result.output


def test_empty_file_is_a_clear_cli_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = _cli("ingest", "spotify-charts", str(empty), "--lake", str(tmp_path / "lake"))
    assert result.exit_code != 0 and "empty" in result.output


def test_header_only_file_is_an_error(tmp_path, lake):
    f = tmp_path / "header.csv"
    f.write_text(HEADER)
    (ds,) = load_source("spotify-charts", f, get_settings())
    with pytest.raises(SourceError, match="no data rows"):
        ingest(ds, lake, "2024-01")


def test_missing_column_is_named(tmp_path):
    f = tmp_path / "charts.csv"
    f.write_text(HEADER.replace(",streams", "") + ROW.rsplit(",", 1)[0] + "\n")
    result = _cli("ingest", "spotify-charts", str(f), "--lake", str(tmp_path / "lake"))
    assert result.exit_code != 0
    assert "'streams'" in result.output


def test_malformed_line_is_quarantined_with_reason(tmp_path, lake):
    f = tmp_path / "charts.csv"
    f.write_text(HEADER + ROW + "broken,line\n" + ROW.replace("Song", "Other"))
    (ds,) = load_source("spotify-charts", f, get_settings())
    m = ingest(ds, lake, "2024-01")
    assert (m.rows_in, m.rows_accepted, m.rows_quarantined) == (3, 2, 1)
    assert m.quarantine_reasons == {"malformed line: wrong number of fields": 1}


def test_json_flag_prints_the_manifest(tmp_path):
    f = tmp_path / "charts.csv"
    f.write_text(HEADER + ROW + ROW.replace("2021-01-01", "2022-01-01").replace("SAME_POSITION", "MOVE_UP"))
    result = _cli("ingest", "spotify-charts", str(f), "--lake", str(tmp_path / "lake"), "--snapshot", "2024-05", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dataset"] == "spotify_charts" and doc["snapshot"] == "2024-05"
    assert doc["rows_in"] == doc["rows_accepted"] + doc["rows_quarantined"] == 2
    # partitioned by chart year
    assert sorted(p["path"].split("/")[3] for p in doc["files"]) == ["year=2021", "year=2022"]
    ls = _cli("lake", "ls", "--lake", str(tmp_path / "lake"))
    assert "spotify_charts" in ls.stdout and "2024-05" in ls.stdout
    sql = _cli("lake", "sql", "select year, count(*) n from spotify_charts group by 1 order by 1",
               "--lake", str(tmp_path / "lake"), "--format", "json")
    assert json.loads(sql.stdout) == [{"year": 2021, "n": 1}, {"year": 2022, "n": 1}]


def test_unknown_source_is_listed_in_the_error(tmp_path):
    result = _cli("ingest", "napster", "--lake", str(tmp_path / "lake"))
    assert result.exit_code != 0 and "spotify-tracks" in result.output
