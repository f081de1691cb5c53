"""Streaming readers for raw files: CSV/TSV (any encoding) and Parquet, batch by batch.

CSV columns are read as text and typed later by the dataset contract, so a bad value
becomes a quarantined row with a reason instead of a failed read. Lines with the wrong
number of fields are kept too: they come out as rows whose values are all NULL except
`_malformed_line`, and the contract quarantines them (required fields missing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ml.sources.base import SourceError

BATCH_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 1_000_000


def require_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file")
    if p.is_file() and p.stat().st_size == 0:
        raise SourceError(f"{p}: the file is empty")
    return p


def _header(path: Path, delimiter: str, encoding: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as f:
        first = f.readline().rstrip("\r\n")
    if not first.strip():
        raise SourceError(f"{path}: the file is empty (no header line)")
    import csv

    return next(csv.reader([first], delimiter=delimiter))


def iter_csv(
    path: str | os.PathLike,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    quote: bool = True,
    block_size: int = BATCH_BYTES,
) -> Iterator[pa.RecordBatch]:
    p = require_file(path)
    names = _header(p, delimiter, encoding)
    malformed: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(row.text)
        return "skip"

    reader = pacsv.open_csv(
        p,
        read_options=pacsv.ReadOptions(block_size=block_size, encoding=encoding, use_threads=True),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, quote_char='"' if quote else False, invalid_row_handler=on_invalid,
            newlines_in_values=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True,
            null_values=["", "NaN", "nan", "NULL", "null", "NA", "N/A"],
        ),
    )
    schema = pa.schema([pa.field(n, pa.string()) for n in names] + [pa.field("_malformed_line", pa.string())])
    for batch in reader:
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, pa.nulls(batch.num_rows, pa.string())], schema=schema
        )
        if malformed:
            yield _malformed_batch(schema, malformed)
            malformed.clear()
    if malformed:
        yield _malformed_batch(schema, malformed)


def _malformed_batch(schema: pa.Schema, lines: list[str]) -> pa.RecordBatch:
    n = len(lines)
    cols = [pa.nulls(n, pa.string()) for _ in schema.names[:-1]] + [pa.array(lines, pa.string())]
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def iter_parquet(paths: Sequence[str | os.PathLike], batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    for path in paths:
        pf = pq.ParquetFile(require_file(path))
        yield from pf.iter_batches(batch_size=batch_rows)


def parquet_parts(path: str | os.PathLike) -> list[Path]:
    """A Parquet file, or a folder of part files (sorted)."""
    p = Path(path)
    if p.is_dir():
        parts = sorted(p.glob("*.parquet"))
        if not parts:
            raise SourceError(f"{p}: folder holds no .parquet files")
        return parts
    return [require_file(p)]


def iter_table_file(
    path: str | os.PathLike, *, delimiter: str = ",", encoding: str = "utf-8", quote: bool = True
) -> Iterator[pa.RecordBatch]:
    """CSV/TSV or Parquet (file or folder of parts), chosen by what `path` is."""
    p = Path(path)
    if p.is_dir() or p.suffix == ".parquet":
        yield from iter_parquet(parquet_parts(p))
    else:
        yield from iter_csv(p, delimiter=delimiter, encoding=encoding, quote=quote)


def size_of(path: str | os.PathLike) -> int | None:
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.exists() else None
