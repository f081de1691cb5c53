"""Spotify popularity (0-100): XGBoost regression, an 80% conformal interval, SHAP explanations.

Inputs (all known before a track's popularity is):
- audio features, duration, explicit;
- leakage-safe target history (`ml.features.artist_history.TargetHistory`): smoothed mean,
  count and max popularity of the primary artist's, the album's, every credited artist's and
  the genre's *other* training tracks. Training rows get out-of-fold values (K-fold inside the
  training set, so never their own target); new rows get the history of the full training set
  stored in the model (unseen artist -> the prior: global mean, count 0);
- text: regex flags on title / album (remaster, live, remix, classical, christmas, script of
  the title ...), and a TF-IDF (char 2-4 grams) + SVD projection of the album name.

Interval: conformalized quantile regression (CQR). A quantile XGBoost gives raw 10/90% bounds;
their correction q comes from cross-conformal scores: K models fitted on K-1 folds of the
training set (encoders and all, exactly like the final fit) score the held-out fold, q is the
finite-sample 80% quantile of those scores. The interval always contains the point prediction.

Split: one row per track_id (`dedupe_tracks`), test tracks disjoint by track_id (primary
metrics). `r2_artist_grouped` re-runs the pipeline on a split grouped by artist_key: every test
artist is unseen, artist/album history is empty for them (the honest cold-start number).
Baseline: the genre mean of the training rows (unseen genre -> global mean), interval from the
genre's 10/90% quantiles, on the same test rows under the same keys.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.decomposition import TruncatedSVD  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

from ml.evaluation.metrics import interval_coverage, interval_width, regression_report  # noqa: E402
from ml.evaluation.splits import assert_disjoint, group_split  # noqa: E402
from ml.features.artist_history import TargetHistory, fold_ids  # noqa: E402
from ml.features.tracks import (  # noqa: E402
    AUDIO_COLUMNS,
    POPULARITY_KEYWORDS,
    dedupe_tracks,
    explicit_flag,
    keyword_flags,
    load_tracks,
)
from ml.lake.linking import artist_key as make_artist_key  # noqa: E402
from ml.models.base import ModelConfig, ModelSpec, TrackModel, TrainingData, TrainResult  # noqa: E402

TARGET = "popularity"
ALPHA = 0.2  # 80% interval
LO_Q, HI_Q = ALPHA / 2, 1 - ALPHA / 2

# --------------------------------------------------------------------------------- config

class PopularityConfig(ModelConfig):
    """Popularity training knobs; the defaults are the full configuration."""

    test_size: float = 0.2
    seed: int = 42
    max_rows: int | None = None  # cap on tracks (random sample by track_id) before splitting
    encoder_folds: int = 5  # K for the out-of-fold target history of training rows
    conformal_folds: int = 4  # K for the cross-conformal scores
    prior_weight: float = 5.0  # pseudo-count of the smoothed artist/album/genre means
    album_svd: int = 32  # components of the album-name TF-IDF projection (0 = off)
    num_boost_round: int = 500
    quantile_boost_round: int = 300
    learning_rate: float = 0.04
    max_depth: int = 6
    min_child_weight: float = 3.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    nthread: int = 1  # 2 OpenMP threads spin-wait badly on a busy 2-core box (several times slower)
    artist_grouped: bool = True  # also run the artist-grouped (cold-start) split

    FAST: ClassVar[dict[str, Any]] = {
        "max_rows": 2500, "encoder_folds": 3, "conformal_folds": 3, "album_svd": 8, "num_boost_round": 80,
        "quantile_boost_round": 60, "learning_rate": 0.15, "max_depth": 4,
    }


# ------------------------------------------------------------------------------- features

_SCRIPTS = {
    "cjk": r"[\u4e00-\u9fff]", "kana": r"[\u3040-\u30ff]", "hangul": r"[\uac00-\ud7af]",
    "cyrillic": r"[\u0400-\u04ff]", "arabic": r"[\u0600-\u06ff]", "devanagari": r"[\u0900-\u097f]",
    "thai": r"[\u0e00-\u0e7f]", "hebrew": r"[\u0590-\u05ff]", "greek": r"[\u0370-\u03ff]",
    "south_indian": r"[\u0b80-\u0d7f]", "latin_accents": r"[\u00c0-\u024f]",
}
_SCRIPT_RE = {k: re.compile(p) for k, p in _SCRIPTS.items()}
_COMPILATION_RE = re.compile(
    r"greatest|best of|\bhits\b|collection|anthology|essential|complete|\bvol\.|volume|\bthe very best\b|\bmix\b|"
    r"playlist|\b(19|20)\d\d\b|\btop\b"
)

TEXT_FEATURES = (
    [f"title_{k}" for k in POPULARITY_KEYWORDS] + [f"album_{k}" for k in POPULARITY_KEYWORDS]
    + [f"script_{k}" for k in _SCRIPTS]
    + ["title_len", "title_words", "title_paren", "album_is_title", "album_compilation", "album_deluxe",
       "n_artists"]
)
BASE_FEATURES = [*AUDIO_COLUMNS, "duration_min", "explicit"]
HISTORIES = {  # name -> key column built by `_keys`
    "artist": "artist_key",
    "album": "album_key",
    "artists_all": "all_artist_keys",
    "genre": "genre_keys",
}


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _col(df: pd.DataFrame, name: str) -> list:
    return df[name].tolist() if name in df.columns else [None] * len(df)


def _keys(df: pd.DataFrame) -> dict[str, list]:
    """History keys per row: primary artist, artist|album, every credited artist, genres."""
    artists = [_text(a) for a in _col(df, "artists")]
    all_keys = [[k for k in dict.fromkeys(make_artist_key(x.strip()) for x in a.split(";")) if k] for a in artists]
    if "artist_key" in df.columns:
        primary = [k if isinstance(k, str) and k else None for k in df["artist_key"].tolist()]
    else:
        primary = [ks[0] if ks else None for ks in all_keys]
    albums = [_text(a).strip().lower() for a in _col(df, "album_name")]
    album_key = [f"{p}|{a}" if p and a else None for p, a in zip(primary, albums, strict=True)]
    if "genres" in df.columns:
        genres = [list(g) if isinstance(g, list | tuple | np.ndarray) else [g] for g in df["genres"].tolist()]
    else:
        genres = [[g] for g in _col(df, "track_genre")]
    return {"artist_key": primary, "album_key": album_key, "all_artist_keys": all_keys, "genre_keys": genres}


def text_features(df: pd.DataFrame) -> np.ndarray:
    """Regex flags and simple shape features of title, album and credits (no target involved)."""
    titles = [_text(t).lower() for t in _col(df, "track_name")]
    albums = [_text(a).lower() for a in _col(df, "album_name")]
    artists = [_text(a) for a in _col(df, "artists")]
    shape = np.zeros((len(df), len(TEXT_FEATURES) - 2 * len(POPULARITY_KEYWORDS)), dtype=np.float32)
    for i, (t, a, ar) in enumerate(zip(titles, albums, artists, strict=True)):
        both = f"{t} {a}"
        row = [1.0 if r.search(both) else 0.0 for r in _SCRIPT_RE.values()]
        row += [len(t), len(t.split()), float("(" in t or " - " in t), float(t == a and t != ""),
                float(bool(_COMPILATION_RE.search(a))), float("deluxe" in a or "edition" in a),
                float(ar.count(";") + 1 if ar else 0)]
        shape[i] = row
    return np.hstack([keyword_flags(titles, POPULARITY_KEYWORDS), keyword_flags(albums, POPULARITY_KEYWORDS), shape])


def base_features(df: pd.DataFrame) -> np.ndarray:
    audio = df[AUDIO_COLUMNS].to_numpy(dtype=np.float64, na_value=np.nan)
    duration = pd.to_numeric(df["duration_ms"], errors="coerce").to_numpy(float)[:, None] / 60000.0
    explicit = explicit_flag(df["explicit"])[:, None]
    return np.hstack([audio, duration, explicit])


@dataclass
class AlbumText:
    """TF-IDF (char 2-4 grams) of the album name, projected by truncated SVD; fitted on training rows."""

    n_components: int
    vectorizer: TfidfVectorizer | None = None
    svd: TruncatedSVD | None = None

    @property
    def columns(self) -> list[str]:
        return [f"album_sv{i}" for i in range(self.n_components)]

    @staticmethod
    def _docs(df: pd.DataFrame) -> list[str]:
        return [_text(a).lower() for a in _col(df, "album_name")]

    def fit(self, df: pd.DataFrame, seed: int) -> AlbumText:
        if self.n_components:
            self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3, sublinear_tf=True,
                                              max_features=20000, dtype=np.float32)
            m = self.vectorizer.fit_transform(self._docs(df))
            k = max(1, min(self.n_components, m.shape[1] - 1))
            self.n_components = k
            self.svd = TruncatedSVD(k, random_state=seed).fit(m)
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        if not self.n_components or self.vectorizer is None:
            return np.zeros((len(df), 0))
        return self.svd.transform(self.vectorizer.transform(self._docs(df)))


# ---------------------------------------------------------------------------------- model


class PopularityModel(TrackModel):
    """Fitted state: history tables, album TF-IDF/SVD, point booster, quantile booster, conformal q."""

    required_columns = ("artists", "track_name", "track_genre", "duration_ms", "explicit", *AUDIO_COLUMNS)

    def __init__(self, histories: dict[str, TargetHistory], album_text: AlbumText, feature_names: list[str],
                 booster: xgb.Booster, q_booster: xgb.Booster | None, conformal_q: float = 0.0, nthread: int = 1):
        self.histories = histories
        self.album_text = album_text
        self.feature_names = feature_names
        self.booster = booster
        self.q_booster = q_booster
        self.conformal_q = float(conformal_q)
        self.nthread = nthread

    # features ------------------------------------------------------------------------------
    def features(self, df: pd.DataFrame, history_frames: dict[str, pd.DataFrame] | None = None) -> np.ndarray:
        """Feature matrix; `history_frames` (out-of-fold values for training rows) override the stored history."""
        keys = _keys(df)
        blocks = [base_features(df), text_features(df)]
        for name, key_col in HISTORIES.items():
            h = history_frames[name] if history_frames else self.histories[name].transform(keys[key_col])
            blocks.append(h.to_numpy(dtype=np.float64))
        blocks.append(self.album_text.transform(df))
        return np.hstack(blocks).astype(np.float32)

    # predictions ---------------------------------------------------------------------------
    def raw_predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point prediction and the *unconformalized* quantile bounds (sorted)."""
        pred = np.asarray(self.booster.inplace_predict(X), dtype=float)
        if self.q_booster is None:
            return pred, pred.copy(), pred.copy()
        q = np.asarray(self.q_booster.inplace_predict(X), dtype=float).reshape(len(X), -1)
        q = np.sort(q, axis=1)
        return pred, q[:, 0], q[:, -1]

    def interval(self, pred, lo, hi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return conformal_interval(pred, lo, hi, self.conformal_q)

    def explain(self, X: np.ndarray, top: int = 3) -> tuple[np.ndarray, list[str]]:
        """SHAP contributions (XGBoost TreeSHAP, last column = bias) and the top-|SHAP| features per row as JSON."""
        contribs = self.booster.predict(xgb.DMatrix(X, feature_names=self.feature_names, nthread=self.nthread),
                                        pred_contribs=True)
        phi = contribs[:, :-1]
        order = np.argsort(-np.abs(phi), axis=1)[:, :top]
        tops = [json.dumps({self.feature_names[j]: round(float(phi[i, j]), 2) for j in order[i]})
                for i in range(len(X))]
        return contribs, tops

    def predict_df(self, df: pd.DataFrame, explain: bool = True) -> pd.DataFrame:
        X = self.features(df)
        pred, lo, hi = self.interval(*self.raw_predict(X))
        out = pd.DataFrame({"popularity_pred": pred, "popularity_lower_80": lo, "popularity_upper_80": hi},
                           index=df.index)
        if explain:
            out["top_features"] = self.explain(X)[1]
        return out


def conformal_interval(pred, lo, hi, q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CQR bounds widened by q, made to contain the point prediction, clipped to [0, 100]."""
    pred = np.clip(np.asarray(pred, float), 0, 100)
    lower = np.clip(np.minimum(np.asarray(lo, float) - q, pred), 0, 100)
    upper = np.clip(np.maximum(np.asarray(hi, float) + q, pred), 0, 100)
    return pred, lower, upper


def conformity_scores(y, pred, lo, hi) -> np.ndarray:
    """Smallest q for which y lies in [min(lo - q, pred), max(hi + q, pred)] (clipped pred)."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lo, hi))
    pred = np.clip(np.asarray(pred, float), 0, 100)
    return np.where(y > pred, y - hi, np.where(y < pred, lo - y, -np.inf))


def conformal_quantile(scores: np.ndarray, coverage: float = 1 - ALPHA) -> float:
    """Finite-sample split-conformal quantile: the ceil((n+1)*coverage)-th smallest score."""
    s = np.sort(np.asarray(scores, float))
    n = len(s)
    k = min(n, math.ceil((n + 1) * coverage))
    q = s[k - 1]
    return float(q) if np.isfinite(q) else 0.0


# ------------------------------------------------------------------------------- training


def _xgb_params(cfg: PopularityConfig, **extra) -> dict:
    return {
        "objective": "reg:squarederror", "eta": cfg.learning_rate, "max_depth": cfg.max_depth,
        "min_child_weight": cfg.min_child_weight, "subsample": cfg.subsample,
        "colsample_bytree": cfg.colsample_bytree, "tree_method": "hist", "max_bin": 128,
        "nthread": cfg.nthread, "seed": cfg.seed, "verbosity": 0, **extra,
    }


def fit_model(train: pd.DataFrame, cfg: PopularityConfig, with_interval: bool = True) -> tuple[PopularityModel, np.ndarray]:
    """Fit encoders + boosters on deduped training tracks; returns the model and its training matrix."""
    train = train.reset_index(drop=True)
    y = train[TARGET].to_numpy(float)
    folds = fold_ids(train["track_id"], cfg.encoder_folds, cfg.seed)
    keys = _keys(train)
    histories, oof = {}, {}
    for name, key_col in HISTORIES.items():
        h = TargetHistory(name, cfg.prior_weight)
        oof[name] = h.fit_transform_oof(keys[key_col], y, folds)
        histories[name] = h
    album_text = AlbumText(cfg.album_svd).fit(train, cfg.seed)
    names = BASE_FEATURES + TEXT_FEATURES + [c for h in histories.values() for c in h.columns] + album_text.columns
    model = PopularityModel(histories, album_text, names, booster=None, q_booster=None, nthread=cfg.nthread)
    X = model.features(train, history_frames=oof)
    dtrain = xgb.DMatrix(X, label=y, feature_names=names, nthread=cfg.nthread)
    model.booster = xgb.train(_xgb_params(cfg), dtrain, num_boost_round=cfg.num_boost_round)
    if with_interval:
        q_params = _xgb_params(cfg, objective="reg:quantileerror", quantile_alpha=np.array([LO_Q, HI_Q]))
        model.q_booster = xgb.train(q_params, dtrain, num_boost_round=cfg.quantile_boost_round)
    return model, X


def cross_conformal(train: pd.DataFrame, cfg: PopularityConfig) -> tuple[float, pd.DataFrame]:
    """Cross-conformal q: K models on K-1 folds score the held-out fold like unseen test rows."""
    train = train.reset_index(drop=True)
    folds = fold_ids(train["track_id"], cfg.conformal_folds, cfg.seed + 1)
    oof = pd.DataFrame(index=train.index, columns=["pred", "lo", "hi"], dtype=float)
    for f in np.unique(folds):
        inner, held = train[folds != f], train[folds == f]
        m, _ = fit_model(inner, cfg)
        oof.loc[held.index, ["pred", "lo", "hi"]] = np.column_stack(m.raw_predict(m.features(held)))
    oof["y"] = train[TARGET].to_numpy(float)
    oof["fold"] = folds
    scores = conformity_scores(oof["y"], oof["pred"], oof["lo"], oof["hi"])
    return conformal_quantile(scores), oof


@dataclass
class GenreMean:
    """Baseline: mean (and 10/90% quantiles) of popularity per genre in train; unseen -> global."""

    means: dict = field(default_factory=dict)
    lows: dict = field(default_factory=dict)
    highs: dict = field(default_factory=dict)
    global_stats: tuple = (float("nan"), float("nan"), float("nan"))

    def fit(self, train: pd.DataFrame) -> GenreMean:
        pairs = train[["genres", TARGET]].explode("genres")
        g = pairs.groupby("genres")[TARGET]
        self.means, self.lows, self.highs = g.mean().to_dict(), g.quantile(LO_Q).to_dict(), g.quantile(HI_Q).to_dict()
        y = train[TARGET]
        self.global_stats = (float(y.mean()), float(y.quantile(LO_Q)), float(y.quantile(HI_Q)))
        return self

    def predict(self, df: pd.DataFrame):
        g = df["track_genre"]
        m, lo, hi = self.global_stats
        return (g.map(self.means).fillna(m).to_numpy(float), g.map(self.lows).fillna(lo).to_numpy(float),
                g.map(self.highs).fillna(hi).to_numpy(float))


def _metrics(y, pred, lo, hi) -> dict[str, float]:
    out = regression_report(y, pred)
    out["interval_coverage_80"] = interval_coverage(y, lo, hi)
    out["interval_width_80"] = interval_width(lo, hi)
    return out


def prepare(df: pd.DataFrame, cfg: PopularityConfig) -> pd.DataFrame:
    """Deterministic one-row-per-track frame (optionally a random slice of tracks)."""
    df = df[df[TARGET].notna()].sort_values(["track_id", "track_genre"], kind="stable")
    tracks = dedupe_tracks(df).sort_values("track_id", kind="stable").reset_index(drop=True)
    if cfg.max_rows and len(tracks) > cfg.max_rows:
        tracks = tracks.sample(n=int(cfg.max_rows), random_state=cfg.seed).reset_index(drop=True)
    return tracks


def artist_grouped(tracks: pd.DataFrame, cfg: PopularityConfig) -> dict:
    """Cold start: test artists never appear in train (their artist/album history is the prior)."""
    t = tracks.assign(_artist=tracks["artist_key"].fillna("__none__:" + tracks["track_id"]))
    tr_idx, te_idx = group_split(t, "_artist", cfg.test_size, cfg.seed)
    assert_disjoint(t, tr_idx, te_idx, "_artist")
    train, test = tracks.loc[tr_idx], tracks.loc[te_idx]
    model, _ = fit_model(train, cfg, with_interval=False)
    pred = np.clip(model.raw_predict(model.features(test))[0], 0, 100)
    base = GenreMean().fit(train).predict(test)[0]
    y = test[TARGET].to_numpy(float)
    return {"model": regression_report(y, pred), "baseline": regression_report(y, base),
            "n_train": len(train), "n_test": len(test)}


def train(data: TrainingData | pd.DataFrame, config: PopularityConfig | dict | None = None) -> TrainResult:
    cfg = PopularityConfig.resolve(config)
    df = TrainingData.of(data).frame
    t0 = time.perf_counter()
    tracks = prepare(df, cfg)
    tr_idx, te_idx = group_split(tracks, "track_id", cfg.test_size, cfg.seed)
    assert_disjoint(tracks, tr_idx, te_idx, "track_id")
    train_df, test_df = tracks.loc[tr_idx].reset_index(drop=True), tracks.loc[te_idx].reset_index(drop=True)

    q, oof = cross_conformal(train_df, cfg)
    model, X_train = fit_model(train_df, cfg)
    model.conformal_q = q

    X_test = model.features(test_df)
    pred, lo, hi = model.interval(*model.raw_predict(X_test))
    y = test_df[TARGET].to_numpy(float)
    metrics = _metrics(y, pred, lo, hi)

    base_model = GenreMean().fit(train_df)
    b_pred, b_lo, b_hi = base_model.predict(test_df)
    baseline = _metrics(y, b_pred, b_lo, b_hi)

    extra: dict = {}
    ag = artist_grouped(tracks, cfg) if cfg.artist_grouped else None
    if ag is not None:
        metrics["r2_artist_grouped"] = ag["model"]["r2"]
        baseline["r2_artist_grouped"] = ag["baseline"]["r2"]
        extra["artist_grouped"] = {**{f"model_{k}": v for k, v in ag["model"].items()},
                                   **{f"baseline_{k}": v for k, v in ag["baseline"].items()},
                                   "n_train": ag["n_train"], "n_test": ag["n_test"]}
    oof_pred, oof_lo, oof_hi = conformal_interval(oof["pred"], oof["lo"], oof["hi"], q)
    extra["cv_train"] = {**_metrics(oof["y"], oof_pred, oof_lo, oof_hi), "conformal_q": q}

    contribs, _ = model.explain(X_test)
    known = np.array([k in model.histories["artist"].stats_ for k in _keys(test_df)["artist_key"]])
    figures, tables = _report(model, test_df, X_test, y, pred, lo, hi, contribs, known, ag, metrics, baseline)
    seconds = time.perf_counter() - t0

    inputs = [c for c in df.columns if c not in (TARGET, "genres")]
    return TrainResult(
        model=model, metrics=metrics, baseline=baseline,
        split=(f"group_split by track_id (one row per track, dedupe_tracks), test_size={cfg.test_size}, "
               f"seed={cfg.seed}; r2_artist_grouped: group_split by artist_key"),
        n_train=len(train_df), n_test=len(test_df),
        params={"n_features": len(model.feature_names), "train_seconds": round(seconds, 1)},
        figures=figures, tables=tables, input_example=test_df[inputs].head(5).reset_index(drop=True), extra=extra,
        config=cfg,
    )


# -------------------------------------------------------------------------------- reports


def _report(model, test_df, X, y, pred, lo, hi, contribs, known, ag, metrics, baseline):
    names = model.feature_names
    phi = contribs[:, :-1]
    figures, tables = {}, {}

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(pred, y - pred, s=6, alpha=0.35)
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="predicted popularity", ylabel="actual - predicted", title="Residuals vs predicted (test)")
    fig.tight_layout()
    figures["residuals_vs_predicted.png"] = fig

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(y, pred, s=6, alpha=0.35)
    ax.plot([0, 100], [0, 100], color="k", lw=0.8)
    ax.set(xlabel="actual popularity", ylabel="predicted popularity", xlim=(-2, 102), ylim=(-2, 102),
           title=f"Predicted vs actual (test R² {metrics['r2']:.3f}, genre mean {baseline['r2']:.3f})")
    fig.tight_layout()
    figures["predicted_vs_actual.png"] = fig

    # coverage by predicted decile
    dec = pd.qcut(pd.Series(pred).rank(method="first"), 10, labels=False)
    cov = pd.DataFrame({"decile": dec, "pred": pred, "y": y, "lo": lo, "hi": hi})
    cov["covered"] = (cov.y >= cov.lo) & (cov.y <= cov.hi)
    cov["width"] = cov.hi - cov.lo
    by = cov.groupby("decile").agg(pred_min=("pred", "min"), pred_max=("pred", "max"), n=("y", "size"),
                                   coverage=("covered", "mean"), mean_width=("width", "mean")).reset_index()
    tables["interval_coverage_by_decile.csv"] = by
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.bar(by.decile, by.coverage, color="tab:blue", alpha=0.7, label="coverage")
    ax.axhline(1 - ALPHA, color="k", ls="--", lw=0.8, label="target 0.80")
    ax.set(xlabel="predicted-popularity decile", ylabel="coverage of the 80% interval", ylim=(0, 1),
           title=f"Interval coverage by decile (overall {metrics['interval_coverage_80']:.3f})")
    ax2 = ax.twinx()
    ax2.plot(by.decile, by.mean_width, color="tab:red", marker="o", label="mean width")
    ax2.set_ylabel("mean width")
    ax.legend(loc="lower left")
    fig.tight_layout()
    figures["interval_coverage_by_decile.png"] = fig

    # importance: gain and mean |SHAP|
    gain = model.booster.get_score(importance_type="total_gain")
    imp = pd.DataFrame({"feature": names, "mean_abs_shap": np.abs(phi).mean(axis=0),
                        "total_gain": [gain.get(n, 0.0) for n in names]})
    imp = imp.sort_values("mean_abs_shap", ascending=False).reset_index(drop=True)
    tables["feature_importance.csv"] = imp
    top = imp.head(20)[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.barh(top.feature, top.total_gain / max(imp.total_gain.sum(), 1e-9))
    ax.set(xlabel="share of total gain", title="Feature importance (XGBoost gain, top 20)")
    fig.tight_layout()
    figures["feature_importance.png"] = fig

    figures["shap_summary.png"] = _beeswarm(phi, X, names, imp.feature.head(15).tolist())

    seg = []
    for label, mask in (("artist seen in train", known), ("artist unseen in train", ~known)):
        if mask.any():
            seg.append({"segment": label, "n": int(mask.sum()), **regression_report(y[mask], pred[mask]),
                        "interval_coverage_80": interval_coverage(y[mask], lo[mask], hi[mask])})
    if ag is not None:
        seg.append({"segment": "artist-grouped split (all test artists unseen)", "n": ag["n_test"], **ag["model"]})
    tables["metrics_by_segment.csv"] = pd.DataFrame(seg)
    return figures, tables


def _beeswarm(phi, X, names, features):
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 6))
    for row, f in enumerate(features[::-1]):
        j = names.index(f)
        v = X[:, j].astype(float)
        finite = np.isfinite(v)
        lo_v, hi_v = (np.nanpercentile(v, 5), np.nanpercentile(v, 95)) if finite.any() else (0, 1)
        c = np.clip((v - lo_v) / (hi_v - lo_v if hi_v > lo_v else 1), 0, 1)
        c[~finite] = 0.5
        ax.scatter(phi[:, j], row + rng.uniform(-0.3, 0.3, len(v)), c=c, cmap="coolwarm", s=4, alpha=0.6)
    ax.set_yticks(range(len(features)), features[::-1])
    ax.axvline(0, color="k", lw=0.6)
    ax.set(xlabel="SHAP value (popularity points)", title="SHAP summary (test; colour = feature value low→high)")
    fig.tight_layout()
    return fig


def load(con) -> TrainingData:
    df = load_tracks(con)
    return TrainingData(df, dataset=df.attrs.get("dataset"))


SPEC = ModelSpec(
    name="popularity",
    description="Spotify popularity 0-100: XGBoost on audio, text and leakage-safe artist/album/genre history; "
                "80% conformal (CQR) interval; SHAP top features",
    load=load,
    train=train,
    key_metrics=("r2", "rmse", "mae", "interval_coverage_80", "interval_width_80", "r2_artist_grouped"),
    datasets=("spotify_tracks",),
    higher_is_better={"r2": True, "rmse": False, "mae": False, "interval_width_80": False, "r2_artist_grouped": True},
    config=PopularityConfig,
)
