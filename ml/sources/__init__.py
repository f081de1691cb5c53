"""Sources: small modules that turn files or APIs into `SourceDataset` streams.

`SOURCES` maps the names the CLI and the DAGs use to a loader and a help line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml.settings import Settings
from ml.sources.base import SourceDataset, SourceError


@dataclass(frozen=True)
class SourceSpec:
    name: str
    help: str
    load: Callable[..., list[SourceDataset]]  # (path, settings, encoding=None)
    default_path: Callable[[Settings], Path | None] = lambda s: None
    kind: str = "file"


def _synthetic(path: Path, settings: Settings, encoding: str | None = None) -> list[SourceDataset]:
    from ml.sources import lastfm_hetrec, spotify_charts, spotify_tracks

    marker = path / "SYNTHETIC.json"
    if not marker.exists():
        raise SourceError(f"{path}: no synthetic data here (missing SYNTHETIC.json); run `musicml generate` first")
    out: list[SourceDataset] = []
    kw = {"synthetic": True, "prefix": "synthetic_"}
    if (path / "spotify_tracks").exists():
        out += spotify_tracks.datasets(path / "spotify_tracks", **kw)
    if (path / "spotify_charts").exists():
        out += spotify_charts.datasets(path / "spotify_charts", **kw)
    if (path / "lastfm_hetrec").exists():
        out += lastfm_hetrec.datasets(path / "lastfm_hetrec", **kw)
    return out


def _api(kind: str) -> Callable[[Path, Settings], list[SourceDataset]]:
    def load(path: Path, settings: Settings, encoding: str | None = None) -> list[SourceDataset]:
        from ml.sources.api import connect

        return connect.datasets_from_list(kind, path, settings)

    return load


def _shared(*parts: str) -> Callable[[Settings], Path]:
    return lambda s: s.shared_data_dir.joinpath(*parts)


def _file_source(module: str) -> Callable[[Path, Settings], list[SourceDataset]]:
    def load(path: Path, settings: Settings, encoding: str | None = None) -> list[SourceDataset]:
        import importlib

        return importlib.import_module(f"ml.sources.{module}").datasets(path, encoding=encoding)

    return load


SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in (
        SourceSpec("spotify-tracks", "Kaggle Spotify Tracks CSV (or Parquet) -> spotify_tracks",
                   _file_source("spotify_tracks"), _shared("spotify_tracks", "dataset_sample_10k.csv")),
        SourceSpec("spotify-charts", "Kaggle Spotify Charts CSV, out-of-core, by year -> spotify_charts",
                   _file_source("spotify_charts")),
        SourceSpec("spotify-2023", "Most-streamed-2023 CSV (latin-1) -> spotify_2023",
                   _file_source("spotify_2023"), _shared("spotify_2023", "spotify-2023.csv")),
        SourceSpec("lastfm-hetrec", "hetrec2011-lastfm-2k folder -> lastfm_user_artists, lastfm_artists, ...",
                   _file_source("lastfm_hetrec"), _shared("lastfm_hetrec2011_2k")),
        SourceSpec("gtzan-features", "GTZAN MFCC/spectral features CSV -> gtzan_features",
                   _file_source("gtzan"), _shared("gtzan", "features_30_sec.csv")),
        SourceSpec("synthetic", "Output folder of `musicml generate` -> synthetic_* datasets (marked synthetic)",
                   _synthetic, lambda s: s.work_dir / "synthetic"),
        SourceSpec("spotify-api", "Spotify Web API: a text file of track ids -> spotify_api_tracks",
                   _api("spotify"), kind="api"),
        SourceSpec("lastfm-api", "Last.fm API: a TSV of artist<TAB>track -> lastfm_api_track_tags",
                   _api("lastfm"), kind="api"),
        SourceSpec("musicbrainz-api", "MusicBrainz WS/2: a text file of artist names -> musicbrainz_artists",
                   _api("musicbrainz"), kind="api"),
    )
}


def load_source(name: str, path: Path | None, settings: Settings, encoding: str | None = None) -> list[SourceDataset]:
    """The datasets of source `name` at `path`; `encoding` overrides the source's own for text files."""
    if encoding:
        from ml.sources.files import check_encoding

        check_encoding(encoding)
    try:
        spec = SOURCES[name]
    except KeyError:
        raise SourceError(f"unknown source {name!r}; choose one of: {', '.join(SOURCES)}") from None
    path = path or spec.default_path(settings)
    if path is None:
        raise SourceError(f"source {name!r} needs a PATH")
    if not Path(path).exists():
        raise SourceError(f"{path}: no such file or folder")
    if spec.kind == "api" and encoding:
        raise SourceError(f"source {name!r} reads an API: --encoding does not apply")
    return spec.load(Path(path), settings, encoding=encoding)


__all__ = ["SOURCES", "SourceDataset", "SourceError", "SourceSpec", "load_source"]
