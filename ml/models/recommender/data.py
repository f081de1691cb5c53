"""Lake -> recommender inputs: Last.fm plays, artists, tag assignments, Spotify tracks.

`load(con)` returns a `TrainingData` whose frame is the play table (user_id, artist_id,
weight) and whose tables are artists, tagged, tags, tracks and friends; `pack` builds the
same bundle from frames (synthetic tests), and `side_tables` gives training every table,
empty where a lake has none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features.tracks import dedupe_tracks, load_tracks
from ml.lake.coverage import pick
from ml.models.base import TrainingData

TRACK_COLUMNS = [  # the columns the recommender itself uses (the frame keeps all source columns)
    "track_id", "track_name", "artists", "primary_artist", "artist_key", "popularity",
    "danceability", "energy", "loudness", "mode", "speechiness", "acousticness", "instrumentalness",
    "liveness", "valence", "tempo", "genres",
]


def load(con) -> TrainingData:
    plays_view = pick(con, "lastfm_user_artists")
    plays = con.execute(
        f'SELECT user_id, artist_id, sum(weight) AS weight FROM "{plays_view}" GROUP BY ALL ORDER BY user_id, artist_id'
    ).df()
    artists = con.execute(f'SELECT artist_id, name, artist_key FROM "{pick(con, "lastfm_artists")}"').df()
    try:
        tagged = con.execute(
            f'SELECT DISTINCT user_id, artist_id, tag_id FROM "{pick(con, "lastfm_user_taggedartists")}"'
        ).df()
        tags = con.execute(f'SELECT tag_id, lower(tag) AS tag FROM "{pick(con, "lastfm_tags")}"').df()
    except LookupError:
        tagged = pd.DataFrame({"user_id": [], "artist_id": [], "tag_id": []}, dtype="int64")
        tags = pd.DataFrame({"tag_id": pd.Series([], dtype="int64"), "tag": pd.Series([], dtype="object")})
    try:
        friends = con.execute(f'SELECT user_id, friend_id FROM "{pick(con, "lastfm_user_friends")}"').df()
    except LookupError:
        friends = pd.DataFrame({"user_id": [], "friend_id": []}, dtype="int64")
    try:
        tracks = dedupe_tracks(load_tracks(con)).dropna(subset=["track_id"])  # every source column: optional
        # genre / mood models (config "embedding_models") read their own inputs from these rows
    except LookupError:
        tracks = pd.DataFrame({c: [] for c in TRACK_COLUMNS})
    tracks = tracks.assign(genres=[[str(x) for x in g] if isinstance(g, list | tuple | np.ndarray) else []
                                   for g in tracks["genres"]])
    return pack(plays, artists=artists, tagged=tagged, tags=tags, tracks=tracks, friends=friends, dataset=plays_view)


def pack(plays: pd.DataFrame, *, artists: pd.DataFrame, tagged: pd.DataFrame | None = None,
         tags: pd.DataFrame | None = None, tracks: pd.DataFrame | None = None, friends: pd.DataFrame | None = None,
         dataset: str | None = None) -> TrainingData:
    """The bundle `train` expects: plays as the frame, the other tables by name (also for synthetic tests)."""
    plays = plays[["user_id", "artist_id", "weight"]].reset_index(drop=True)
    tables = {"artists": artists, "tagged": tagged, "tags": tags, "tracks": tracks, "friends": friends}
    return TrainingData(plays, {name: _table(t) for name, t in tables.items() if t is not None}, dataset=dataset)


def _table(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    if "genres" in df.columns:
        df = df.assign(genres=[list(g) if g is not None else [] for g in df["genres"]])
    return df


def side_tables(data: TrainingData) -> dict[str, pd.DataFrame]:
    """plays (user_id, artist_id, weight) and every side table; an absent one is an empty frame of its schema."""
    plays = pd.DataFrame({c: data.frame[c].to_numpy() for c in ("user_id", "artist_id", "weight")})
    out = {"plays": plays}
    for name in ("artists", "tagged", "tags", "tracks", "friends"):
        t = data.table(name)
        out[name] = t if t is not None else pd.DataFrame()
    if out["artists"].empty:
        out["artists"] = pd.DataFrame({"artist_id": plays["artist_id"].unique(), "name": None, "artist_key": None})
    if out["tagged"].empty:
        out["tagged"] = pd.DataFrame({"user_id": [], "artist_id": [], "tag_id": []}, dtype="int64")
    if out["tags"].empty:
        out["tags"] = pd.DataFrame({"tag_id": pd.Series([], dtype="int64"), "tag": pd.Series([], dtype="object")})
    if out["friends"].empty:
        out["friends"] = pd.DataFrame({"user_id": [], "friend_id": []}, dtype="int64")
    if out["tracks"].empty:
        out["tracks"] = pd.DataFrame({c: [] for c in TRACK_COLUMNS})
    return out
