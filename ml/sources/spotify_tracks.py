"""spotify-tracks: the Kaggle Spotify Tracks CSV (114k rows upstream, 114 genres).

Upstream quirks the contract handles: one row without artist/title (quarantined),
tracks listed under several genres (kept: unique key is (track_id, track_genre)),
`tempo == 0` rows (kept: 0 means unknown), `;`-joined artists (primary artist derived).
"""

from __future__ import annotations

from pathlib import Path

from ml.sources.base import SourceDataset
from ml.sources.files import iter_table_file, size_of

NAME = "spotify_tracks"


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
