"""Inputs and targets of the audio-feature model: the fitted input encoder and the target scale.

`FeatureBuilder` turns source-schema rows into the net's four input blocks: the MiniLM
embedding of "artists - title" (`ml.features.text.embed_cached`), a genre multi-hot, Last.fm
tag weights and a metadata block (numeric inputs with presence flags, title/album keyword
flags from `ml.features.tracks.AUDIO_KEYWORDS`, n artists, title length, has-genre/tags).
Targets are on the model scale [0, 1] (tempo / 250).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ml.features.text import embed_cached
from ml.features.tracks import AUDIO_KEYWORDS, TARGET_AUDIO_FEATURES, explicit_flag, keyword_flags

FEATURES: list[str] = list(TARGET_AUDIO_FEATURES)
UNIT_FEATURES = [f for f in FEATURES if f != "tempo"]
TEMPO_SCALE = 250.0
TAG_COLUMN = "lastfm_tags"  # "tag=n|tag=n" per row, added by `load` for artists Last.fm knows
# optional numeric metadata: used when the training frame has them (the Kaggle sample has only the first two)
NUMERIC_CANDIDATES = ("duration_ms", "explicit", "year", "track_number")
INPUT_COLUMNS = ("artists", "track_name", "album_name", "track_genre", "duration_ms", "explicit", "artist_key")


def track_text(artists, title) -> str:
    a = artists.replace(";", ", ") if isinstance(artists, str) else ""
    t = title if isinstance(title, str) else ""
    return f"{a} - {t}"


def parse_tags(value) -> dict[str, float]:
    if not isinstance(value, str) or not value:
        return {}
    out = {}
    for part in value.split("|"):
        tag, _, n = part.rpartition("=")
        if tag:
            try:
                out[tag] = float(n)
            except ValueError:
                continue
    return out


def genre_list(row_genres, row_genre) -> list[str]:
    if isinstance(row_genres, list | tuple | np.ndarray):
        return [g for g in row_genres if isinstance(g, str)]
    return [row_genre] if isinstance(row_genre, str) and row_genre else []


def _year_of(df: pd.DataFrame) -> pd.Series | None:
    if "year" in df.columns:
        return pd.to_numeric(df["year"], errors="coerce")
    for c in ("release_date", "album_release_date", "released_year"):
        if c in df.columns:
            s = df[c]
            if c == "released_year":
                return pd.to_numeric(s, errors="coerce")
            return pd.to_numeric(s.astype("string").str[:4], errors="coerce")
    return None


def numeric_input(df: pd.DataFrame, name: str) -> np.ndarray:
    """Raw values of an optional numeric input (NaN where absent)."""
    if name == "year":
        y = _year_of(df)
        return np.full(len(df), np.nan) if y is None else y.to_numpy(float)
    if name not in df.columns:
        return np.full(len(df), np.nan)
    s = df[name]
    if name == "explicit":
        return explicit_flag(s)
    v = pd.to_numeric(s, errors="coerce").to_numpy(float)
    if name == "duration_ms":
        v = np.where(v > 0, np.log(np.maximum(v, 1.0) / 1000.0), np.nan)  # log seconds
    return v


class FeatureBuilder:
    """Fitted, picklable input encoder: vocabularies, scalers, tag lookup."""

    def __init__(self, genres: list[str], tags: list[str], numeric: list[str], num_mean: np.ndarray,
                 num_std: np.ndarray, tag_lookup: dict[str, dict[str, float]]):
        self.genres, self.tags, self.numeric = genres, tags, numeric
        self.genre_index = {g: i for i, g in enumerate(genres)}
        self.tag_index = {t: i for i, t in enumerate(tags)}
        self.num_mean, self.num_std = num_mean, num_std
        self.tag_lookup = tag_lookup
        self.keywords = list(AUDIO_KEYWORDS)

    @classmethod
    def fit(cls, train: pd.DataFrame, all_rows: pd.DataFrame, n_tags: int, min_tag_artists: int = 3) -> FeatureBuilder:
        genres = sorted({g for gs in train["genres"] for g in gs})
        numeric = [c for c in NUMERIC_CANDIDATES if np.isfinite(numeric_input(train, c)).mean() > 0.05]
        raw = np.column_stack([numeric_input(train, c) for c in numeric]) if numeric else np.zeros((len(train), 0))
        mean = np.nanmean(raw, axis=0) if numeric else np.zeros(0)
        std = np.nanstd(raw, axis=0) + 1e-6 if numeric else np.ones(0)
        # tag lookup from every row's metadata (tags describe artists, not targets): artist_key -> {tag: n}
        lookup: dict[str, dict[str, float]] = {}
        if TAG_COLUMN in all_rows.columns:
            for key, value in zip(all_rows["artist_key"], all_rows[TAG_COLUMN], strict=True):
                if isinstance(key, str) and key not in lookup:
                    parsed = parse_tags(value)
                    if parsed:
                        lookup[key] = parsed
        # vocabulary: the most widespread tags among artists in the training rows
        train_keys = set(train["artist_key"].dropna())
        counts: dict[str, int] = {}
        for key in train_keys:
            for t in lookup.get(key, {}):
                counts[t] = counts.get(t, 0) + 1
        tags = [t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_tag_artists][:n_tags]
        keep = set(tags)
        lookup = {k: {t: n for t, n in v.items() if t in keep} for k, v in lookup.items()}
        lookup = {k: v for k, v in lookup.items() if v}
        return cls(genres, tags, numeric, mean, std, lookup)

    @property
    def meta_dim(self) -> int:
        return 2 * len(self.numeric) + len(self.keywords) + 4  # + n_artists, title length, has_genre, has_tags

    def _col(self, df: pd.DataFrame, name: str) -> pd.Series:
        return df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)

    def _genre_block(self, df: pd.DataFrame) -> np.ndarray:
        """Row-normalised multi-hot over the genre vocabulary (`genres` list, else the listing's `track_genre`)."""
        G = np.zeros((len(df), len(self.genres)), np.float32)
        for i, (gs, g) in enumerate(zip(self._col(df, "genres"), self._col(df, "track_genre"), strict=True)):
            for name in genre_list(gs, g):
                j = self.genre_index.get(name)
                if j is not None:
                    G[i, j] = 1.0
        rows = G.sum(1) > 0
        G[rows] /= G[rows].sum(1, keepdims=True)
        return G

    def _tag_block(self, df: pd.DataFrame) -> np.ndarray:
        """Tag weights (log1p users, normalised): the row's own `lastfm_tags` if given, else the artist lookup."""
        T = np.zeros((len(df), len(self.tags)), np.float32)
        for i, (key, value) in enumerate(zip(self._col(df, "artist_key"), self._col(df, TAG_COLUMN), strict=True)):
            tags = parse_tags(value)
            if not tags and isinstance(key, str):
                tags = self.tag_lookup.get(key, {})
            for t, c in tags.items():
                j = self.tag_index.get(t)
                if j is not None:
                    T[i, j] = math.log1p(c)
        rows = T.sum(1) > 0
        T[rows] /= T[rows].sum(1, keepdims=True)
        return T

    def _meta_block(self, df: pd.DataFrame, has_genre=None, has_tags=None) -> np.ndarray:
        has_genre = self._genre_block(df).sum(1) > 0 if has_genre is None else has_genre
        has_tags = self._tag_block(df).sum(1) > 0 if has_tags is None else has_tags
        cols = []
        for j, c in enumerate(self.numeric):
            v = numeric_input(df, c)
            ok = np.isfinite(v)
            cols.append(np.where(ok, (v - self.num_mean[j]) / self.num_std[j], 0.0))
            cols.append(ok.astype(float))
        title = self._col(df, "track_name").astype("string").fillna("").str.lower()
        album = self._col(df, "album_name").astype("string").fillna("").str.lower()
        text_meta = (title + " | " + album).tolist()
        flags = keyword_flags(text_meta, {k: AUDIO_KEYWORDS[k] for k in self.keywords})
        cols.extend(flags[:, j].astype(float) for j in range(flags.shape[1]))
        artists = self._col(df, "artists").astype("string").fillna("")
        cols.append(np.log1p(artists.str.count(";").to_numpy(float)))
        cols.append(np.log1p(title.str.len().to_numpy(float)) - 3.0)
        cols.append(np.asarray(has_genre, float))
        cols.append(np.asarray(has_tags, float))
        return np.column_stack(cols).astype(np.float32)

    def completeness(self, df: pd.DataFrame, has_genre=None, has_tags=None) -> np.ndarray:
        """Share of the optional inputs present per row: genre, Last.fm tags, album, and each numeric input."""
        has_genre = self._genre_block(df).sum(1) > 0 if has_genre is None else has_genre
        has_tags = self._tag_block(df).sum(1) > 0 if has_tags is None else has_tags
        album = self._col(df, "album_name").astype("string").fillna("").str.len().to_numpy() > 0
        present = [np.isfinite(numeric_input(df, c)) for c in self.numeric]
        return np.column_stack([has_genre, has_tags, album, *present]).astype(float).mean(1)

    def transform(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        text = embed_cached([track_text(a, t) for a, t in zip(df["artists"], df["track_name"], strict=True)])
        G, T = self._genre_block(df), self._tag_block(df)
        has_genre, has_tags = G.sum(1) > 0, T.sum(1) > 0
        return {"text": text, "genre": G, "tag": T, "meta": self._meta_block(df, has_genre, has_tags),
                "completeness": self.completeness(df, has_genre, has_tags)}

    def meta_index(self) -> dict[str, list[int]]:
        """Columns of the meta block per optional input (value, present-flag), for modality dropout."""
        out = {c: [2 * j, 2 * j + 1] for j, c in enumerate(self.numeric)}
        base = 2 * len(self.numeric) + len(self.keywords) + 2
        out["has_genre"], out["has_tags"] = [base], [base + 1]
        return out


def to_model_scale(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, np.float32).copy()
    y[:, FEATURES.index("tempo")] /= TEMPO_SCALE
    return np.clip(y, 0.0, 1.0)


def from_model_scale(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, float).copy()
    p[..., FEATURES.index("tempo")] *= TEMPO_SCALE
    return p
