"""gtzan-features: MFCC / spectral summary features of the 1,000 GTZAN clips, with labels."""

from __future__ import annotations

from pathlib import Path

from ml.sources.base import SourceDataset
from ml.sources.files import iter_table_file, size_of

NAME = "gtzan_features"


ENCODING = "utf-8"


def datasets(path: str | Path, *, encoding: str | None = None) -> list[SourceDataset]:
    p = Path(path)
    if p.is_dir():
        p = p / "features_30_sec.csv"
    enc = encoding or ENCODING
    return [SourceDataset(name=NAME, batches=lambda: iter_table_file(p, delimiter=",", encoding=enc),
                          source_uri=str(p), size_bytes=size_of(p))]
