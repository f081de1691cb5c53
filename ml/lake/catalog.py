"""Reading the lake: committed manifests, snapshots, and DuckDB views over every dataset.

Readers resolve a snapshot only through its committed manifest (`_manifests/<dataset>/
YYYY-MM.json`), never a directory listing, so a run that is still writing (or crashed)
is invisible. Views are built from manifest file lists through pyarrow datasets, so the
same code reads a local folder or S3 (no DuckDB extension download needed offline).
`<dataset>` is the latest snapshot; `quarantine_<dataset>` its rejected rows.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from ml.lake.linking import register_duckdb_functions
from ml.lake.manifest import Manifest
from ml.lake.storage import Lake, LakeError

_COMMITTED = re.compile(r"_manifests/([^/]+)/(\d{4}-\d{2})\.json")


def manifests(lake: Lake, dataset: str | None = None) -> list[Manifest]:
    """All committed snapshots, oldest first."""
    out = []
    for e in lake.list(lake.path("_manifests", dataset) if dataset else lake.path("_manifests")):
        if _COMMITTED.fullmatch(lake.rel(e.path)):
            out.append(Manifest.from_dict(lake.read_json(e.path)))
    return sorted(out, key=lambda m: (m.dataset, m.snapshot))


def latest(lake: Lake, dataset: str, snapshot: str | None = None) -> Manifest:
    found = [m for m in manifests(lake, dataset) if snapshot is None or m.snapshot == snapshot]
    if not found:
        where = f" snapshot {snapshot}" if snapshot else ""
        raise LookupError(f"dataset {dataset!r}{where} is not in the lake at {lake.uri}; run `musicml ingest` first")
    return found[-1]


def datasets(lake: Lake) -> list[str]:
    return sorted({m.dataset for m in manifests(lake)})


def arrow_dataset(lake: Lake, manifest: Manifest, quarantine: bool = False) -> pads.Dataset:
    files = manifest.quarantine_files if quarantine else manifest.files
    paths = [lake.path(f.path) for f in files]
    partitioning = None if quarantine or not manifest.partition_by else pads.partitioning(
        pa.schema([(manifest.partition_by, pa.int64())]), flavor="hive"
    )
    base = manifest.data_dir or f"{manifest.dataset}/snapshot={manifest.snapshot}"
    return pads.dataset(paths, filesystem=lake.fs, format="parquet", partitioning=partitioning,
                        partition_base_dir=lake.path(base))


def _verified(lake: Lake, m: Manifest) -> Manifest:
    """Re-hash the snapshot's files; a mismatch is an error naming the file."""
    from ml.lake.commit import verify

    report = verify(lake, m.dataset, m.snapshot)
    if not report.ok:
        raise LakeError(f"lake {lake.uri}: {report.problems[0]}"
                        + (f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else "")
                        + "; re-ingest the snapshot")
    return m


def read_table(lake: Lake, dataset: str, snapshot: str | None = None, columns: list[str] | None = None,
               verify: bool = False) -> pa.Table:
    m = latest(lake, dataset, snapshot)
    if verify:
        _verified(lake, m)
    return arrow_dataset(lake, m).to_table(columns=columns)


def connect(lake: Lake, threads: int = 2, verify: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per dataset (latest snapshot) and its quarantine.

    `verify`: re-hash every file first (sha256 against the manifests) and refuse a damaged lake.
    """
    con = duckdb.connect(config={"threads": threads})
    register_duckdb_functions(con)
    by_name: dict[str, Manifest] = {}
    for m in manifests(lake):
        by_name[m.dataset] = m  # sorted oldest first: the last one wins
    if verify:
        for m in by_name.values():
            _verified(lake, m)
    for name, m in by_name.items():
        if m.files:
            con.register(f"_ds_{name}", arrow_dataset(lake, m))
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "_ds_{name}"')
        if m.quarantine_files:
            con.register(f"_q_{name}", arrow_dataset(lake, m, quarantine=True))
            con.execute(f'CREATE OR REPLACE VIEW "quarantine_{name}" AS SELECT * FROM "_q_{name}"')
    return con


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def pick(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The real dataset if the lake has it, else its synthetic twin."""
    views = _views(con)
    for candidate in (name, f"synthetic_{name}"):
        if candidate in views:
            return candidate
    raise LookupError(f"neither {name} nor synthetic_{name} is in the lake")
