"""The log writer on its own: never blocks, counts drops, flushes on close; file and PostgreSQL sinks; compaction."""

from __future__ import annotations

import threading
import time

import pytest

from ml.serving.predlog import FileSink, LogWriter, PostgresSink, compact, now_ts, read_files, read_rows
from tests.production.test_postgres import fresh_database, pg_server  # noqa: F401 - fixture


def _rows(n: int, prefix: str = "r") -> list[dict]:
    ts, ms = now_ts()
    return [{"request_id": f"{prefix}{i:08d}", "ts": ts, "ts_ms": ms, "endpoint": "classify", "model": "genre",
             "registered_name": "music-genre", "version": "1", "variant": "champion", "unit_key": "ab" * 8,
             "item": 0, "inputs": {"energy": 0.5}, "outputs": {"genre": [["rock", 0.9]]}, "latency_ms": 1.5,
             "status": "ok"} for i in range(n)]


def test_file_writer_flushes_everything_on_close_from_many_threads(tmp_path):
    w = LogWriter(FileSink(tmp_path, "predictions"), flush_seconds=0.05, flush_rows=100).start()
    threads = [threading.Thread(target=lambda k=k: [w.append(_rows(1, f"t{k}-{j}-")) for j in range(500)])
               for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    rows = list(read_files(tmp_path, "predictions"))
    assert len(rows) == 4000 and len({r["request_id"] for r in rows}) == 4000
    assert w.dropped == 0 and w.written == 4000


def test_a_dead_sink_never_blocks_and_drops_beyond_the_cap(tmp_path):
    class Dead:
        stream = "predictions"

        def write(self, rows):
            raise ConnectionError("database down")

        def close(self):
            pass

    w = LogWriter(Dead(), flush_seconds=0.01, flush_rows=10, max_rows=1000).start()
    t0 = time.perf_counter()
    for _ in range(30):
        w.append(_rows(100))
    assert time.perf_counter() - t0 < 0.5  # appends are memory operations, whatever the sink does
    time.sleep(0.1)
    assert w.buffered <= 1000 and w.dropped >= 2000 and w.flush_errors >= 1
    w.close(timeout=2)


def test_torn_last_line_is_skipped_and_counted(tmp_path):
    FileSink(tmp_path, "predictions").write(_rows(3))
    path = next(tmp_path.glob("predictions-*.jsonl"))
    with open(path, "ab") as f:
        f.write(b'{"request_id": "cut-by-sigk')
    stats: dict = {}
    assert len(list(read_files(tmp_path, "predictions", stats))) == 3 and stats["torn_lines"] == 1


def test_compaction_lands_the_month_in_the_lake_through_the_contract(tmp_path):
    from ml.lake.catalog import connect
    from ml.lake.storage import Lake

    FileSink(tmp_path / "log", "predictions").write(_rows(50) + [{**_rows(1)[0], "request_id": "bad", "status": "?"}])
    month = now_ts()[0][:7]
    res = compact("predictions", month, lake_uri=str(tmp_path / "lake"), url="", directory=tmp_path / "log")
    assert res["rows_in"] == 51 and res["accepted"] == 50 and res["quarantined"] == 1
    again = compact("predictions", month, lake_uri=str(tmp_path / "lake"), url="", directory=tmp_path / "log")
    assert again["accepted"] == 50  # idempotent: the month's snapshot is replaced, not appended to
    con = connect(Lake.from_uri(str(tmp_path / "lake")))
    assert con.execute('SELECT count(*) FROM "prediction_log"').fetchall()[0][0] == 50
    con.close()


@pytest.mark.postgres
def test_postgres_sink_and_compaction(pg_server, tmp_path):  # noqa: F811
    with fresh_database(pg_server, "musicml_predlog") as url:
        w = LogWriter(PostgresSink(url, "predictions"), flush_seconds=0.05).start()
        for i in range(10):
            w.append(_rows(100, f"pg{i}-"))
        w.close()
        rows = list(read_rows("predictions", url=url))
        assert len(rows) == 1000 and len({r["request_id"] for r in rows}) == 1000
        res = compact("predictions", now_ts()[0][:7], lake_uri=str(tmp_path / "lake"), url=url)
        assert res["accepted"] == 1000 and res["quarantined"] == 0
