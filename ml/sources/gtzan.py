"""gtzan-features: MFCC / spectral summary features of the 1,000 GTZAN clips, with labels."""

from __future__ import annotations

from pathlib import Path

from ml.sources.base import SourceDataset
from ml.sources.files import iter_table_file, size_of

NAME = "gtzan_features"


def datasets(path: str | Path) -> list[SourceDataset]:
    p = Path(path)
    if p.is_dir():
        p = p / "features_30_sec.csv"
    return [SourceDataset(name=NAME, batches=lambda: iter_table_file(p), source_uri=str(p), size_bytes=size_of(p))]
