"""spotify-2023: "Most Streamed Spotify Songs 2023" (Kaggle), 953 rows.

Upstream is not UTF-8 (read as latin-1) and carries mojibake ("ï¿½") in some names, which
the lake flags in `text_damaged`; one row has text in `streams` and is quarantined.
"""

from __future__ import annotations

from pathlib import Path

from ml.sources.base import SourceDataset
from ml.sources.files import iter_table_file, size_of

NAME = "spotify_2023"


ENCODING = "latin-1"


def datasets(path: str | Path, *, encoding: str | None = None) -> list[SourceDataset]:
    enc = encoding or ENCODING
    return [
        SourceDataset(
            name=NAME,
            batches=lambda: iter_table_file(path, delimiter=",", encoding=enc),
            source_uri=str(path),
            size_bytes=size_of(path),
        )
    ]
