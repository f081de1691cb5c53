"""Ingest: stream a source dataset through its contract into one lake snapshot.

For every raw batch: cast + validate in DuckDB (one SQL pass), drop duplicate keys,
append accepted rows to Parquet part files (per partition) and rejected rows, with the
raw values and a `reason`, to quarantine. Memory stays bounded by the batch size.
The write follows the commit protocol of `ml.lake.commit`: one writer per snapshot,
files under a fresh `run=<id>/` folder, the manifest as the single atomic commit, then
garbage collection. Re-ingesting the same input for the same snapshot replaces it and
yields byte-identical Parquet files (and the same fingerprint).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import ml
from ml.lake import commit
from ml.lake.commit import SnapshotWrite
from ml.lake.contracts import Contract, get_contract
from ml.lake.linking import register_duckdb_functions
from ml.lake.manifest import FileEntry, Manifest
from ml.lake.storage import Lake, LakeError, sha256_file
from ml.sources.base import SourceDataset, SourceError

ROWS_PER_FILE = 8_000_000
ROW_GROUP_ROWS = 1_000_000

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of raw rows just processed


def current_snapshot() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


class SnapshotError(ValueError):
    """A snapshot name that is not exactly YYYY-MM (bad input)."""


def validate_snapshot(snapshot: str) -> str:
    """Exactly YYYY-MM, month 01-12, year 1900-2999: '2024-1', ' 2024-01' and '2024-13' are refused."""
    if not isinstance(snapshot, str) or not re.fullmatch(r"(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])", snapshot):
        raise SnapshotError(f"snapshot must be exactly YYYY-MM (e.g. 2024-01), got {snapshot!r}")
    return snapshot


@dataclass
class _PartWriter:
    """Parquet part files under one folder of the run, rolled every ROWS_PER_FILE rows.

    Each finished part is hashed and published (fsync locally, uploaded to S3) before
    the next one opens; nothing here is visible to readers until the manifest commits.
    """

    write_: SnapshotWrite
    folder: str
    schema: pa.Schema
    files: list[FileEntry] = field(default_factory=list)
    _writer: pq.ParquetWriter | None = None
    _local: object = None
    _rows: int = 0

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._writer is None:
                self._open()
            room = ROWS_PER_FILE - self._rows
            chunk, table = table.slice(0, room), table.slice(room)
            self._writer.write_table(chunk, row_group_size=ROW_GROUP_ROWS)
            self._rows += chunk.num_rows
            self.files[-1].rows += chunk.num_rows
            if self._rows >= ROWS_PER_FILE:
                self._close()

    def _open(self) -> None:
        path = f"{self.folder}/part-{len(self.files):05d}.parquet"
        self._local = self.write_.lake.staging_file(path, self.write_.scratch)
        # No timestamps or random ids in the file: same rows -> same bytes -> same sha256.
        self._writer = pq.ParquetWriter(
            str(self._local), self.schema, compression="zstd", write_statistics=True, store_schema=True
        )
        self.write_.published.append(path)  # from here on, a failure discards it
        self.files.append(FileEntry(path=path, rows=0, sha256=""))
        self._rows = 0

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            entry, lake = self.files[-1], self.write_.lake
            entry.sha256 = sha256_file(self._local)
            lake.publish(self._local, entry.path)
            entry.path = lake.rel(entry.path)

    def abort(self) -> None:
        """Close without publishing (a failure mid-write); the run's files get discarded."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None

    def close(self) -> list[FileEntry]:
        self._close()
        return self.files


class _UniqueGuard:
    """Remembers keys already accepted in this ingest (DuckDB table, spills to disk)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, contract: Contract):
        self.con = con
        self.keys = list(contract.unique)
        self.enabled = bool(self.keys)
        if self.enabled:
            cols = ", ".join(f'"{k}" {next(c.dtype for c in contract.columns if c.name == k)}' for k in self.keys)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _seen ({cols})")
        self.reason = f"duplicate of an earlier row on ({', '.join(self.keys)})"

    def duplicates(self, accepted: pa.Table) -> np.ndarray:
        """Boolean mask over `accepted`: rows whose key was seen before (here or earlier)."""
        if not self.enabled or accepted.num_rows == 0:
            return np.zeros(accepted.num_rows, dtype=bool)
        keys = ", ".join(f'a."{k}"' for k in self.keys)
        join = " AND ".join(f'a."{k}" IS NOT DISTINCT FROM s."{k}"' for k in self.keys)
        self.con.register("_acc", accepted.select(["_source_row", *self.keys]))
        mask = self._mask(keys, join)
        self.con.unregister("_acc")
        return mask

    def _mask(self, keys: str, join: str) -> np.ndarray:
        rows = self.con.sql(
            f"SELECT a._source_row, "
            f"(row_number() OVER (PARTITION BY {keys} ORDER BY a._source_row) > 1) "
            f"OR EXISTS (SELECT 1 FROM _seen s WHERE {join}) AS dup "
            f"FROM _acc a ORDER BY a._source_row"
        ).fetchnumpy()
        return np.asarray(rows["dup"], dtype=bool)

    def remember(self, accepted: pa.Table) -> None:
        if self.enabled and accepted.num_rows:
            self.con.register("_new", accepted.select(self.keys))
            self.con.execute("INSERT INTO _seen SELECT * FROM _new")
            self.con.unregister("_new")


def _raw_as_strings(batch: pa.RecordBatch) -> pa.Table:
    """Quarantine keeps the input values as text, whatever their original type."""
    cols = {name: pc.cast(batch.column(name), pa.string()) for name in batch.schema.names}
    return pa.table(cols)


def ingest(
    ds: SourceDataset,
    lake: Lake,
    snapshot: str | None = None,
    progress: Progress | None = None,
    gc: bool = True,
) -> Manifest:
    """Land one source dataset as lake snapshot `snapshot` (default: this month).

    The steps of `ml.lake.commit`: lock -> write (run folder) -> commit (manifest) -> gc.
    """
    snapshot = validate_snapshot(snapshot or current_snapshot())
    contract = get_contract(ds.contract_name)
    with commit.open_snapshot(lake, ds.name, snapshot) as w:
        manifest = write_snapshot(ds, contract, w, progress)
        commit.commit_manifest(w, manifest)
        if gc:
            try:
                commit.collect_garbage(lake, dataset=ds.name, snapshot=snapshot, held=True)
            except LakeError as exc:  # committed already: leftovers wait for the next `lake gc`
                log.warning("%s %s committed; garbage collection deferred: %s", ds.name, snapshot, exc)
    return manifest


def write_snapshot(ds: SourceDataset, contract: Contract, w: SnapshotWrite, progress: Progress | None = None) -> Manifest:
    """Step `write`: every batch through the contract into the run's part files; returns the manifest."""
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB", "preserve_insertion_order": True})
    register_duckdb_functions(con)
    guard = _UniqueGuard(con, contract)

    data_dir, q_dir = w.data_dir(), w.data_dir(quarantine=True)
    data_writers: dict[str | None, _PartWriter] = {}
    quarantine: _PartWriter | None = None
    reasons: Counter[str] = Counter()
    rows_in = rows_accepted = rows_quarantined = 0
    part_cols = [c.name for c in contract.columns if c.name != contract.partition_by]
    data_schema = pa.schema([f for f in contract.schema if f.name in part_cols])
    checked: list[str] | None = None

    def writers() -> list[_PartWriter]:
        return [*data_writers.values(), *([quarantine] if quarantine else [])]

    try:
        for batch in ds.batches():
            if batch.schema.names != checked:  # every file of a multi-file source, not just the first
                missing = contract.missing_inputs(batch.schema.names)
                if missing:
                    raise SourceError(
                        f"{ds.source_uri}: missing column(s) {', '.join(repr(m) for m in missing)} "
                        f"required by the {contract.dataset} contract"
                    )
                checked = batch.schema.names
            n = batch.num_rows
            if n == 0:
                continue
            raw = batch.append_column("_source_row", pa.array(np.arange(rows_in, rows_in + n, dtype=np.int64)))
            con.register("_raw", raw)
            raw_types = {f.name: f.type for f in batch.schema}
            typed = con.sql(contract.select_sql("_raw", batch.schema.names, raw_types)).to_arrow_table()
            con.unregister("_raw")

            reason_col = typed.column("_reason")
            bad = pc.not_equal(reason_col, "").to_numpy(zero_copy_only=False)
            reason = reason_col.to_numpy(zero_copy_only=False) if bad.any() else None
            accepted = typed.filter(pa.array(~bad))
            dup = guard.duplicates(accepted)
            if dup.any():
                if reason is None:
                    reason = reason_col.to_numpy(zero_copy_only=False)
                reason = reason.astype(object)
                dup_rows = set(accepted.column("_source_row").filter(pa.array(dup)).to_pylist())
                idx = np.nonzero(np.isin(np.arange(rows_in, rows_in + n), list(dup_rows)))[0]
                bad[idx] = True
                reason[idx] = guard.reason
                accepted = accepted.filter(pa.array(~dup))
            guard.remember(accepted)

            if bad.any():
                q = _raw_as_strings(raw.filter(pa.array(bad)))
                q = q.append_column("reason", pa.array(reason[bad].tolist(), type=pa.string()))
                if quarantine is None:
                    quarantine = _PartWriter(w, q_dir, q.schema)
                if q.schema != quarantine.schema:
                    q = q.cast(quarantine.schema)
                quarantine.write(q)
                reasons.update(reason[bad].tolist())

            accepted = accepted.drop_columns(["_source_row", "_reason"]).cast(contract.schema)
            if contract.partition_by:
                years = accepted.column(contract.partition_by)
                for value in pc.unique(years).to_pylist():
                    part = accepted.filter(pc.equal(years, value))
                    key = f"{contract.partition_by}={value}"
                    if key not in data_writers:
                        data_writers[key] = _PartWriter(w, f"{data_dir}/{key}", data_schema)
                    data_writers[key].write(part.select(part_cols))
            else:
                if None not in data_writers:
                    data_writers[None] = _PartWriter(w, data_dir, data_schema)
                data_writers[None].write(accepted)

            rows_in += n
            rows_quarantined += int(bad.sum())
            rows_accepted += accepted.num_rows
            if progress:
                progress(n)
        if rows_in == 0:
            raise SourceError(f"{ds.source_uri}: no data rows (empty file or header only)")
        data_files: list[FileEntry] = []
        for key in sorted(data_writers, key=lambda k: k or ""):
            data_files += data_writers[key].close()
        q_files = quarantine.close() if quarantine else []
    except pa.ArrowInvalid as exc:
        for wr in writers():
            wr.abort()
        if "Empty CSV file" in str(exc):
            raise SourceError(f"{ds.source_uri}: the file is empty") from None
        raise SourceError(f"{ds.source_uri}: cannot parse input: {str(exc).splitlines()[0]}") from None
    except BaseException:
        for wr in writers():
            wr.abort()
        raise
    finally:
        con.close()

    return Manifest(
        dataset=ds.name,
        snapshot=w.snapshot,
        source_uri=ds.source_uri,
        synthetic=ds.synthetic,
        contract=contract.dataset,
        schema_version=contract.version,
        rows_in=rows_in,
        rows_accepted=rows_accepted,
        rows_quarantined=rows_quarantined,
        quarantine_reasons=dict(reasons.most_common()),
        files=data_files,
        quarantine_files=q_files,
        columns={f.name: str(f.type) for f in contract.schema},
        partition_by=contract.partition_by,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ingest_seconds=round(time.perf_counter() - started, 3),
        producer=f"musicml {ml.__version__}",
        run_id=w.run,
        data_dir=w.lake.rel(data_dir),
    )
