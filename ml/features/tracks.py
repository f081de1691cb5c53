"""Track tables from the lake, shaped for models, and the track-level facts models share.

`load_tracks` reads the real `spotify_tracks` if the lake has it, else its synthetic twin.
`dedupe_tracks` turns (track, genre) listings into one row per track with a label set,
which is what leakage-safe splits need: a track must never sit on both sides.
`explicit_flag` is the one reading of the `explicit` column (bool, 0/1 or text), and
`keyword_flags` the one matcher of title / album keyword vocabularies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ml.lake.coverage import pick

TAXONOMY_PATH = Path(__file__).resolve().parent / "data" / "genre_taxonomy.csv"  # see data/README.md
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


def load_taxonomy() -> dict[str, str]:
    """Spotify genre -> super-genre (15 of them) from the committed taxonomy CSV."""
    t = pd.read_csv(TAXONOMY_PATH)
    return dict(zip(t["genre"], t["super_genre"], strict=True))


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
        flag = explicit_flag(df["explicit"])
        df["explicit"] = pd.array([None if np.isnan(v) else bool(v) for v in flag], dtype="boolean")
    return df


_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


def explicit_flag(values) -> np.ndarray:
    """The `explicit` column as float: 1.0 / 0.0, NaN when unknown.

    Lake rows carry a BOOLEAN; request and CSV rows may carry 0/1 numbers or text
    ("True", "false", "1", "yes"). Anything else (None, "", "maybe") is unknown, which every
    model treats as a missing input rather than as "not explicit".
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if s.dtype == bool:
        return s.to_numpy(float)
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    text = s.astype("string").str.strip().str.lower()
    return np.array([1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan
                     for v in text.fillna("").tolist()], dtype=float)


# ------------------------------------------------------------------------ keyword flags
# Cheap metadata signals from titles and album names (never the audio). Each model keeps the
# vocabulary it was fitted and measured with: the popularity model's flags describe the kind
# of release (remaster, soundtrack ...), the audio-feature model's also how a track sounds
# (piano, speech, anthem ...), and shared names match slightly different phrasings. Merging
# them would change both models' inputs, so that is a retrain to measure, not a refactor.

POPULARITY_KEYWORDS: dict[str, str] = {
    "remaster": r"remaster",
    "live": r"\blive\b|en vivo|ao vivo|\bunplugged\b",
    "remix": r"remix|\bmix\b|\brmx\b|\bbootleg\b",
    "feat": r"\bfeat\.?|\bft\.|\bwith\b|\bx\b",
    "version": r"version|versión|\bedit\b|\bradio\b",
    "acoustic": r"acoustic|acústic|\bunplugged\b",
    "instrumental": r"instrumental|karaoke|\bbeat\b",
    "christmas": r"christmas|navidad|\bxmas\b|jingle|noel|weihnacht",
    "classical": r"\bop\.|\bno\.\s?\d|\bbwv\b|\bk\.\s?\d|symphon|sonat|concert|allegro|andante|adagio|"
                 r"prelude|nocturne|\bmov(emen)?t|\bact\b|\baria\b",
    "soundtrack": r"\bfrom\b|soundtrack|\bost\b|\btheme\b|\bmotion picture\b",
    "sleep": r"sleep|lullab|relax|rain|meditat|\bspa\b|noise|calm|study|focus",
    "kids": r"\bkids?\b|children|\bbaby\b|nursery|\bdisney\b",
}
AUDIO_KEYWORDS: dict[str, str] = {
    "live": r"\blive\b|en vivo|ao vivo|\bconcert|unplugged|\bsession",
    "remix": r"remix|\bmix\b|\bdj\b|\bbootleg|\bextended",
    "acoustic": r"acoustic|ac[uú]stic|unplugged",
    "instrumental": r"instrumental|karaoke|\bbackingtrack|\bbeat\b|\bbeats\b",
    "classical": r"\bop\.|\bno\.|\bbwv\b|\bk\.\s?\d|symphon|concerto|sonata|prelude|nocturne|etude|étude|"
                 r"allegro|adagio|andante|\bsuite\b|orchestra|quartet|\bmovement\b",
    "piano": r"piano|guitar|violin|cello|\bharp\b",
    "sleep": r"sleep|rain|noise|relax|meditat|\bspa\b|lullab|ambient|calm|\bstudy\b|focus|nature|ocean|waves",
    "remaster": r"remaster",
    "version": r"\bversion\b|\bedit\b|radio",
    "feat": r"\bfeat\b|\bfeat\.|\bft\.|\bwith\b|\bcon\b",
    "christmas": r"christmas|navidad|\bxmas\b|noel|weihnacht",
    "kids": r"\bkids?\b|children|nursery|baby|\bniños\b",
    "speech": r"interlude|\bintro\b|\boutro\b|\bskit\b|podcast|comedy|\bstand-?up\b|poem|reading|chapter|kapitel",
    "anthem": r"\bhymn\b|\bpraise\b|worship|\bgospel\b",
}
_COMPILED: dict[str, re.Pattern] = {}


def keyword_flags(texts: Iterable[str], vocabulary: Mapping[str, str]) -> np.ndarray:
    """(n texts, n keywords) float32 0/1: does each (already lower-cased) text match each keyword regex."""
    patterns = []
    for regex in vocabulary.values():
        if regex not in _COMPILED:
            _COMPILED[regex] = re.compile(regex)
        patterns.append(_COMPILED[regex])
    texts = list(texts)
    out = np.zeros((len(texts), len(patterns)), dtype=np.float32)
    for i, text in enumerate(texts):
        for j, pattern in enumerate(patterns):
            if pattern.search(text):
                out[i, j] = 1.0
    return out
