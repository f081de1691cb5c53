"""lastfm-hetrec: the hetrec2011-lastfm-2k dumps (Last.fm plays, artists, tags).

A folder of tab-separated .dat files (CRLF, no quoting; tags.dat is latin-1) or, for the
synthetic twin, the same tables as Parquet. `user_taggedartists` may come split across
several files (`user_taggedartists*.dat`): they are read in order as one dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ml.lake.contracts import get_contract
from ml.sources.base import SourceDataset, SourceError
from ml.sources.files import iter_table_file

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


def datasets(folder: str | Path, *, synthetic: bool = False, prefix: str = "") -> list[SourceDataset]:
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
        csv = get_contract(name).csv

        def batches(files=files, csv=csv) -> Iterator[pa.RecordBatch]:
            for f in files:
                yield from iter_table_file(
                    f, delimiter=csv.get("delimiter", "\t"), encoding=csv.get("encoding", "utf-8"),
                    quote=csv.get("quote", True),
                )

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
