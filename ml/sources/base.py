"""What every source hands to the lake: named datasets as streams of Arrow record batches.

A source never loads a whole file: it yields batches (typically 100k-1M rows) that the
lake validates against the dataset's contract and writes out one by one. Columns may
arrive as strings (CSV) or already typed (Parquet, API records); the contract casts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa


class SourceError(ValueError):
    """Input that cannot be read at all (missing file, missing column, empty file)."""


@dataclass(frozen=True)
class SourceDataset:
    """One dataset a source produces.

    name: lake dataset name (also selects the contract unless `contract` is given).
    batches: a callable returning a fresh iterator of record batches (raw column names).
    source_uri: where the rows came from, recorded in the manifest.
    size_bytes: input size for progress bars, when known.
    """

    name: str
    batches: Callable[[], Iterator[pa.RecordBatch]]
    source_uri: str
    synthetic: bool = False
    contract: str | None = None
    size_bytes: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def contract_name(self) -> str:
        return self.contract or self.name
