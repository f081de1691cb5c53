"""Streaming readers for raw files: CSV/TSV (any encoding, plain or compressed) and Parquet.

CSV columns are read as text and typed later by the dataset contract, so a bad value
becomes a quarantined row with a reason instead of a failed read. Lines with the wrong
number of fields are kept too: they come out as rows whose values are all NULL except
`_malformed_line`, and the contract quarantines them (required fields missing).

How a file is read (delimiter, encoding, quoting) is each source's fact, passed in here.
The header is checked before any row: a UTF-8 byte-order mark is stripped, duplicate
column names are refused by name. gzip, bz2 and zstd files are read as they are; a
file that does not decode gets a message with the file, the byte offset and an
`--encoding` to try.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ml.sources.base import SourceError

BATCH_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 1_000_000
_BOM = codecs.BOM_UTF8
_COMPRESSED = {  # magic bytes -> (name, pyarrow codec or None when we cannot stream it)
    b"\x1f\x8b": ("gzip", "gzip"),
    b"BZh": ("bzip2", "bz2"),
    b"\x28\xb5\x2f\xfd": ("zstd", "zstd"),
    b"PK\x03\x04": ("zip", None),
    b"\xfd7zXZ\x00": ("xz", None),
}


def require_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file")
    if p.is_dir():
        raise SourceError(f"{p}: is a folder, expected a file")
    if p.stat().st_size == 0:
        raise SourceError(f"{p}: the file is empty")
    return p


def check_encoding(encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}: use a Python codec name such as utf-8, latin-1, cp1252") from None
    return encoding


def compression_of(path: Path) -> str | None:
    """The pyarrow codec to stream `path` through (None: plain); refuses what cannot be streamed."""
    with open(path, "rb") as f:
        magic = f.read(6)
    for prefix, (name, codec) in _COMPRESSED.items():
        if magic.startswith(prefix):
            if codec is None:
                raise SourceError(f"{path}: is a {name} archive, not a CSV; unpack it first "
                                  f"(gzip, bzip2 and zstd files are read directly)")
            return codec
    return None


def _open_raw(path: Path, compression: str | None):
    return pa.input_stream(str(path), compression=compression) if compression else open(path, "rb")


def _damaged(path: Path, compression: str | None, exc: BaseException) -> str:
    return (f"{path}: starts like a {compression} file but does not decompress "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); is it damaged or truncated?")


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in {"utf-8", "utf-8-sig"}


def first_invalid_byte(path: Path, encoding: str, compression: str | None) -> tuple[int, bytes] | None:
    """Offset (in the decompressed content) and a few bytes of the first undecodable sequence."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pos = 0
    with _open_raw(path, compression) as f:
        while chunk := f.read(1 << 20):
            data = decoder.getstate()[0] + chunk  # what this decode call sees (exc.start indexes it)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return pos - (len(data) - len(chunk)) + exc.start, data[exc.start: exc.start + 4]
            pos += len(chunk)
    return None


def _encoding_hint(path: Path, encoding: str, compression: str | None, offset: int | None, bad: bytes) -> str:
    """A readable message for a file that does not decode as `encoding`."""
    guess = None
    try:
        from charset_normalizer import from_bytes

        with _open_raw(path, compression) as f:
            sample = f.read(1 << 20)
        best = from_bytes(sample).best()
        guess = best.encoding if best else None
    except Exception:  # a guess only: never let it hide the real message
        guess = None
    suggest = [g for g in (guess, "cp1252", "latin-1") if g and codecs.lookup(g).name != codecs.lookup(encoding).name]
    where = f"at byte {offset:,}" if offset is not None else "somewhere"
    if compression:
        where += f" of the {compression}-decompressed content"
    shown = f" ({bad!r})" if bad else ""
    return (f"{path}: not valid {encoding} {where}{shown}; pass --encoding {suggest[0]}"
            + (f" (or {', '.join(dict.fromkeys(suggest[1:]))})" if len(suggest) > 1 else "")
            + " with the file's real encoding")


def read_header(path: str | os.PathLike, delimiter: str = ",", encoding: str = "utf-8") -> list[str]:
    """The header's column names: BOM stripped, duplicates refused by name, decode errors located."""
    p = require_file(path)
    check_encoding(encoding)
    compression = compression_of(p)
    try:
        with _open_raw(p, compression) as f:
            head = f.read(1 << 20)
    except OSError as exc:
        raise SourceError(_damaged(p, compression, exc)) from None
    # the header ends at the first \r\n, \n or \r (old Mac files end lines with \r alone)
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    raw = head[: min(ends)] if ends else head
    bom = raw.startswith(_BOM) and _is_utf8(encoding)
    if bom:
        raw = raw[len(_BOM):]
    try:
        first = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(_BOM) if bom else 0)
        raise SourceError(_encoding_hint(p, encoding, compression, offset, raw[exc.start: exc.start + 4])) from None
    if not first.strip():
        raise SourceError(f"{p}: the file is empty (no header line)")
    try:
        names = next(csv.reader([first], delimiter=delimiter))
    except csv.Error as exc:
        raise SourceError(f"{p}: cannot read the header line: {exc}") from None
    dups = [n for n, k in Counter(names).items() if k > 1]
    if dups:
        raise SourceError(f"{p}: duplicate column name(s) in the header: {', '.join(repr(d) for d in dups)}; "
                          f"every column needs its own name")
    return names


def iter_csv(
    path: str | os.PathLike,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    quote: bool = True,
    block_size: int = BATCH_BYTES,
) -> Iterator[pa.RecordBatch]:
    p = require_file(path)
    names = read_header(p, delimiter, encoding)
    compression = compression_of(p)
    malformed: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(row.text)
        return "skip"

    # The header was parsed above (BOM stripped): pyarrow skips it and uses those names.
    # utf-8-sig would make pyarrow transcode; a BOM only ever sits in the header we skip.
    pa_encoding = "utf-8" if _is_utf8(encoding) else encoding
    try:
        yield from _stream_csv(p, names, compression, delimiter, pa_encoding, quote, block_size, malformed, on_invalid)
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "UTF8" in text or "utf-8" in text.lower() or "decode" in text.lower():
            found = first_invalid_byte(p, encoding, compression)
            offset, bad = found if found else (None, b"")
            raise SourceError(_encoding_hint(p, encoding, compression, offset, bad)) from None
        raise SourceError(f"{p}: cannot parse as CSV: {text.splitlines()[0]}") from None
    except UnicodeDecodeError as exc:
        found = first_invalid_byte(p, encoding, compression)
        offset, bad = found if found else (exc.start, b"")
        raise SourceError(_encoding_hint(p, encoding, compression, offset, bad)) from None
    except OSError as exc:
        if compression:  # a corrupt compressed stream is the input's fault, not the machine's
            raise SourceError(_damaged(p, compression, exc)) from None
        raise


def _stream_csv(p, names, compression, delimiter, encoding, quote, block_size, malformed, on_invalid):
    reader = pacsv.open_csv(
        _open_raw(p, compression) if compression else p,
        read_options=pacsv.ReadOptions(block_size=block_size, encoding=encoding, use_threads=True,
                                       column_names=names, skip_rows=1),
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


def is_parquet(path: str | os.PathLike) -> bool:
    p = Path(path)
    if p.is_dir() or p.suffix == ".parquet":
        return True
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"PAR1"
    except OSError:
        return False


def iter_table_file(
    path: str | os.PathLike, *, delimiter: str = ",", encoding: str = "utf-8", quote: bool = True
) -> Iterator[pa.RecordBatch]:
    """CSV/TSV or Parquet (file or folder of parts), chosen by what `path` is."""
    p = Path(path)
    if is_parquet(p):
        yield from iter_parquet(parquet_parts(p))
    else:
        yield from iter_csv(p, delimiter=delimiter, encoding=encoding, quote=quote)


def size_of(path: str | os.PathLike) -> int | None:
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.exists() else None
