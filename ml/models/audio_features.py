"""Audio Feature Predictor: Spotify-style audio features from metadata alone.

Predicts energy, valence, danceability, acousticness, instrumentalness, liveness,
speechiness and tempo for a track from what a catalogue knows before anyone analyses the
audio: artist and title text, genre(s), Last.fm artist tags, duration, explicit flag (and
year / track number where a source has them). It never reads popularity, play counts or
any of the other audio features.

Model: a small PyTorch multi-task net
- text branch: the 384-d all-MiniLM-L6-v2 embedding of "artists - title" (`embed_texts`)
- genre branch: mean-pooled learned genre embeddings (a row-normalised multi-hot times an
  embedding matrix, i.e. the mean of the embeddings of the track's genres)
- tag branch: the same over a top-N Last.fm tag vocabulary (weighted by log user counts),
  for artists Last.fm knows (~30 % of the 10k Spotify sample)
- metadata branch: log duration, explicit, title/album keywords ("live", "remix",
  "acoustic", "op.", ...), n artists, presence flags, and year / track number if present
- fusion MLP, one sigmoid head per feature (tempo as tempo/250), weighted multi-task MSE
  (energy/valence 1.0, danceability/tempo 1.2, acousticness/instrumentalness 1.5,
  liveness/speechiness 2.0), AdamW, cosine LR, gradient clipping, early stopping on a
  validation slice of the *training artists* (grouped), and "modality dropout" (genre,
  tags, duration ... hidden at random in training) so rows with missing inputs still work.

Split: tracks are deduplicated by track_id (multi-genre listings -> one row with a genre
set), then split by `artist_key` (grouped): no artist is on both sides. Rows with tempo == 0
(no audio analysis upstream; 14 in the sample) are dropped.

Output per row: `<feature>_pred` for the eight features (tempo in BPM), `<feature>_std`
(std of MC-dropout samples, tempo in BPM) and `confidence` in [0, 1], the mean of metadata
completeness (share of optional inputs present) and an MC-dropout agreement score.

Baseline: one HistGradientBoostingRegressor per feature on genre multi-hot + metadata
(duration, explicit), fitted on all training rows, scored on the same test rows under the
same metric keys. Metrics per feature: mse_, r2_, mae_, pearson_<feature>; tempo MSE/MAE are
in BPM (`mse_tempo` in BPM², `mae_tempo`) and `mse_tempo_scaled` is the MSE of tempo/250.
`score(model, eval_frame)` re-scores any version on the frozen test rows.

CPU: torch runs with one intra-op thread and the GBMs with one OpenMP thread. On the shared
2-core box two threads spin-wait against the other jobs: a training step of this small net
measured ~1.3 s with 2 threads vs ~60 ms with 1, and a 100-tree HGB 38 s vs 1.6 s.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from ml.evaluation.metrics import pearson_r
from ml.evaluation.splits import assert_disjoint, group_split
from ml.features.tracks import TARGET_AUDIO_FEATURES, add_derived_columns, dedupe_tracks, load_tracks
from ml.models.base import ModelSpec, TrackModel, TrainResult

FEATURES: list[str] = list(TARGET_AUDIO_FEATURES)
UNIT_FEATURES = [f for f in FEATURES if f != "tempo"]
TEMPO_SCALE = 250.0
# relative loss weights, as in the seed (rarer / skewed targets weigh more)
LOSS_WEIGHTS = {
    "energy": 1.0, "valence": 1.0, "danceability": 1.2, "tempo": 1.2,
    "acousticness": 1.5, "instrumentalness": 1.5, "liveness": 2.0, "speechiness": 2.0,
}
TAG_COLUMN = "lastfm_tags"  # "tag=n|tag=n" per row, added by `load` for artists Last.fm knows
# keyword flags over lower-cased "title | album": cheap metadata signals (not audio)
KEYWORDS: dict[str, str] = {
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
_KW_RE = {k: re.compile(v) for k, v in KEYWORDS.items()}
# optional numeric metadata: used when the training frame has them (the Kaggle sample has only the first two)
NUMERIC_CANDIDATES = ("duration_ms", "explicit", "year", "track_number")
INPUT_COLUMNS = ("artists", "track_name", "album_name", "track_genre", "duration_ms", "explicit", "artist_key")

DEFAULTS: dict[str, Any] = {
    "seed": 42,
    "test_size": 0.2,
    "val_size": 0.15,        # share of training *artists* held out for early stopping
    "max_rows": None,        # subsample deduplicated tracks (fast mode)
    "epochs": 80,
    "patience": 12,
    "batch_size": 128,
    "lr": 5e-4,
    "weight_decay": 0.05,
    "dropout": 0.4,
    "hidden": 256,
    "emb_dim": 32,
    "text_dim": 32,
    "text_dropout": 0.3,
    "n_tags": 300,           # Last.fm tag vocabulary size (most widespread tags)
    "modality_dropout": 0.15,
    "mc_samples": 16,
    "grad_clip": 1.0,
    "gbm_max_iter": 300,
    "torch_threads": 1,      # the net is tiny: 1 intra-op thread; 2 spin-wait badly on the shared 2-core box
}
FAST = {"max_rows": 1200, "epochs": 8, "patience": 4, "lr": 3e-3, "gbm_max_iter": 40, "mc_samples": 8}


# --------------------------------------------------------------------------- text


@contextmanager
def torch_threads(n: int):
    """Run torch ops with `n` intra-op threads (<= 2 on the shared box), then restore the caller's setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(n, 2)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


_EMB_MEMO: OrderedDict[str, np.ndarray] = OrderedDict()  # sha1(text) -> vector, same keys as the disk cache
_EMB_MEMO_MAX = 200_000  # ~300 MB at most; the 10k catalogue is ~15 MB
_DISK_LOADED: set[str] = set()


def track_text(artists, title) -> str:
    a = artists.replace(";", ", ") if isinstance(artists, str) else ""
    t = title if isinstance(title, str) else ""
    return f"{a} - {t}"


def _remember(keys, vecs) -> None:
    for k, v in zip(keys, vecs, strict=True):
        _EMB_MEMO[k] = v
    while len(_EMB_MEMO) > _EMB_MEMO_MAX:
        _EMB_MEMO.popitem(last=False)


def _embed(texts: list[str]) -> np.ndarray:
    """MiniLM embeddings (`ml.features.text`) behind an in-process memo.

    Big batches go through `embed_texts` (disk cache, batch encoding). For a handful of texts
    the first call of the process pulls the whole disk cache into memory once; after that a
    single-row predict is a dictionary lookup, or one direct encode (~10 ms) for a new text.
    """
    from ml.features import text as text_mod

    keys = [text_mod._key(t) for t in texts]
    todo = dict(sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in _EMB_MEMO}.items()))
    if todo and len(todo) <= 16:
        cache_dir = text_mod._cache_dir(None)
        if str(cache_dir) not in _DISK_LOADED:
            _DISK_LOADED.add(str(cache_dir))
            disk = text_mod._load_cache(cache_dir)
            _remember(list(disk), list(disk.values()))
            todo = {k: t for k, t in todo.items() if k not in _EMB_MEMO}
        if todo:
            vecs = text_mod._model().encode(list(todo.values()), normalize_embeddings=True, convert_to_numpy=True)
            _remember(list(todo), vecs.astype(np.float32))
    elif todo:
        _remember(list(todo), text_mod.embed_texts(list(todo.values())))
    if not texts:
        return np.zeros((0, text_mod.DIM), np.float32)
    return np.stack([_EMB_MEMO[k] for k in keys])


# --------------------------------------------------------------------------- features


def _parse_tags(value) -> dict[str, float]:
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


def _as_genre_list(row_genres, row_genre) -> list[str]:
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


def _numeric(df: pd.DataFrame, name: str) -> np.ndarray:
    """Raw values of an optional numeric input (NaN where absent)."""
    if name == "year":
        y = _year_of(df)
        return np.full(len(df), np.nan) if y is None else y.to_numpy(float)
    if name not in df.columns:
        return np.full(len(df), np.nan)
    s = df[name]
    if name == "explicit":
        if s.dtype == object:
            s = s.map(lambda v: np.nan if v is None or (isinstance(v, float) and np.isnan(v))
                      else float(str(v).lower() in {"true", "1", "yes"}))
        return pd.to_numeric(s, errors="coerce").to_numpy(float)
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
        self.keywords = list(KEYWORDS)

    @classmethod
    def fit(cls, train: pd.DataFrame, all_rows: pd.DataFrame, n_tags: int, min_tag_artists: int = 3) -> FeatureBuilder:
        genres = sorted({g for gs in train["genres"] for g in gs})
        numeric = [c for c in NUMERIC_CANDIDATES if np.isfinite(_numeric(train, c)).mean() > 0.05]
        raw = np.column_stack([_numeric(train, c) for c in numeric]) if numeric else np.zeros((len(train), 0))
        mean = np.nanmean(raw, axis=0) if numeric else np.zeros(0)
        std = np.nanstd(raw, axis=0) + 1e-6 if numeric else np.ones(0)
        # tag lookup from every row's metadata (tags describe artists, not targets): artist_key -> {tag: n}
        lookup: dict[str, dict[str, float]] = {}
        if TAG_COLUMN in all_rows.columns:
            for key, value in zip(all_rows["artist_key"], all_rows[TAG_COLUMN], strict=True):
                if isinstance(key, str) and key not in lookup:
                    parsed = _parse_tags(value)
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
            for name in _as_genre_list(gs, g):
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
            tags = _parse_tags(value)
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
        n = len(df)
        has_genre = self._genre_block(df).sum(1) > 0 if has_genre is None else has_genre
        has_tags = self._tag_block(df).sum(1) > 0 if has_tags is None else has_tags
        cols = []
        for j, c in enumerate(self.numeric):
            v = _numeric(df, c)
            ok = np.isfinite(v)
            cols.append(np.where(ok, (v - self.num_mean[j]) / self.num_std[j], 0.0))
            cols.append(ok.astype(float))
        title = self._col(df, "track_name").astype("string").fillna("").str.lower()
        album = self._col(df, "album_name").astype("string").fillna("").str.lower()
        text_meta = (title + " | " + album).to_numpy(dtype=object)
        for k in self.keywords:
            cols.append(np.fromiter((1.0 if _KW_RE[k].search(s) else 0.0 for s in text_meta), float, n))
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
        present = [np.isfinite(_numeric(df, c)) for c in self.numeric]
        return np.column_stack([has_genre, has_tags, album, *present]).astype(float).mean(1)

    def transform(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        text = _embed([track_text(a, t) for a, t in zip(df["artists"], df["track_name"], strict=True)])
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


# --------------------------------------------------------------------------- network


def _build_net(d_text: int, n_genre: int, n_tag: int, d_meta: int, hidden: int, emb_dim: int, dropout: float,
               text_dim: int = 128, text_dropout: float = 0.1):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class MCDropout(nn.Module):
        """Dropout; in MC mode (`mc` = T stacked copies of the batch) pass t uses one mask shared by all rows,
        so a row's MC samples do not depend on which other rows share its batch (single row == in batch)."""

        def __init__(self, p: float):
            super().__init__()
            self.p, self.mc, self.gen = p, 0, None

        def forward(self, x):
            if self.mc and self.p > 0:
                keep = torch.rand((self.mc, 1, x.shape[-1]), generator=self.gen) >= self.p
                return (x.reshape(self.mc, -1, x.shape[-1]) * keep / (1 - self.p)).reshape(x.shape)
            return F.dropout(x, self.p, self.training)

    class AudioNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.text = nn.Sequential(MCDropout(text_dropout), nn.Linear(d_text, text_dim), nn.GELU(),
                                      MCDropout(dropout))
            # a linear map of a row-normalised multi-hot = mean of the learned embeddings of its genres/tags
            self.genre = nn.Linear(max(n_genre, 1), emb_dim, bias=False)
            self.tag = nn.Linear(max(n_tag, 1), emb_dim, bias=False)
            self.meta = nn.Sequential(nn.Linear(d_meta, 32), nn.GELU())
            self.fusion = nn.Sequential(
                nn.LayerNorm(text_dim + 2 * emb_dim + 32),
                nn.Linear(text_dim + 2 * emb_dim + 32, hidden), nn.GELU(), MCDropout(dropout),
                nn.Linear(hidden, 128), nn.GELU(), MCDropout(dropout),
            )
            self.heads = nn.ModuleList(nn.Linear(128, 1) for _ in FEATURES)

        def forward(self, text, genre, tag, meta):
            h = torch.cat([self.text(text), self.genre(genre), self.tag(tag), self.meta(meta)], dim=1)
            z = self.fusion(h)
            return torch.sigmoid(torch.cat([head(z) for head in self.heads], dim=1))

        def mc_samples(self, parts, n_samples: int, seed: int = 0):
            """(n_samples, rows, 8) predictions under `n_samples` fixed dropout masks (seeded: reproducible)."""
            gen = torch.Generator().manual_seed(seed)
            drops = [m for m in self.modules() if isinstance(m, MCDropout)]
            for m in drops:
                m.mc, m.gen = n_samples, gen
            try:
                out = self(*[p.repeat(n_samples, 1) for p in parts])
            finally:
                for m in drops:
                    m.mc, m.gen = 0, None
            return out.reshape(n_samples, len(parts[0]), -1)

    return AudioNet()


def _pad(a: np.ndarray) -> np.ndarray:
    """Zero-width genre/tag blocks become one all-zero column (the net needs >= 1 input)."""
    return a if a.shape[1] else np.zeros((a.shape[0], 1), np.float32)


def _to_model_scale(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, np.float32).copy()
    y[:, FEATURES.index("tempo")] /= TEMPO_SCALE
    return np.clip(y, 0.0, 1.0)


def _from_model_scale(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, float).copy()
    p[..., FEATURES.index("tempo")] *= TEMPO_SCALE
    return p


# --------------------------------------------------------------------------- pyfunc model


class AudioFeatureModel(TrackModel):
    required_columns = ("artists", "track_name")

    def __init__(self, builder: FeatureBuilder, arch: dict, state: dict[str, np.ndarray], target_std: np.ndarray,
                 spread_ref: float, mc_samples: int):
        self.builder = builder
        self.arch = arch
        self.state = state  # numpy copy of the torch state_dict
        self.target_std = target_std  # per-feature std of the training targets (model scale)
        self.spread_ref = spread_ref  # median normalised MC spread on validation rows
        self.mc_samples = mc_samples
        self._net = None
        self._mutex = threading.Lock()

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_net"] = None
        d.pop("_mutex", None)
        return d

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._mutex = threading.Lock()

    def _lock(self):
        """MC mode is a flag on the dropout modules: serialise forward passes across threads."""
        return self._mutex

    def net(self):
        if self._net is None:
            import torch

            net = _build_net(**self.arch)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.state.items()})
            net.eval()
            self._net = net
        return self._net

    def _forward(self, X: dict[str, np.ndarray], mc: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic (dropout off) prediction and MC-dropout std, model scale, (n, 8) each."""
        import torch

        net = self.net()
        n = len(X["text"])
        means, stds = np.zeros((n, len(FEATURES))), np.zeros((n, len(FEATURES)))
        with self._lock(), torch_threads(1), torch.no_grad():
            net.eval()
            for s in range(0, n, chunk):
                parts = [torch.from_numpy(np.ascontiguousarray(_pad(X[k][s:s + chunk]), dtype=np.float32))
                         for k in ("text", "genre", "tag", "meta")]
                means[s:s + chunk] = net(*parts).numpy()
                if mc > 1:  # the same `mc` sub-networks for every row and call
                    stds[s:s + chunk] = net.mc_samples(parts, mc).std(0).numpy()
        return means, stds

    def confidence(self, completeness: np.ndarray, std_model_scale: np.ndarray) -> np.ndarray:
        spread = (std_model_scale / self.target_std).mean(1)
        agreement = np.exp(-spread / max(self.spread_ref, 1e-6) * math.log(2))  # 0.5 at the typical spread
        return np.clip(0.5 * completeness + 0.5 * agreement, 0.0, 1.0)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        index = df.index
        df = add_derived_columns(df.reset_index(drop=True))
        X = self.builder.transform(df)
        mean, std = self._forward(X, self.mc_samples)
        out = {}
        pred_bpm, std_bpm = _from_model_scale(mean), _from_model_scale(std)
        for j, f in enumerate(FEATURES):
            out[f"{f}_pred"] = pred_bpm[:, j]
        for j, f in enumerate(FEATURES):
            out[f"{f}_std"] = std_bpm[:, j]
        out["completeness"] = X["completeness"]
        out["confidence"] = self.confidence(X["completeness"], std)
        return pd.DataFrame(out, index=index)


# --------------------------------------------------------------------------- data


def load(con) -> pd.DataFrame:
    """Spotify track listings (source schema) + `lastfm_tags` ("tag=n|...") where Last.fm knows the artist."""
    from ml.features.tracks import load_artist_tags

    df = load_tracks(con)
    try:
        tags = load_artist_tags(con)
    except Exception:  # no Last.fm tables in this lake: train without the tag branch
        tags = pd.DataFrame(columns=["artist_key", "tag", "n"])
    tags = tags[tags["artist_key"].isin(set(df["artist_key"].dropna()))]
    tags = tags.assign(tag=tags["tag"].astype(str).str.replace("|", "/", regex=False).str.replace("=", "-"))
    tags = tags.sort_values(["artist_key", "n", "tag"], ascending=[True, False, True]).groupby("artist_key").head(30)
    joined = tags.assign(p=tags["tag"] + "=" + tags["n"].astype(int).astype(str)).groupby("artist_key")["p"].agg("|".join)
    df[TAG_COLUMN] = df["artist_key"].map(joined)
    return df


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Listings -> one row per track_id with a genre set; drop rows without text or audio analysis."""
    df = add_derived_columns(df)
    d = dedupe_tracks(df)
    d = d[d["artists"].notna() & d["track_name"].notna() & d["artist_key"].notna()]
    d = d.dropna(subset=FEATURES)
    d = d[d["tempo"] > 0]  # tempo == 0 marks tracks without audio analysis upstream
    return d.reset_index(drop=True)


def make_splits(d: pd.DataFrame, test_size: float, val_size: float, seed: int):
    """(train, fit, val, test) frames; test artists and validation artists are disjoint from the rest."""
    tr_idx, te_idx = group_split(d, "artist_key", test_size=test_size, seed=seed)
    assert_disjoint(d, tr_idx, te_idx, "artist_key")
    train_df, test_df = d.loc[tr_idx].reset_index(drop=True), d.loc[te_idx].reset_index(drop=True)
    fit_idx, val_idx = group_split(train_df, "artist_key", test_size=val_size, seed=seed + 1)
    assert_disjoint(train_df, fit_idx, val_idx, "artist_key")
    fit_df, val_df = train_df.loc[fit_idx].reset_index(drop=True), train_df.loc[val_idx].reset_index(drop=True)
    return train_df, fit_df, val_df, test_df


# --------------------------------------------------------------------------- metrics


def feature_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """mse_/r2_/mae_/pearson_<feature> (tempo in BPM) + mse_tempo_scaled + means over features."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    out: dict[str, float] = {}
    for j, f in enumerate(FEATURES):
        t, p = y_true[:, j], y_pred[:, j]
        out[f"mse_{f}"] = float(mean_squared_error(t, p))
        out[f"r2_{f}"] = float(r2_score(t, p))
        out[f"mae_{f}"] = float(mean_absolute_error(t, p))
        out[f"pearson_{f}"] = pearson_r(t, p)
    j = FEATURES.index("tempo")
    out["mse_tempo_scaled"] = float(mean_squared_error(y_true[:, j] / TEMPO_SCALE, y_pred[:, j] / TEMPO_SCALE))
    out["r2_mean"] = float(np.mean([out[f"r2_{f}"] for f in FEATURES]))
    out["mse_mean_unit"] = float(np.mean([out[f"mse_{f}"] for f in UNIT_FEATURES]))
    return out


# --------------------------------------------------------------------------- baseline


def _baseline_matrix(d: pd.DataFrame, genres: list[str], numeric: list[str]) -> np.ndarray:
    idx = {g: i for i, g in enumerate(genres)}
    G = np.zeros((len(d), len(genres)))
    for i, gs in enumerate(d["genres"]):
        for g in gs:
            if g in idx:
                G[i, idx[g]] = 1.0
    num = [_numeric(d, c) for c in numeric]
    return np.column_stack([G, *num]) if num else G


def fit_baseline(train: pd.DataFrame, test: pd.DataFrame, genres: list[str], numeric: list[str], max_iter: int,
                 seed: int) -> np.ndarray:
    """One HistGradientBoosting per feature on genre one-hot + metadata; predictions on `test` (BPM for tempo)."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    Xtr, Xte = _baseline_matrix(train, genres, numeric), _baseline_matrix(test, genres, numeric)
    preds = np.zeros((len(test), len(FEATURES)))
    for j, f in enumerate(FEATURES):
        gbm = HistGradientBoostingRegressor(max_iter=max_iter, learning_rate=0.05, max_leaf_nodes=31,
                                            min_samples_leaf=20, l2_regularization=1.0, random_state=seed)
        with threadpool_limits(1):  # OpenMP with 2 threads spin-waits badly on the shared 2-core box
            gbm.fit(Xtr, train[f].to_numpy(float))
            preds[:, j] = gbm.predict(Xte)
    lo = np.zeros(len(FEATURES))
    hi = np.ones(len(FEATURES))
    hi[FEATURES.index("tempo")] = np.inf
    return np.clip(preds, lo, hi)


# --------------------------------------------------------------------------- training


def _fit_net(Xtr, ytr, Xva, yva, builder: FeatureBuilder, cfg: dict) -> tuple[Any, dict, list[dict]]:
    import torch

    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    arch = {"d_text": Xtr["text"].shape[1], "n_genre": len(builder.genres), "n_tag": len(builder.tags),
            "d_meta": builder.meta_dim, "hidden": cfg["hidden"], "emb_dim": cfg["emb_dim"], "dropout": cfg["dropout"],
            "text_dim": cfg["text_dim"], "text_dropout": cfg["text_dropout"]}
    net = _build_net(**arch)
    w = torch.tensor([LOSS_WEIGHTS[f] for f in FEATURES], dtype=torch.float32)
    w = w / w.sum()

    def tensors(X, y):
        return [torch.from_numpy(np.ascontiguousarray(_pad(X[k]), dtype=np.float32))
                for k in ("text", "genre", "tag", "meta")] + [torch.from_numpy(y)]

    tr, va = tensors(Xtr, ytr), tensors(Xva, yva)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps_per_epoch = math.ceil(len(ytr) / cfg["batch_size"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"] * steps_per_epoch)
    midx = builder.meta_index()
    p_drop = cfg["modality_dropout"]
    history, best, best_state, bad = [], math.inf, None, 0

    def loss_fn(pred, y):
        return (((pred - y) ** 2).mean(0) * w).sum()

    for epoch in range(cfg["epochs"]):
        net.train()
        perm = torch.from_numpy(rng.permutation(len(ytr)))
        total = 0.0
        for s in range(0, len(ytr), cfg["batch_size"]):
            b = perm[s:s + cfg["batch_size"]]
            text, genre, tag, meta, y = (t[b] for t in tr)  # fancy indexing copies
            if p_drop > 0:  # hide optional inputs at random so rows with gaps are in-distribution
                m = torch.from_numpy(rng.random(len(b)) < p_drop)
                genre[m] = 0.0
                meta[m, midx["has_genre"][0]] = 0.0
                m = torch.from_numpy(rng.random(len(b)) < p_drop)
                tag[m] = 0.0
                meta[m, midx["has_tags"][0]] = 0.0
                for c in builder.numeric:
                    m = torch.from_numpy(rng.random(len(b)) < p_drop)
                    meta[m, midx[c][0]] = 0.0
                    meta[m, midx[c][1]] = 0.0
            loss = loss_fn(net(text, genre, tag, meta), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg["grad_clip"])
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        net.eval()
        with torch.no_grad():
            val = float(loss_fn(net(*va[:4]), va[4]))
        history.append({"epoch": epoch + 1, "train_loss": total / len(ytr), "val_loss": val})
        if val < best - 1e-6:
            best, bad = val, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg["patience"]:
                break
    net.load_state_dict(best_state)
    net.eval()
    return net, arch, history


def train(df: pd.DataFrame, config: dict | None = None) -> TrainResult:
    config = dict(config or {})
    cfg = {**DEFAULTS, **(FAST if config.get("fast") else {}), **{k: v for k, v in config.items() if k != "fast"}}
    with torch_threads(cfg["torch_threads"]):
        return _train(df, config, cfg)


def _train(df: pd.DataFrame, config: dict, cfg: dict) -> TrainResult:
    t0 = time.perf_counter()

    all_rows = add_derived_columns(df)
    d = prepare(all_rows)
    if cfg["max_rows"] and len(d) > cfg["max_rows"]:
        d = d.sample(n=cfg["max_rows"], random_state=cfg["seed"]).reset_index(drop=True)
    train_df, fit_df, val_df, test_df = make_splits(d, cfg["test_size"], cfg["val_size"], cfg["seed"])

    builder = FeatureBuilder.fit(fit_df, all_rows, cfg["n_tags"])
    Xfit, Xval, Xte = builder.transform(fit_df), builder.transform(val_df), builder.transform(test_df)
    yfit, yval = _to_model_scale(fit_df[FEATURES].to_numpy()), _to_model_scale(val_df[FEATURES].to_numpy())
    t_feat = time.perf_counter() - t0

    net, arch, history = _fit_net(Xfit, yfit, Xval, yval, builder, cfg)
    t_fit = time.perf_counter() - t0 - t_feat
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model = AudioFeatureModel(builder, arch, state, target_std=yfit.std(0) + 1e-6, spread_ref=1.0,
                              mc_samples=cfg["mc_samples"])
    model._net = net
    # reference MC spread from the validation rows (not the test split): "typical" -> agreement 0.5
    _, val_std = model._forward(Xval, cfg["mc_samples"])
    model.spread_ref = float(np.median((val_std / model.target_std).mean(1))) if len(Xval["text"]) else 1.0

    mean_te, std_te = model._forward(Xte, cfg["mc_samples"])
    y_te = test_df[FEATURES].to_numpy(float)
    pred_te = _from_model_scale(mean_te)
    metrics = feature_metrics(y_te, pred_te)

    t_base = time.perf_counter()
    base_pred = fit_baseline(train_df, test_df, builder.genres, [c for c in ("duration_ms", "explicit", "year",
                             "track_number") if c in builder.numeric], cfg["gbm_max_iter"], cfg["seed"])
    baseline = feature_metrics(y_te, base_pred)
    t_base = time.perf_counter() - t_base

    conf = model.confidence(Xte["completeness"], std_te)
    norm_err = np.abs(_to_model_scale(y_te) - mean_te) / model.target_std
    conf_table, conf_extra = _confidence_report(conf, Xte["completeness"], norm_err.mean(1))
    per_feature = pd.DataFrame([
        {"feature": f, **{f"model_{m}": metrics[f"{m}_{f}"] for m in ("mse", "r2", "mae", "pearson")},
         **{f"baseline_{m}": baseline[f"{m}_{f}"] for m in ("mse", "r2", "mae", "pearson")}}
        for f in FEATURES
    ])
    hist = pd.DataFrame(history)
    figures = _figures(y_te, pred_te, base_pred, metrics, baseline, hist)
    elapsed = time.perf_counter() - t0
    input_cols = [c for c in INPUT_COLUMNS if c in test_df.columns]
    eval_cols = [c for c in (*input_cols, "track_id", "genres", TAG_COLUMN, *FEATURES) if c in test_df.columns]
    eval_frame = test_df[eval_cols].copy()
    eval_frame["genres"] = eval_frame["genres"].map(list)
    return TrainResult(
        model=model,
        metrics=metrics,
        baseline=baseline,
        split=(f"grouped by artist_key (tracks deduped by track_id), test {cfg['test_size']:.0%} of artists; "
               f"early stopping on {cfg['val_size']:.0%} of the training artists"),
        n_train=len(train_df),
        n_test=len(test_df),
        params={**{k: v for k, v in cfg.items() if v is not None}, "fast": bool(config.get("fast")),
                "loss_weights": str(LOSS_WEIGHTS), "n_genres": len(builder.genres), "n_tag_vocab": len(builder.tags),
                "numeric_inputs": ",".join(builder.numeric), "epochs_run": len(history),
                "best_epoch": int(hist["val_loss"].idxmin()) + 1, "n_fit": len(fit_df), "n_val": len(val_df),
                "train_seconds": round(elapsed, 2), "feature_seconds": round(t_feat, 2),
                "net_fit_seconds": round(t_fit, 2), "baseline_seconds": round(t_base, 2),
                "dataset": df.attrs.get("dataset", "")},
        figures=figures,
        tables={"per_feature_metrics.csv": per_feature, "loss_history.csv": hist,
                "confidence_calibration.csv": conf_table},
        input_example=test_df[input_cols].head(5).reset_index(drop=True),
        extra={"confidence": conf_extra},
        eval_frame=eval_frame,
    )


def score(model, eval_frame: pd.DataFrame) -> dict[str, float]:
    """Re-score any version on a frozen evaluation frame (inputs + true features) from its outputs only."""
    inputs = eval_frame.drop(columns=[c for c in FEATURES if c in eval_frame.columns])
    pred = pd.DataFrame(model.predict(None, inputs) if isinstance(model, TrackModel) else model.predict(inputs))
    return feature_metrics(eval_frame[FEATURES].to_numpy(float), pred[[f"{f}_pred" for f in FEATURES]].to_numpy(float))


def _confidence_report(conf, completeness, err):
    from scipy.stats import spearmanr

    q = pd.qcut(pd.Series(conf).rank(method="first"), 4, labels=["q1_low", "q2", "q3", "q4_high"])
    table = (pd.DataFrame({"confidence_quartile": q, "confidence": conf, "completeness": completeness,
                           "mean_norm_abs_error": err})
             .groupby("confidence_quartile", observed=True).agg(["mean", "count"]).reset_index())
    table.columns = ["_".join(c).strip("_") for c in table.columns]
    rho = spearmanr(conf, err).statistic if np.std(conf) > 0 else 0.0
    return table, {"spearman_confidence_vs_error": float(rho), "mean_confidence": float(np.mean(conf))}


def _figures(y, pred, base, metrics, baseline, hist):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {}
    fig, axes = plt.subplots(2, 4, figsize=(16, 8))
    for ax, (j, f) in zip(axes.ravel(), enumerate(FEATURES), strict=True):
        lo, hi = (0, 1) if f != "tempo" else (min(y[:, j].min(), pred[:, j].min()), max(y[:, j].max(), pred[:, j].max()))
        ax.hexbin(y[:, j], pred[:, j], gridsize=30, extent=(lo, hi, lo, hi), mincnt=1, cmap="viridis", bins="log")
        ax.plot([lo, hi], [lo, hi], "r--", lw=1)
        ax.set_title(f"{f}: R² {metrics[f'r2_{f}']:.3f} (GBM {baseline[f'r2_{f}']:.3f})")
        ax.set_xlabel("actual" + (" (BPM)" if f == "tempo" else ""))
        ax.set_ylabel("predicted")
    fig.suptitle("Audio features from metadata: predicted vs actual (test artists)")
    fig.tight_layout()
    figs["pred_vs_actual.png"] = fig

    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(FEATURES))
    ax.bar(x - 0.2, [metrics[f"r2_{f}"] for f in FEATURES], 0.4, label="multi-task net")
    ax.bar(x + 0.2, [baseline[f"r2_{f}"] for f in FEATURES], 0.4, label="GBM genre+metadata")
    ax.set_xticks(x, FEATURES, rotation=30)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("test R²")
    ax.legend()
    ax.set_title("Per-feature R², model vs baseline")
    fig.tight_layout()
    figs["r2_model_vs_baseline.png"] = fig

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(hist["epoch"], hist["train_loss"], label="train (with dropout)")
    ax.plot(hist["epoch"], hist["val_loss"], label="validation (held-out artists)")
    best = int(hist["val_loss"].idxmin())
    ax.axvline(hist["epoch"].iloc[best], color="grey", ls=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted multi-task MSE")
    ax.legend()
    ax.set_title("Training curves")
    fig.tight_layout()
    figs["loss_curves.png"] = fig
    for f in figs.values():  # detach from pyplot (no GUI state kept); the Figure objects still save fine
        plt.close(f)
    return figs


SPEC = ModelSpec(
    name="audio_features",
    description="Energy, valence, danceability, acousticness, instrumentalness, liveness, speechiness and tempo "
                "from metadata alone (MiniLM text + genre/tag embeddings + duration/explicit), multi-task PyTorch "
                "net with MC-dropout confidence; baseline: per-feature GBM on genre + metadata.",
    load=load,
    train=train,
    key_metrics=("mse_energy", "mse_valence", "r2_mean", "mse_mean_unit"),
    datasets=("spotify_tracks", "lastfm_artists", "lastfm_tags", "lastfm_user_taggedartists"),
    score=score,
    higher_is_better={
        **{f"{m}_{f}": m in ("r2", "pearson") for m in ("mse", "r2", "mae", "pearson") for f in FEATURES},
        "mse_tempo_scaled": False, "r2_mean": True, "mse_mean_unit": False,
    },
)
