"""Reading the lake: manifests, snapshots, and DuckDB views over every dataset.

Views are built from manifest file lists through pyarrow datasets, so the same code
reads a local folder or S3 (no DuckDB extension download needed, which matters offline).
`<dataset>` is the latest snapshot; `quarantine_<dataset>` its rejected rows.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from ml.lake.linking import register_duckdb_functions
from ml.lake.manifest import Manifest
from ml.lake.storage import Lake


def manifests(lake: Lake, dataset: str | None = None) -> list[Manifest]:
    """All committed snapshots, oldest first."""
    base = lake.path("_manifests")
    names = [dataset] if dataset else lake.list_dirs(base)
    out = []
    for name in names:
        for path in lake.list_files(f"{base}/{name}"):
            if path.endswith(".json"):
                out.append(Manifest.from_dict(lake.read_json(path)))
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
    return pads.dataset(paths, filesystem=lake.fs, format="parquet", partitioning=partitioning,
                        partition_base_dir=lake.path(manifest.dataset, f"snapshot={manifest.snapshot}"))


def read_table(lake: Lake, dataset: str, snapshot: str | None = None, columns: list[str] | None = None) -> pa.Table:
    m = latest(lake, dataset, snapshot)
    return arrow_dataset(lake, m).to_table(columns=columns)


def connect(lake: Lake, threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per dataset (latest snapshot) and its quarantine."""
    con = duckdb.connect(config={"threads": threads})
    register_duckdb_functions(con)
    by_name: dict[str, Manifest] = {}
    for m in manifests(lake):
        by_name[m.dataset] = m  # sorted oldest first: the last one wins
    for name, m in by_name.items():
        if m.files:
            con.register(f"_ds_{name}", arrow_dataset(lake, m))
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "_ds_{name}"')
        if m.quarantine_files:
            con.register(f"_q_{name}", arrow_dataset(lake, m, quarantine=True))
            con.execute(f'CREATE OR REPLACE VIEW "quarantine_{name}" AS SELECT * FROM "_q_{name}"')
    return con
