"""Ingest: stream a source dataset through its contract into one lake snapshot.

For every raw batch: cast + validate in DuckDB (one SQL pass), drop duplicate keys,
append accepted rows to Parquet part files (per partition) and rejected rows, with the
raw values and a `reason`, to quarantine. Memory stays bounded by the batch size.
Everything is written to a staging folder first and moved into place at the end; the
manifest is written last (the commit). Re-ingesting the same input for the same
snapshot replaces it and yields byte-identical Parquet files.
"""

from __future__ import annotations

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
from ml.lake.contracts import Contract, get_contract
from ml.lake.linking import register_duckdb_functions
from ml.lake.manifest import FileEntry, Manifest
from ml.lake.storage import Lake
from ml.sources.base import SourceDataset, SourceError

ROWS_PER_FILE = 8_000_000
ROW_GROUP_ROWS = 1_000_000

Progress = Callable[[int], None]  # called with the number of raw rows just processed


def current_snapshot() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def validate_snapshot(snapshot: str) -> str:
    try:
        datetime.strptime(snapshot, "%Y-%m")
    except ValueError:
        raise ValueError(f"snapshot must look like YYYY-MM, got {snapshot!r}") from None
    return snapshot


@dataclass
class _PartWriter:
    """Parquet part files under one folder, rolled every ROWS_PER_FILE rows."""

    lake: Lake
    folder: str
    schema: pa.Schema
    files: list[FileEntry] = field(default_factory=list)
    _writer: pq.ParquetWriter | None = None
    _sink: object = None
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
        self.lake.makedirs(self.folder)
        path = f"{self.folder}/part-{len(self.files):05d}.parquet"
        self._sink = self.lake.fs.open_output_stream(path)
        # No timestamps or random ids in the file: same rows -> same bytes -> same sha256.
        self._writer = pq.ParquetWriter(
            self._sink, self.schema, compression="zstd", write_statistics=True, store_schema=True
        )
        self.files.append(FileEntry(path=path, rows=0, sha256=""))
        self._rows = 0

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
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
) -> Manifest:
    """Land one source dataset as lake snapshot `snapshot` (default: this month)."""
    snapshot = validate_snapshot(snapshot or current_snapshot())
    contract = get_contract(ds.contract_name)
    started = time.perf_counter()
    staging = lake.new_staging_dir()
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB", "preserve_insertion_order": True})
    register_duckdb_functions(con)
    guard = _UniqueGuard(con, contract)

    data_writers: dict[str | None, _PartWriter] = {}
    quarantine: _PartWriter | None = None
    reasons: Counter[str] = Counter()
    rows_in = rows_accepted = rows_quarantined = 0
    part_cols = [c.name for c in contract.columns if c.name != contract.partition_by]
    data_schema = pa.schema([f for f in contract.schema if f.name in part_cols])
    checked_columns = False

    try:
        for batch in ds.batches():
            if not checked_columns:
                missing = contract.missing_inputs(batch.schema.names)
                if missing:
                    raise SourceError(
                        f"{ds.source_uri}: missing column(s) {', '.join(repr(m) for m in missing)} "
                        f"required by the {contract.dataset} contract"
                    )
                checked_columns = True
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
                    quarantine = _PartWriter(lake, f"{staging}/quarantine", q.schema)
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
                        data_writers[key] = _PartWriter(lake, f"{staging}/data/{key}", data_schema)
                    data_writers[key].write(part.select(part_cols))
            else:
                if None not in data_writers:
                    data_writers[None] = _PartWriter(lake, f"{staging}/data", data_schema)
                data_writers[None].write(accepted)

            rows_in += n
            rows_quarantined += int(bad.sum())
            rows_accepted += accepted.num_rows
            if progress:
                progress(n)
    except pa.ArrowInvalid as exc:
        lake.delete_dir(staging)
        if "Empty CSV file" in str(exc):
            raise SourceError(f"{ds.source_uri}: the file is empty") from None
        raise SourceError(f"{ds.source_uri}: cannot parse input: {exc}") from None
    except BaseException:
        lake.delete_dir(staging)
        raise
    finally:
        con.close()

    if rows_in == 0:
        lake.delete_dir(staging)
        raise SourceError(f"{ds.source_uri}: no data rows (empty file or header only)")

    data_files: list[FileEntry] = []
    for key in sorted(data_writers, key=lambda k: k or ""):
        data_files += data_writers[key].close()
    q_files = quarantine.close() if quarantine else []

    final_data = lake.snapshot_dir(ds.name, snapshot)
    final_q = lake.quarantine_dir(ds.name, snapshot)
    lake.replace_dir(f"{staging}/data", final_data)
    lake.replace_dir(f"{staging}/quarantine", final_q)
    lake.delete_dir(staging)
    for entries, staged, final in ((data_files, f"{staging}/data", final_data), (q_files, f"{staging}/quarantine", final_q)):
        for e in entries:
            e.path = lake.rel(final + e.path[len(staged) :])
            e.sha256 = lake.sha256(lake.path(e.path))

    manifest = Manifest(
        dataset=ds.name,
        snapshot=snapshot,
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
    )
    manifest.check()
    lake.write_json(lake.manifest_path(ds.name, snapshot), manifest.to_dict())
    return manifest
