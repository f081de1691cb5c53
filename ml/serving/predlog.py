"""The prediction log and the feedback log: one row per prediction / feedback event, never blocking a request.

Schema (lake contracts `prediction_log` and `prediction_feedback` in ml/lake/contracts.py; the column
lists below are the same, in the same order):

prediction_log  request_id, ts (ISO 8601 UTC), ts_ms (epoch ms), endpoint, model, registered_name,
                version, variant, unit_key (sha256 of salt + user id / request key / request id, 16 hex:
                never a raw user identifier), item (position in the request's batch), inputs (JSON: the
                features the model saw), outputs (JSON), latency_ms (whole request), status (ok | error),
                experiment_id, bucket (A/B router; null until it routes)
feedback        feedback_id, request_id (joins prediction_log), ts, ts_ms, event (play | skip | save |
                complete | label), item, label, value, unit_key, variant

Writing: `LogWriter.append` puts rows in an in-memory buffer (a list append under a lock: no I/O on
the request path). A background thread flushes every `flush_seconds` (default 0.25 s) or as soon as
`flush_rows` wait, and on `close()` (graceful shutdown). When the sink is down, rows stay buffered
and are retried; beyond `max_rows` buffered, new rows are dropped and counted (`dropped`), so a dead
database can never exhaust memory or stall requests.

Loss bound on SIGKILL: rows appended after the last completed flush, i.e. at most the last
`flush_seconds` (+ one flush's duration) of traffic. The file sink's write() has reached the kernel
when a flush completes, so a killed process loses nothing that was flushed (a power cut could lose
what the OS had not synced: not covered). tests/serving/test_prediction_log.py checks both bounds.

Sinks: embedded default = append-only JSON-lines files under `<work_dir>/prediction_log/`, one per
stream, day and process (`predictions-YYYYMMDD-<host>-<pid>.jsonl`), each flush one write() under an
exclusive flock; production = PostgreSQL (`MUSICML_PREDICTION_LOG_URL=postgresql://...`, tables
`prediction_log` / `prediction_feedback`, COPY per flush). `compact()` lands a month of either into
the lake through the contract (manifest, quarantine), replacing that month's snapshot with every
row logged in the month, so running it again is harmless.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("request_id", "ts", "ts_ms", "endpoint", "model", "registered_name", "version", "variant",
                      "unit_key", "item", "inputs", "outputs", "latency_ms", "status", "experiment_id", "bucket")
FEEDBACK_COLUMNS = ("feedback_id", "request_id", "ts", "ts_ms", "event", "item", "label", "value", "unit_key",
                    "variant")
STREAMS = {"predictions": ("prediction_log", PREDICTION_COLUMNS), "feedback": ("prediction_feedback", FEEDBACK_COLUMNS)}
_JSON_COLUMNS = ("inputs", "outputs")


def now_ts() -> tuple[str, int]:
    t = time.time()
    ms = int(t * 1000)
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z", ms


def _json_default(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


def encode_row(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    out = {c: row.get(c) for c in columns}
    for c in _JSON_COLUMNS:
        if c in out and out[c] is not None and not isinstance(out[c], str):
            out[c] = json.dumps(out[c], separators=(",", ":"), default=_json_default, allow_nan=False)
    return out


# ------------------------------------------------------------------------------------- sinks


class FileSink:
    """Append-only JSON lines; one write() per flush under an exclusive flock (compaction reads under it)."""

    def __init__(self, directory: Path, stream: str):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stream, self.columns = stream, STREAMS[stream][1]
        self.host = socket.gethostname().split(".")[0] or "host"

    def path(self, day: str) -> Path:
        return self.dir / f"{self.stream}-{day}-{self.host}-{os.getpid()}.jsonl"

    def write(self, rows: list[dict]) -> None:
        by_day: dict[str, list[str]] = {}
        for r in rows:
            day = (r.get("ts") or "")[:10].replace("-", "") or time.strftime("%Y%m%d")
            by_day.setdefault(day, []).append(json.dumps(encode_row(r, self.columns), separators=(",", ":"),
                                                         default=_json_default))
        for day, lines in by_day.items():
            data = ("\n".join(lines) + "\n").encode()
            fd = os.open(self.path(day), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)

    def close(self) -> None:
        pass


_PG_TYPES = {"ts_ms": "BIGINT", "item": "BIGINT", "latency_ms": "DOUBLE PRECISION", "value": "DOUBLE PRECISION",
             "bucket": "DOUBLE PRECISION", "inputs": "JSONB", "outputs": "JSONB"}


class PostgresSink:
    """COPY into `prediction_log` / `prediction_feedback` (created when missing); one transaction per flush."""

    def __init__(self, url: str, stream: str):
        self.url, self.stream = url, stream
        self.table, self.columns = STREAMS[stream]
        self._conn = None

    def _connect(self):
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, connect_timeout=5)
            cols = ", ".join(f"{c} {_PG_TYPES.get(c, 'TEXT')}" for c in self.columns)
            with self._conn.transaction():
                self._conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({cols})")
                self._conn.execute(f"CREATE INDEX IF NOT EXISTS {self.table}_ts ON {self.table} (ts_ms)")
        return self._conn

    def write(self, rows: list[dict]) -> None:
        try:
            conn = self._connect()
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
                for r in rows:
                    e = encode_row(r, self.columns)
                    copy.write_row([e[c] for c in self.columns])
        except Exception:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def make_sink(stream: str, url: str | None, directory: Path):
    if url and url.startswith(("postgresql://", "postgres://")):
        return PostgresSink(url, stream)
    return FileSink(directory, stream)


# ------------------------------------------------------------------------------------ writer


class LogWriter:
    """In-memory buffer + background flusher for one stream (see the module docstring)."""

    def __init__(self, sink, flush_seconds: float = 0.25, flush_rows: int = 2000, max_rows: int = 200_000,
                 on_flush=None):
        self.sink = sink
        self.flush_seconds, self.flush_rows, self.max_rows = flush_seconds, flush_rows, max_rows
        self.on_flush = on_flush  # callback(stats) after each flush, e.g. to update metrics
        self._buf: list[dict] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.written = self.dropped = self.flush_errors = 0
        self.last_flush = time.time()
        self._thread: threading.Thread | None = None

    def start(self) -> LogWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"predlog-{getattr(self.sink, 'stream', '')}",
                                            daemon=True)
            self._thread.start()
        return self

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def append(self, rows: list[dict]) -> int:
        """Queue rows; returns how many were dropped because the buffer is full (never blocks on I/O)."""
        with self._lock:
            room = self.max_rows - len(self._buf)
            take = rows if room >= len(rows) else rows[: max(room, 0)]
            self._buf.extend(take)
            dropped = len(rows) - len(take)
            self.dropped += dropped
            n = len(self._buf)
        if n >= self.flush_rows:
            self._wake.set()
        return dropped

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._buf = self._buf, []
        if not rows:
            return 0
        try:
            self.sink.write(rows)
        except Exception as exc:  # keep the rows for the next try (up to the cap), never raise into serving
            self.flush_errors += 1
            log.warning("prediction log flush failed (%s: %s); %d rows kept for retry", type(exc).__name__, exc,
                        len(rows))
            with self._lock:
                keep = rows[: max(self.max_rows - len(self._buf), 0)]
                self.dropped += len(rows) - len(keep)
                self._buf[:0] = keep
            time.sleep(min(self.flush_seconds, 1.0))
            return 0
        self.written += len(rows)
        self.last_flush = time.time()
        if self.on_flush:
            self.on_flush(self)
        return len(rows)

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is buffered and stop (graceful shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self.flush()
        self.sink.close()


# ------------------------------------------------------------------------------------ reading


def read_files(directory: Path, stream: str, stats: dict | None = None) -> Iterator[dict]:
    """Rows of a stream's files; a torn last line (a write cut by SIGKILL) is skipped and counted."""
    stats = stats if stats is not None else {}
    for path in sorted(Path(directory).glob(f"{stream}-*.jsonl")):
        with open(path, "rb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # never read half of a flush
            data = f.read()
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                stats["torn_lines"] = stats.get("torn_lines", 0) + 1


def read_postgres(url: str, stream: str, since_ms: int | None = None, until_ms: int | None = None) -> Iterator[dict]:
    import psycopg
    from psycopg.rows import dict_row

    table, cols = STREAMS[stream]
    where, args = [], []
    if since_ms is not None:
        where.append("ts_ms >= %s")
        args.append(since_ms)
    if until_ms is not None:
        where.append("ts_ms < %s")
        args.append(until_ms)
    sql = f"SELECT {', '.join(cols)} FROM {table}" + (f" WHERE {' AND '.join(where)}" if where else "")
    with psycopg.connect(url, connect_timeout=5, row_factory=dict_row) as conn:
        try:
            rows = conn.execute(sql, args)
        except psycopg.errors.UndefinedTable:
            return
        for r in rows:
            yield {k: (json.dumps(v) if k in _JSON_COLUMNS and v is not None and not isinstance(v, str) else v)
                   for k, v in r.items()}


def read_rows(stream: str, url: str | None = None, directory: Path | None = None, month: str | None = None,
              stats: dict | None = None) -> Iterator[dict]:
    """Every row of a stream (optionally only month YYYY-MM), from Postgres or the files."""
    since = until = None
    if month:
        start = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
        end = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
        since, until = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    if url and url.startswith(("postgresql://", "postgres://")):
        yield from read_postgres(url, stream, since, until)
        return
    for r in read_files(directory, stream, stats):
        ts = r.get("ts_ms")
        if since is not None and not (isinstance(ts, int) and since <= ts < until):
            continue
        yield r


def compact(stream: str = "predictions", month: str | None = None, lake_uri: str | None = None,
            url: str | None = None, directory: Path | None = None, batch_rows: int = 100_000) -> dict:
    """Land one month of a log stream in the lake through its contract (replaces that month's snapshot)."""
    import pyarrow as pa

    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake
    from ml.serving.config import serving_settings
    from ml.settings import get_settings
    from ml.sources.base import SourceDataset

    cfg = serving_settings()
    url = url if url is not None else cfg.prediction_log_url
    directory = directory or cfg.log_dir
    month = month or datetime.now(UTC).strftime("%Y-%m")
    dataset, columns = STREAMS[stream]
    stats: dict = {}

    def batches():
        buf: list[dict] = []
        for r in read_rows(stream, url, directory, month, stats):
            buf.append({c: r.get(c) for c in columns})
            if len(buf) >= batch_rows:
                yield pa.RecordBatch.from_pylist(buf)
                buf = []
        if buf:
            yield pa.RecordBatch.from_pylist(buf)

    source = url.split("@")[-1] if url and "://" in url else str(directory)
    ds = SourceDataset(name=dataset, batches=batches, source_uri=f"prediction-log:{source}")
    settings = get_settings()
    m = ingest(ds, Lake.from_uri(lake_uri or settings.lake_uri, settings), month)
    return {"dataset": dataset, "snapshot": m.snapshot, "rows_in": m.rows_in, "accepted": m.rows_accepted,
            "quarantined": m.rows_quarantined, "torn_lines": stats.get("torn_lines", 0)}
