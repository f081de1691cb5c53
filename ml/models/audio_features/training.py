"""Audio-feature training: lake rows -> deduped tracks -> artist-grouped split -> net + GBM baseline.

See the package docstring (ml/models/audio_features/__init__.py) for the model, split and metrics.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ml.evaluation.metrics import pearson_r
from ml.evaluation.splits import assert_disjoint, group_split
from ml.features.tracks import add_derived_columns, dedupe_tracks, load_artist_tags, load_tracks
from ml.models.audio_features.config import AudioFeaturesConfig
from ml.models.audio_features.features import (
    FEATURES,
    INPUT_COLUMNS,
    TAG_COLUMN,
    TEMPO_SCALE,
    UNIT_FEATURES,
    FeatureBuilder,
    from_model_scale,
    numeric_input,
    to_model_scale,
)
from ml.models.audio_features.model import AudioFeatureModel
from ml.models.audio_features.network import LOSS_WEIGHTS, fit_net, torch_threads
from ml.models.audio_features.report import confidence_report
from ml.models.audio_features.report import figures as report_figures
from ml.models.base import TrackModel, TrainingData, TrainResult


def load(con) -> TrainingData:
    """Spotify track listings (source schema) + `lastfm_tags` ("tag=n|...") where Last.fm knows the artist."""
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
    return TrainingData(df, dataset=df.attrs.get("dataset"))


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


def _baseline_matrix(d: pd.DataFrame, genres: list[str], numeric: list[str]) -> np.ndarray:
    idx = {g: i for i, g in enumerate(genres)}
    G = np.zeros((len(d), len(genres)))
    for i, gs in enumerate(d["genres"]):
        for g in gs:
            if g in idx:
                G[i, idx[g]] = 1.0
    num = [numeric_input(d, c) for c in numeric]
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


def train(data: TrainingData | pd.DataFrame, config: AudioFeaturesConfig | dict | None = None) -> TrainResult:
    cfg = AudioFeaturesConfig.resolve(config)
    data = TrainingData.of(data)
    with torch_threads(cfg.torch_threads):
        return _train(data.frame, data.dataset, cfg)


def _train(df: pd.DataFrame, dataset: str | None, cfg: AudioFeaturesConfig) -> TrainResult:
    t0 = time.perf_counter()

    all_rows = add_derived_columns(df)
    d = prepare(all_rows)
    if cfg.max_rows and len(d) > cfg.max_rows:
        d = d.sample(n=cfg.max_rows, random_state=cfg.seed).reset_index(drop=True)
    train_df, fit_df, val_df, test_df = make_splits(d, cfg.test_size, cfg.val_size, cfg.seed)

    builder = FeatureBuilder.fit(fit_df, all_rows, cfg.n_tags)
    Xfit, Xval, Xte = builder.transform(fit_df), builder.transform(val_df), builder.transform(test_df)
    yfit, yval = to_model_scale(fit_df[FEATURES].to_numpy()), to_model_scale(val_df[FEATURES].to_numpy())
    t_feat = time.perf_counter() - t0

    net, arch, history = fit_net(Xfit, yfit, Xval, yval, builder, cfg)
    t_fit = time.perf_counter() - t0 - t_feat
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model = AudioFeatureModel(builder, arch, state, target_std=yfit.std(0) + 1e-6, spread_ref=1.0,
                              mc_samples=cfg.mc_samples)
    model._net = net
    # reference MC spread from the validation rows (not the test split): "typical" -> agreement 0.5
    _, val_std = model._forward(Xval, cfg.mc_samples)
    model.spread_ref = float(np.median((val_std / model.target_std).mean(1))) if len(Xval["text"]) else 1.0

    mean_te, std_te = model._forward(Xte, cfg.mc_samples)
    y_te = test_df[FEATURES].to_numpy(float)
    pred_te = from_model_scale(mean_te)
    metrics = feature_metrics(y_te, pred_te)

    t_base = time.perf_counter()
    base_pred = fit_baseline(train_df, test_df, builder.genres, [c for c in ("duration_ms", "explicit", "year",
                             "track_number") if c in builder.numeric], cfg.gbm_max_iter, cfg.seed)
    baseline = feature_metrics(y_te, base_pred)
    t_base = time.perf_counter() - t_base

    conf = model.confidence(Xte["completeness"], std_te)
    norm_err = np.abs(to_model_scale(y_te) - mean_te) / model.target_std
    conf_table, conf_extra = confidence_report(conf, Xte["completeness"], norm_err.mean(1))
    per_feature = pd.DataFrame([
        {"feature": f, **{f"model_{m}": metrics[f"{m}_{f}"] for m in ("mse", "r2", "mae", "pearson")},
         **{f"baseline_{m}": baseline[f"{m}_{f}"] for m in ("mse", "r2", "mae", "pearson")}}
        for f in FEATURES
    ])
    hist = pd.DataFrame(history)
    figures = report_figures(y_te, pred_te, base_pred, metrics, baseline, hist)
    elapsed = time.perf_counter() - t0
    input_cols = [c for c in INPUT_COLUMNS if c in test_df.columns]
    eval_cols = [c for c in (*input_cols, "track_id", "genres", TAG_COLUMN, *FEATURES) if c in test_df.columns]
    eval_frame = test_df[eval_cols].copy()
    eval_frame["genres"] = eval_frame["genres"].map(list)
    return TrainResult(
        model=model,
        metrics=metrics,
        baseline=baseline,
        split=(f"grouped by artist_key (tracks deduped by track_id), test {cfg.test_size:.0%} of artists; "
               f"early stopping on {cfg.val_size:.0%} of the training artists"),
        n_train=len(train_df),
        n_test=len(test_df),
        params={"loss_weights": str(LOSS_WEIGHTS), "n_genres": len(builder.genres), "n_tag_vocab": len(builder.tags),
                "numeric_inputs": ",".join(builder.numeric), "epochs_run": len(history),
                "best_epoch": int(hist["val_loss"].idxmin()) + 1, "n_fit": len(fit_df), "n_val": len(val_df),
                "train_seconds": round(elapsed, 2), "feature_seconds": round(t_feat, 2),
                "net_fit_seconds": round(t_fit, 2), "baseline_seconds": round(t_base, 2),
                "dataset": dataset or ""},
        figures=figures,
        tables={"per_feature_metrics.csv": per_feature, "loss_history.csv": hist,
                "confidence_calibration.csv": conf_table},
        input_example=test_df[input_cols].head(5).reset_index(drop=True),
        extra={"confidence": conf_extra},
        eval_frame=eval_frame,
        config=cfg,
    )


def score(model, eval_frame: pd.DataFrame) -> dict[str, float]:
    """Re-score any version on a frozen evaluation frame (inputs + true features) from its outputs only."""
    inputs = eval_frame.drop(columns=[c for c in FEATURES if c in eval_frame.columns])
    pred = pd.DataFrame(model.predict(None, inputs) if isinstance(model, TrackModel) else model.predict(inputs))
    return feature_metrics(eval_frame[FEATURES].to_numpy(float), pred[[f"{f}_pred" for f in FEATURES]].to_numpy(float))
