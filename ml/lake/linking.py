"""Entity linking: normalized artist and track keys so sources join.

Spotify writes "Beyoncé", Last.fm "Beyonce", charts "Beyoncé feat. JAY-Z": all three must
land on one key. Keys are ASCII (accents folded with Unidecode), lower case, without
"feat." credits, a leading "the", punctuation or extra spaces. Track keys also drop
version suffixes ("- Remastered 2011", "(Live)", "(feat. X)") that do not change the song.
MusicBrainz IDs, where a lookup found one, are joined on the artist key.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pyarrow as pa
from unidecode import unidecode

_FEAT = re.compile(r"\s*[\(\[]?\s*\b(feat\.?|ft\.?|featuring|with)\s.*$")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_LEADING_THE = re.compile(r"^the\s+")
_VERSION_PAREN = re.compile(
    r"\s*[\(\[][^)\]]*\b(remaster(ed)?|live|version|edit|mix|remix|mono|stereo|demo|acoustic|"
    r"feat\.?|ft\.?|with|from|bonus|deluxe|radio)\b[^)\]]*[\)\]]"
)
_VERSION_DASH = re.compile(
    r"\s+-\s+.*\b(remaster(ed)?|live|version|edit|mix|remix|mono|stereo|demo|acoustic|single|"
    r"from|bonus|deluxe|radio|recorded)\b.*$"
)


def _fold(text: str) -> str:
    return unidecode(text).lower().replace("&", " and ")


@lru_cache(maxsize=200_000)
def artist_key(name: str | None) -> str | None:
    """'The Beatles' -> 'beatles'; 'Beyoncé feat. JAY-Z' -> 'beyonce'."""
    if name is None:
        return None
    s = _fold(name.strip())
    s = _FEAT.sub("", s)
    s = _LEADING_THE.sub("", s.strip())
    s = _NON_ALNUM.sub(" ", s).strip()
    return s or None


@lru_cache(maxsize=500_000)
def track_key(title: str | None) -> str | None:
    """'Hey Jude - Remastered 2015' -> 'hey jude'; 'Song (feat. X) [Live]' -> 'song'."""
    if title is None:
        return None
    s = _fold(title.strip())
    for _ in range(3):  # nested suffixes: "Song (Live) - Remastered"
        s2 = _VERSION_DASH.sub("", _VERSION_PAREN.sub("", s))
        if s2 == s:
            break
        s = s2
    s = _FEAT.sub("", s)
    s = _NON_ALNUM.sub(" ", s).strip()
    return s or None


def _arrow_udf(fn):
    def udf(values: pa.Array) -> pa.Array:
        return pa.array([fn(v) for v in values.to_pylist()], type=pa.string())

    return udf


def register_duckdb_functions(con) -> None:
    """Expose the key functions to DuckDB SQL (contracts derive key columns with them)."""
    for name, fn in (("musicml_artist_key", artist_key), ("musicml_track_key", track_key)):
        try:
            con.create_function(name, _arrow_udf(fn), ["VARCHAR"], "VARCHAR", type="arrow", null_handling="special")
        except Exception as exc:  # already registered on this connection
            if "already exists" not in str(exc):
                raise
