"""Build API clients from settings and turn input lists into lake datasets (`musicml ingest *-api`).

Input files: `spotify-api` a text file of track ids (one per line); `lastfm-api` a TSV of
artist<TAB>track; `musicbrainz-api` a text file of artist names. Blank lines and lines
starting with '#' are ignored. Credentials come only from the environment (settings).
"""

from __future__ import annotations

from pathlib import Path

from ml.settings import Settings
from ml.sources.api.http import HttpOptions
from ml.sources.base import SourceDataset, SourceError


def _lines(path: Path) -> list[str]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    out = [ln for ln in lines if ln and not ln.startswith("#")]
    if not out:
        raise SourceError(f"{path}: the file is empty (no ids or names)")
    return out


def _options(settings: Settings, **kw) -> HttpOptions:
    return HttpOptions(read_timeout=settings.http_timeout_s, cache_dir=settings.http_cache_dir, **kw)


def datasets_from_list(kind: str, path: Path, settings: Settings) -> list[SourceDataset]:
    if kind == "spotify":
        from ml.sources.api.spotify import SpotifyClient, spotify_tracks_dataset

        if not (settings.spotify_client_id and settings.spotify_client_secret):
            raise SourceError("spotify-api needs SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET in the environment")
        client = SpotifyClient(settings.spotify_client_id, settings.spotify_client_secret,
                               api_base=settings.spotify_api_base, accounts_base=settings.spotify_accounts_base,
                               options=_options(settings))
        return [spotify_tracks_dataset(client, _lines(path), audio_features=False)]
    if kind == "lastfm":
        from ml.sources.api.lastfm import LastfmClient, lastfm_track_tags_dataset

        if not settings.lastfm_api_key:
            raise SourceError("lastfm-api needs LASTFM_API_KEY in the environment")
        pairs = []
        for i, line in enumerate(_lines(path), 1):
            parts = line.split("\t")
            if len(parts) != 2:
                raise SourceError(f"{path}:{i}: expected 'artist<TAB>track', got {line!r}")
            pairs.append((parts[0], parts[1]))
        client = LastfmClient(settings.lastfm_api_key, base_url=settings.lastfm_api_base,
                              options=_options(settings, min_interval=0.2))
        return [lastfm_track_tags_dataset(client, pairs)]
    if kind == "musicbrainz":
        from ml.sources.api.musicbrainz import MusicBrainzClient, musicbrainz_artists_dataset

        if not settings.musicbrainz_user_agent:
            raise SourceError("musicbrainz-api needs MUSICBRAINZ_USER_AGENT, e.g. 'music-mlops/0.1 (you@example.org)'")
        client = MusicBrainzClient(settings.musicbrainz_user_agent, base_url=settings.musicbrainz_api_base,
                                   options=_options(settings, min_interval=1.0, user_agent=settings.musicbrainz_user_agent))
        return [musicbrainz_artists_dataset(client, _lines(path))]
    raise SourceError(f"unknown API source kind {kind!r}")
