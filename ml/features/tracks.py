"""Track tables from the lake, shaped for models.

`load_tracks` reads the real `spotify_tracks` if the lake has it, else its synthetic twin.
`dedupe_tracks` turns (track, genre) listings into one row per track with a label set,
which is what leakage-safe splits need: a track must never sit on both sides.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from ml.lake.coverage import pick

AUDIO_COLUMNS = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo", "time_signature",
]
TARGET_AUDIO_FEATURES = [
    "energy", "valence", "danceability", "acousticness", "instrumentalness", "liveness", "speechiness", "tempo",
]


def load_tracks(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    name = pick(con, "spotify_tracks")
    df = con.execute(f'SELECT * FROM "{name}" ORDER BY track_id, track_genre').df()  # stable row order
    df.attrs["dataset"] = name
    return df


def dedupe_tracks(df: pd.DataFrame) -> pd.DataFrame:
    """One row per track_id; `genres` holds every genre the track is listed under."""
    genres = df.groupby("track_id", sort=False)["track_genre"].agg(lambda s: sorted(set(s)))
    first = df.drop_duplicates("track_id", keep="first").set_index("track_id")
    first["genres"] = genres
    out = first.reset_index()
    out.attrs.update(df.attrs)
    return out


def load_artist_tags(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Last.fm tag assignments per artist key: artist_key, tag, n (number of users who applied it)."""
    tagged, artists, tags = (pick(con, n) for n in ("lastfm_user_taggedartists", "lastfm_artists", "lastfm_tags"))
    return con.execute(
        f"""
        SELECT a.artist_key, lower(t.tag) AS tag, count(*) AS n
        FROM "{tagged}" ut JOIN "{artists}" a USING (artist_id) JOIN "{tags}" t USING (tag_id)
        WHERE a.artist_key IS NOT NULL
        GROUP BY ALL
        """
    ).df()


def add_derived_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Give raw source-schema rows the key columns the lake derives (for batch/online predict)."""
    from ml.lake.linking import artist_key, track_key

    df = df.copy()
    if "primary_artist" not in df.columns and "artists" in df.columns:
        df["primary_artist"] = df["artists"].astype("string").str.split(";").str[0].str.strip()
    if "artist_key" not in df.columns and "primary_artist" in df.columns:
        df["artist_key"] = [artist_key(a) if isinstance(a, str) else None for a in df["primary_artist"]]
    if "track_key" not in df.columns and "track_name" in df.columns:
        df["track_key"] = [track_key(t) if isinstance(t, str) else None for t in df["track_name"]]
    if "explicit" in df.columns and df["explicit"].dtype == object:
        df["explicit"] = df["explicit"].astype(str).str.lower().isin(["true", "1", "yes"])
    return df
