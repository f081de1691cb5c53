"""spotify-charts: the Kaggle "Spotify Charts" CSV (26M rows / 25 GB upstream).

Read as a stream of 16 MB blocks, never whole; lands partitioned by chart year.
`viral50` rows have no streams by design (allowed); a `top200` row without streams is not.
"""

from __future__ import annotations

from pathlib import Path

from ml.sources.base import SourceDataset
from ml.sources.files import iter_table_file, size_of

NAME = "spotify_charts"


ENCODING = "utf-8"  # how upstream writes the file: comma-separated UTF-8 with a header line


def datasets(path: str | Path, *, synthetic: bool = False, prefix: str = "",
             encoding: str | None = None) -> list[SourceDataset]:
    enc = encoding or ENCODING
    return [
        SourceDataset(
            name=prefix + NAME,
            contract=NAME,
            batches=lambda: iter_table_file(path, delimiter=",", encoding=enc),
            source_uri=str(path),
            synthetic=synthetic,
            size_bytes=size_of(path),
        )
    ]
