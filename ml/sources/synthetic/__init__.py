"""Seeded synthetic twins of the raw datasets, written as Parquet (zstd) in the raw schemas.

    generate(out_dir, seed=42, tracks=20_000, chart_rows=200_000, ...)

writes

    out_dir/
      SYNTHETIC.json                      marker: seed, params, rows per dataset
      spotify_tracks/part-00000.parquet   Kaggle Spotify Tracks columns ("Unnamed: 0" ... track_genre)
      spotify_charts/part-00000.parquet   Kaggle Spotify Charts columns (title, rank, date, ... streams)
      lastfm_hetrec/{user_artists,artists,tags,user_taggedartists,user_friends}.parquet

so the ingest code reads real and synthetic data alike. The data carries learnable signal
(genre-dependent audio features, artist popularity, chart life cycles with cross-market
spread and weekly seasonality, taste-driven plays, profile-driven mood tags) and a few
upstream quirks for the quarantine (a nameless track, tempo == 0 rows, pre-2005 tag years).

Determinism: every dataset, and every simulated chart day, draws from its own child of
`SeedSequence(seed)`; the same seed and parameters give byte-identical files, and
`chunk_rows` only decides how rows are split into part files, never their content.
Charts stream day by day in parts of `chunk_rows` rows, so 26M rows fit in bounded memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ml.sources.synthetic import vocab
from ml.sources.synthetic.catalog import TRACK_COLUMNS, build_catalog, write_tracks
from ml.sources.synthetic.charts import CHART_COLUMNS, region_names, write_charts
from ml.sources.synthetic.lastfm import DATASET_OF, SCHEMAS, write_lastfm

GENERATOR = "ml.sources.synthetic"
FORMAT_VERSION = 1
MARKER = "SYNTHETIC.json"

# lake dataset name -> path under out_dir (a folder of part files or a single file)
LAYOUT = {
    "spotify_tracks": "spotify_tracks",
    "spotify_charts": "spotify_charts",
    **{name: f"lastfm_hetrec/{stem}.parquet" for stem, name in DATASET_OF.items()},
}
LASTFM_COLUMNS = {DATASET_OF[stem]: tuple(s.names) for stem, s in SCHEMAS.items()}

Progress = Callable[[str, int, int], None]

__all__ = [
    "CHART_COLUMNS", "GENERATOR", "LASTFM_COLUMNS", "LAYOUT", "MARKER", "TRACK_COLUMNS",
    "generate", "read_marker", "region_names", "vocab",
]


def generate(
    out_dir: Path | str,
    *,
    seed: int = 42,
    tracks: int = 20_000,
    artists: int | None = None,
    users: int = 1_000,
    chart_rows: int = 200_000,
    start_date: str = "2017-01-01",
    regions: int = 20,
    chunk_rows: int = 1_000_000,
    progress: Progress | None = None,
) -> dict:
    """Write the synthetic datasets under `out_dir`; return the SYNTHETIC.json content.

    tracks: rows of spotify_tracks (about 2.5 % re-list a track under a second genre).
    artists: defaults to tracks // 4 (at least one per genre).
    chart_rows: exact number of chart rows; each simulated day has 250 rows per region
        (top200 + viral50), so the date span is about chart_rows / (250 * regions) days
        (the last day may be cut short). The real Kaggle file: ~70 regions, 26M rows.
    regions: how many chart regions, "Global" first, then markets by size (max 70).
    chunk_rows: rows per Parquet part file for spotify_tracks and spotify_charts.
    progress: called as progress(dataset, rows_done, rows_total).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError("seed must be a non-negative int")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    if users < 1:
        raise ValueError("users must be >= 1")
    if chart_rows < 0:
        raise ValueError("chart_rows must be >= 0")
    region_names(regions)  # validates
    start = str(start_date)[:10]
    n_artists = artists if artists is not None else max(len(vocab.GENRES), tracks // 4)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("spotify_tracks", "spotify_charts"):  # stale parts of an earlier, larger run
        for old in (out / sub).glob("part-*.parquet") if (out / sub).is_dir() else ():
            old.unlink()

    params = {
        "tracks": tracks, "artists": n_artists, "users": users, "chart_rows": chart_rows,
        "start_date": start, "regions": regions, "chunk_rows": chunk_rows,
    }
    cat = build_catalog(seed=seed, tracks=tracks, artists=n_artists)
    track_parts = write_tracks(cat, out, seed=seed, chunk_rows=chunk_rows, progress=progress)
    chart_parts = write_charts(cat, out, seed=seed, chart_rows=chart_rows, regions=regions, start_date=start,
                               chunk_rows=chunk_rows, progress=progress)
    lastfm_rows = write_lastfm(cat, out, seed=seed, users=users, progress=progress)

    info = {
        "synthetic": True,
        "generator": GENERATOR,
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "params": params,
        "files": {"spotify_tracks": tracks, "spotify_charts": chart_rows, **lastfm_rows},
        "paths": dict(LAYOUT),
        "parts": {"spotify_tracks": track_parts, "spotify_charts": chart_parts},
        "regions": region_names(regions),
        "format": {"type": "parquet", "compression": "zstd"},
    }
    (out / MARKER).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return info


def read_marker(out_dir: Path | str) -> dict | None:
    """The SYNTHETIC.json of a generated folder, or None when the folder has none."""
    path = Path(out_dir) / MARKER
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
