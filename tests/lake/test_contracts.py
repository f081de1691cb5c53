"""Contracts: each rule turns into a readable reason; good rows pass untouched."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from ml.lake.contracts import CONTRACTS, get_contract
from ml.lake.linking import register_duckdb_functions


def run(contract_name: str, rows: list[dict]) -> pa.Table:
    contract = get_contract(contract_name)
    raw = pa.Table.from_pylist(rows).append_column("_source_row", pa.array(range(len(rows)), pa.int64()))
    con = duckdb.connect()
    register_duckdb_functions(con)
    con.register("raw", raw)
    return con.sql(contract.select_sql("raw", raw.schema.names)).to_arrow_table()


CHART = {"title": "Song", "rank": "3", "date": "2020-01-03", "artist": "A", "url": "https://open.spotify.com/track/abc123",
         "region": "Global", "chart": "top200", "trend": "SAME_POSITION", "streams": "100"}


def test_good_chart_row_passes_and_derives_columns():
    out = run("spotify_charts", [CHART]).to_pylist()[0]
    assert out["_reason"] == ""
    assert out["rank"] == 3 and out["streams"] == 100
    assert out["track_id"] == "abc123" and out["year"] == 2020


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"rank": "0"}, "rank: below 1"),
        ({"rank": "201"}, "rank: above 200"),
        ({"rank": "first"}, "rank: not a valid BIGINT"),
        ({"date": "yesterday"}, "date: not a valid DATE"),
        ({"chart": "top50"}, "chart: not one of top200/viral50"),
        ({"streams": None}, "streams: missing for a top200 row"),
        ({"title": "  "}, "title: missing"),
    ],
)
def test_each_broken_rule_names_its_column(change, reason):
    out = run("spotify_charts", [{**CHART, **change}]).to_pylist()[0]
    assert reason in out["_reason"]


def test_viral50_may_lack_streams():
    out = run("spotify_charts", [{**CHART, "chart": "viral50", "streams": None}]).to_pylist()[0]
    assert out["_reason"] == ""


def test_several_broken_rules_are_all_reported():
    out = run("spotify_charts", [{**CHART, "rank": "999", "region": None}]).to_pylist()[0]
    assert "rank: above 200" in out["_reason"] and "region: missing" in out["_reason"]


def test_audio_feature_range_is_enforced():
    row = {"track_id": "t", "artists": "A;B", "album_name": "x", "track_name": "y", "popularity": "50",
           "duration_ms": "1000", "explicit": "False", "danceability": "1.2", "energy": "0.5", "key": "1",
           "loudness": "-5", "mode": "1", "speechiness": "0.1", "acousticness": "0.1", "instrumentalness": "0",
           "liveness": "0.1", "valence": "0.5", "tempo": "300", "time_signature": "4", "track_genre": "pop"}
    out = run("spotify_tracks", [row]).to_pylist()[0]
    assert "danceability: above 1" in out["_reason"]
    assert "tempo: above 260" in out["_reason"]
    assert out["primary_artist"] == "A" and out["artist_key"] == "a"


def test_every_contract_compiles_to_sql_that_runs():
    for name, contract in CONTRACTS.items():
        raw_names = [c.raw for c in contract.input_columns]
        table = run(name, [dict.fromkeys(raw_names, None)])
        assert table.num_rows == 1, name
        assert set(c.name for c in contract.columns) <= set(table.column_names), name
