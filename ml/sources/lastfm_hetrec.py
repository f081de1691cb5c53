"""lastfm-hetrec: the hetrec2011-lastfm-2k dumps (Last.fm plays, artists, tags).

A folder of tab-separated .dat files (CRLF, no quoting; tags.dat is latin-1) or, for the
synthetic twin, the same tables as Parquet. `user_taggedartists` may come split across
several files (`user_taggedartists*.dat`): they are read in order as one dataset, and
every member file must start with the same header line (one that does not would lose
its first row and have the rest misread).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ml.sources.base import SourceDataset, SourceError
from ml.sources.files import is_parquet, iter_table_file, read_header

# How upstream writes the .dat files: tab-separated, no quoting, UTF-8 except tags.dat.
DELIMITER = "\t"
QUOTE = False
ENCODING = {"lastfm_tags": "latin-1"}

TABLES = {  # lake dataset -> file stem upstream
    "lastfm_user_artists": "user_artists",
    "lastfm_artists": "artists",
    "lastfm_tags": "tags",
    "lastfm_user_taggedartists": "user_taggedartists",
    "lastfm_user_friends": "user_friends",
}
REQUIRED = ("lastfm_user_artists", "lastfm_artists")


def _files(folder: Path, stem: str) -> list[Path]:
    for ext in (".dat", ".parquet"):
        exact = folder / f"{stem}{ext}"
        if exact.exists():
            extra = sorted(folder.glob(f"{stem}_*{ext}"))  # e.g. user_taggedartists_2.dat
            return [exact, *[p for p in extra if p.stem[len(stem) + 1 :].isdigit()]]
    return []


def _check_members(files: list[Path], encoding: str) -> None:
    """Every member of a split table starts with the first file's header line."""
    if len(files) < 2 or is_parquet(files[0]):
        return
    expected = read_header(files[0], DELIMITER, encoding)
    for f in files[1:]:
        got = read_header(f, DELIMITER, encoding)
        if got != expected:
            raise SourceError(f"{f}: first line {DELIMITER.join(got)!r} is not the header "
                              f"{DELIMITER.join(expected)!r} of {files[0].name}; each member file of a "
                              f"split table must start with the header line (add it, or merge the files)")


def datasets(folder: str | Path, *, synthetic: bool = False, prefix: str = "",
             encoding: str | None = None) -> list[SourceDataset]:
    """`encoding` overrides every table's (default: upstream's, latin-1 for tags.dat)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"{folder}: expected the hetrec2011-lastfm-2k folder")
    out = []
    for name, stem in TABLES.items():
        files = _files(folder, stem)
        if not files:
            if name in REQUIRED:
                raise SourceError(f"{folder}: missing {stem}.dat (or {stem}.parquet)")
            continue
        enc = encoding or ENCODING.get(name, "utf-8")
        _check_members(files, enc)

        def batches(files=files, enc=enc) -> Iterator[pa.RecordBatch]:
            for f in files:
                yield from iter_table_file(f, delimiter=DELIMITER, encoding=enc, quote=QUOTE)

        out.append(
            SourceDataset(
                name=prefix + name,
                contract=name,
                batches=batches,
                source_uri=",".join(str(f) for f in files),
                synthetic=synthetic,
                size_bytes=sum(f.stat().st_size for f in files),
            )
        )
    return out
