"""Streams: next-week log streams per (track, region) from the daily charts, plus a
cross-sectional streams model on the real spotify-2023 table.

1. Chart forecasting (`spotify_charts`, or its synthetic twin). Rows are weekly (ISO week w,
   anchored on its Sunday) per (track, region) where the track was in the region's top200;
   features come from `ml.features.charts` (DuckDB, out-of-core) and read no day after the
   anchor. Target: `target_log_streams` = log1p(run-rate weekly streams of week w+1) =
   log1p(7 x mean daily streams on the days it charted in w+1); rows where the track drops
   out in w+1 have no target (they feed the "charts next week" classifier).
   Split: strictly temporal on the target week: train on the earliest weeks, early-stop on the
   next ones (validation), test on the latest; no training row reads a day that any
   validation / test target reads. Model: XGBoost regressor (hist). Baseline: persistence,
   next week = this week's log streams. Metrics: rmse, mae, r2 (+ charts_next_auc, for an
   XGBoost classifier vs. a last-day-rank rule).
2. spotify-2023 (real, 952 songs): log1p(streams) from playlist / chart counts, release date
   and audio features, 5-fold grouped by `artist_key` (pooled out-of-fold R2 ->
   `spotify2023_r2`). Baseline: a one-feature linear model on log1p(in_spotify_playlists),
   fitted on the same training folds (the mean-only baseline is in `extra`). Skipped (metric
   absent) when the lake has no spotify_2023.

The pyfunc model takes feature rows as produced by `ml.features.charts.build_features`
(`required_columns` = the feature names + region) and returns `log_streams_next_week_pred`,
`streams_next_week_pred` (run-rate weekly streams) and `charts_next_week_proba`. Raw chart
history in the lake schema (track_id/url, date, region, chart, rank, streams) is accepted too:
it is turned into features first and one prediction per charting week comes back.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ml.evaluation.metrics import regression_report
from ml.evaluation.splits import assert_temporal, chart_split, group_kfold
from ml.features.charts import (
    FEATURE_NAMES,
    HISTORY_COLUMNS,
    KEYS,
    TARGETS,
    assert_no_leakage,
    build_features,
    features_from_history,
    leakage_audit,
    truncation_check,
)
from ml.lake.coverage import pick
from ml.models.base import ModelConfig, ModelSpec, TrackModel, TrainingData, TrainResult

TARGET = "target_log_streams"
MODEL_FEATURES = [*FEATURE_NAMES, "region_code"]
OUTPUTS = ["log_streams_next_week_pred", "streams_next_week_pred", "charts_next_week_proba"]

class StreamsConfig(ModelConfig):
    """Streams training knobs; the defaults are the full configuration."""

    test_frac: float = 0.2  # share of the labelled weeks used as test (the latest)
    valid_frac: float = 0.15  # the weeks before the test, for early stopping
    max_rows: int | None = 1_000_000  # sample whole tracks down to about this many weekly rows (None: all)
    n_estimators: int = 800
    learning_rate: float = 0.1
    max_depth: int = 7
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    early_stopping_rounds: int = 50
    s23_estimators: int = 400
    s23_learning_rate: float = 0.03
    s23_folds: int = 5
    seed: int = 42
    # XGBoost threads. On the shared 2-core box, 2 threads cost 5x the CPU time of 1 (OpenMP spin-waits
    # while the other core is busy) for the same model; raise it on an idle machine.
    nthread: int = 1

    FAST: ClassVar[dict[str, Any]] = {
        "max_rows": 40_000, "n_estimators": 60, "learning_rate": 0.2, "max_depth": 6, "early_stopping_rounds": 10,
        "s23_estimators": 60, "s23_learning_rate": 0.1, "s23_folds": 3,
    }


# ----------------------------------------------------------------------------- load

S23_COUNTS = ["in_spotify_playlists", "in_spotify_charts", "in_apple_playlists", "in_apple_charts",
              "in_deezer_playlists", "in_deezer_charts", "in_shazam_charts"]
S23_AUDIO = ["bpm", "danceability_pct", "valence_pct", "energy_pct", "acousticness_pct", "instrumentalness_pct",
             "liveness_pct", "speechiness_pct"]
S23_KEYS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
S23_REFERENCE_DATE = pd.Timestamp("2023-09-01")  # the table was scraped in summer 2023


def load(con, check_leakage: bool = True) -> TrainingData:
    """Weekly chart features (with targets) and side tables.

    tables: spotify_2023 (the real cross-sectional table, when the lake has it) and
    truncation_check (features recomputed with the future deleted); dataset: the charts view.
    """
    try:
        src = pick(con, "spotify_charts")
    except LookupError:
        src = None
    s23 = _load_spotify_2023(con)
    if src is None and s23 is None:
        raise LookupError("the lake has neither spotify_charts (nor synthetic_spotify_charts) nor spotify_2023")
    con.execute("SET enable_progress_bar = false")
    if src is not None:
        df = build_features(con, src)
    else:
        df = pd.DataFrame({c: pd.Series(dtype="float64") for c in [*KEYS, *FEATURE_NAMES, *TARGETS]})
    tables = {} if s23 is None else {"spotify_2023": s23}
    if src is not None and check_leakage and len(df):
        n_rows = con.execute(f'SELECT count(*) FROM "{src}"').fetchone()[0]
        tables["truncation_check"] = truncation_check(con, src, sample_mod=1 if n_rows <= 3_000_000 else 16)
    return TrainingData(df, tables, dataset=src)


def _load_spotify_2023(con) -> pd.DataFrame | None:
    views = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "spotify_2023" not in views:
        return None
    return con.execute('SELECT * FROM "spotify_2023"').df()


# ----------------------------------------------------------------------------- model


class StreamsModel(TrackModel):
    """XGBoost boosters + region vocabulary; predicts from weekly feature rows."""

    def __init__(self, regressor, classifier, regions: list[str], features: list[str]):
        self.regressor = regressor
        self.classifier = classifier
        self.regions = list(regions)
        self.region_index = {r: i for i, r in enumerate(self.regions)}
        self.features = list(features)
        self.required_columns = (*FEATURE_NAMES, "region")

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:  # noqa: ARG002
        df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if any(c not in df.columns for c in FEATURE_NAMES) and all(c in df.columns for c in HISTORY_COLUMNS):
            df = features_from_history(df)  # raw chart rows -> one row per charting week
        self.check_columns(df)
        return self.predict_df(df)

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        numeric = [f for f in self.features if f != "region_code"]
        try:
            X = np.asarray(df[numeric], dtype=np.float32)
        except (TypeError, ValueError):  # strings / None from JSON or CSV input
            X = df[numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
        if "region_code" in self.features:
            codes = np.array([self.region_index.get(r, np.nan) for r in df["region"]], dtype=np.float32)
            X = np.insert(X, self.features.index("region_code"), codes, axis=1)
        return X

    def _predict(self, booster, X: np.ndarray) -> np.ndarray:
        # one thread for small batches: no OpenMP start-up / spin-wait cost on a single row
        threads = 1 if len(X) < 20_000 else 2
        if getattr(booster, "_musicml_threads", 1) != threads:
            booster.set_param({"nthread": threads})
            booster._musicml_threads = threads
        return booster.inplace_predict(X).astype(float)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.regressor is None:
            raise RuntimeError("this streams model was trained without chart data; it cannot forecast")
        X = self.matrix(df)
        log_pred = self._predict(self.regressor, X)
        out = {key: df[key].to_numpy() for key in ("track_id", "region", "anchor") if key in df.columns}
        out["log_streams_next_week_pred"] = log_pred
        out["streams_next_week_pred"] = np.expm1(log_pred)
        out["charts_next_week_proba"] = (
            self._predict(self.classifier, X) if self.classifier is not None else np.full(len(X), np.nan)
        )
        return pd.DataFrame(out, index=df.index)


# ----------------------------------------------------------------------------- splits


def add_split_columns(df: pd.DataFrame) -> pd.DataFrame:
    """target_end = the last day the target reads (anchor + 7): the column the split runs on."""
    df = df.copy()
    df["target_end"] = pd.to_datetime(df["anchor"]) + pd.Timedelta(days=7)
    return df


def sample_tracks(df: pd.DataFrame, max_rows: int | None, seed: int = 42) -> pd.DataFrame:
    """Keep whole tracks (all their rows) chosen by a hash of track_id, about max_rows rows."""
    if not max_rows or len(df) <= max_rows:
        return df
    h = pd.util.hash_pandas_object(df["track_id"].astype(str), index=False, hash_key=f"{seed:016d}").to_numpy()
    keep = (h % 10_000) < int(10_000 * max_rows / len(df))
    return df[keep]


def persistence(df: pd.DataFrame) -> np.ndarray:
    """The baseline forecast: next week's log streams = this week's."""
    return df["log_streams"].to_numpy(float)


def last_day_rule(df: pd.DataFrame) -> np.ndarray:
    """Baseline score for "charts next week": in the chart on the anchor day, the better its rank the likelier."""
    on_last_day = df["last_day_gap"].to_numpy(float) == 0
    return np.where(on_last_day, 201.0 - df["last_rank"].to_numpy(float), -df["last_day_gap"].to_numpy(float))


def _auc(y, score) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


# ----------------------------------------------------------------------------- train


def _xgb_params(cfg: StreamsConfig, objective: str) -> dict:
    return {
        "objective": objective, "tree_method": "hist", "eta": cfg.learning_rate, "max_depth": cfg.max_depth,
        "min_child_weight": cfg.min_child_weight, "subsample": cfg.subsample,
        "colsample_bytree": cfg.colsample_bytree, "nthread": cfg.nthread, "seed": cfg.seed,
        "eval_metric": "rmse" if objective.startswith("reg") else "logloss",
    }


def _fit_booster(Xtr, ytr, Xva, yva, cfg: StreamsConfig, objective: str):
    import xgboost as xgb

    dtr = xgb.DMatrix(Xtr, label=ytr, missing=np.nan, nthread=cfg.nthread)
    dva = xgb.DMatrix(Xva, label=yva, missing=np.nan, nthread=cfg.nthread)
    booster = xgb.train(_xgb_params(cfg, objective), dtr, num_boost_round=cfg.n_estimators,
                        evals=[(dva, "valid")], early_stopping_rounds=cfg.early_stopping_rounds,
                        verbose_eval=False)
    best = booster.best_iteration + 1
    booster = booster[:best]  # keep only the early-stopped trees: inplace_predict uses all trees
    booster.set_param({"nthread": 1})
    return booster, best


def train(data: TrainingData | pd.DataFrame, config: StreamsConfig | dict | None = None) -> TrainResult:
    import matplotlib

    matplotlib.use("Agg")
    cfg = StreamsConfig.resolve(config)
    data = TrainingData.of(data)
    started = time.perf_counter()
    s23 = data.table("spotify_2023")
    check = data.table("truncation_check")
    dataset = data.dataset
    df = data.frame

    metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}
    figures: dict = {}
    tables: dict[str, pd.DataFrame] = {}
    extra: dict = {}
    params: dict = {}
    model = StreamsModel(None, None, [], MODEL_FEATURES)
    split_desc, n_train, n_test, input_example = [], 0, 0, None

    assert_no_leakage(FEATURE_NAMES)
    audit = leakage_audit()
    if check is not None:
        chk = check[["column", "anchor", "rows_compared", "max_abs_diff_when_future_deleted"]]
        audit = audit.merge(chk, on="column", how="left")
        bad = chk[chk["max_abs_diff_when_future_deleted"] > 1e-9]
        if len(bad):
            raise AssertionError(f"features change when the days after the anchor are deleted: {list(bad['column'])}")
    tables["leakage_audit.csv"] = audit

    if len(df):
        charts = sample_tracks(add_split_columns(df.reset_index(drop=True)), cfg.max_rows, cfg.seed)
        res = _train_charts(charts, cfg)
        model = res["model"]
        metrics.update(res["metrics"])
        baseline.update(res["baseline"])
        figures.update(res["figures"])
        tables.update(res["tables"])
        params.update(res["params"], dataset=dataset)
        n_train, n_test = res["n_train"], res["n_test"]
        split_desc.append(res["split"])
        input_example = res["input_example"]

    if s23 is not None and len(s23) >= 50:
        res = _train_spotify_2023(s23, cfg)
        metrics.update(res["metrics"])
        baseline.update(res["baseline"])
        extra.update(res["extra"])
        figures.update(res["figures"])
        tables.update(res["tables"])
        tables["spotify2023_summary.csv"] = res["summary"]
        split_desc.append(res["split"])
        params["spotify2023_rows"] = res["n_rows"]
        if not len(df):
            n_train, n_test = res["n_train"], res["n_test"]

    params["train_seconds"] = round(time.perf_counter() - started, 1)
    return TrainResult(
        model=model, metrics=metrics, baseline=baseline, split="; ".join(split_desc), n_train=n_train,
        n_test=n_test, params=params, figures=figures, tables=tables, input_example=input_example, extra=extra,
        config=cfg,
    )


def _train_charts(df: pd.DataFrame, cfg: StreamsConfig) -> dict:
    tr, va, te, (valid_start, test_start) = chart_split(df, cfg.test_frac, cfg.valid_frac)
    assert_temporal(df, tr, va)
    assert_temporal(df, tr, te)
    assert_temporal(df, va, te)
    regions = sorted(df.loc[tr, "region"].unique())
    model = StreamsModel(None, None, regions, MODEL_FEATURES)
    X = model.matrix(df)
    y = df[TARGET].to_numpy(float)
    c = df["charts_next"].to_numpy(float)
    has_y = ~np.isnan(y)
    pos = {name: df.index.get_indexer(idx) for name, idx in (("train", tr), ("valid", va), ("test", te))}
    r_tr, r_va, r_te = (p[has_y[p]] for p in (pos["train"], pos["valid"], pos["test"]))

    reg, best_reg = _fit_booster(X[r_tr], y[r_tr], X[r_va], y[r_va], cfg, "reg:squarederror")
    clf, best_clf = _fit_booster(X[pos["train"]], c[pos["train"]], X[pos["valid"]], c[pos["valid"]], cfg,
                                 "binary:logistic")
    model.regressor, model.classifier = reg, clf

    test = df.iloc[r_te]
    pred = reg.inplace_predict(X[r_te]).astype(float)
    base = persistence(test)
    metrics = regression_report(y[r_te], pred)
    baseline = regression_report(y[r_te], base)
    test_all = df.iloc[pos["test"]]
    metrics["charts_next_auc"] = _auc(c[pos["test"]], clf.inplace_predict(X[pos["test"]]))
    baseline["charts_next_auc"] = _auc(c[pos["test"]], last_day_rule(test_all))

    ev = pd.DataFrame({"region": test["region"].to_numpy(), "anchor": test["anchor"].to_numpy(),
                       "weeks_charted_to_date": test["weeks_charted_to_date"].to_numpy(),
                       "y": y[r_te], "pred": pred, "persistence": base})
    tables, figures = _chart_reports(ev, reg, valid_start, test_start)
    fmt = "%Y-%m-%d"
    split = (f"charts temporal on the target week: train targets end < {valid_start:{fmt}}, "
             f"valid (early stopping) < {test_start:{fmt}}, test target weeks ending "
             f"{test_start:{fmt}}..{pd.Timestamp(df['target_end'].max()):{fmt}}")
    # five test rows, one of them a new entry (no lag history) so the example shows NaN inputs
    rows = list(r_te[:4])
    new_entry = r_te[np.isnan(df["lag1_log_streams"].to_numpy(float)[r_te])]
    rows.append(new_entry[0] if len(new_entry) else r_te[min(4, len(r_te) - 1)])
    example = df.iloc[rows][["track_id", "region", *FEATURE_NAMES]].reset_index(drop=True)
    return {
        "model": model, "metrics": metrics, "baseline": baseline, "tables": tables, "figures": figures,
        "n_train": int(len(r_tr)), "n_test": int(len(r_te)), "split": split, "input_example": example,
        "params": {"best_iteration_regressor": best_reg, "best_iteration_classifier": best_clf,
                   "n_valid": int(len(r_va)), "n_rows": int(len(df)), "n_regions": len(regions),
                   "n_weeks": int(df["week_idx"].nunique()), "target": TARGET,
                   "valid_start": str(valid_start.date()), "test_start": str(test_start.date())},
    }


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2))) if len(a) else float("nan")


def _error_table(ev: pd.DataFrame, by: str) -> pd.DataFrame:
    rows = []
    for key, g in ev.groupby(by, observed=True):
        rows.append({by: key, "n": len(g), "rmse": _rmse(g["y"], g["pred"]),
                     "rmse_persistence": _rmse(g["y"], g["persistence"]),
                     "mae": float(np.mean(np.abs(g["y"] - g["pred"]))),
                     "mae_persistence": float(np.mean(np.abs(g["y"] - g["persistence"])))})
    out = pd.DataFrame(rows)
    if len(out):
        out["rmse_reduction"] = 1 - out["rmse"] / out["rmse_persistence"]
    return out


def _chart_reports(ev: pd.DataFrame, booster, valid_start, test_start) -> tuple[dict, dict]:
    import matplotlib.pyplot as plt

    ev = ev.copy()
    ev["weeks_after_cutoff"] = ((pd.to_datetime(ev["anchor"]) + pd.Timedelta(days=7) - test_start).dt.days // 7) + 1
    ev["track_age_weeks"] = pd.cut(ev["weeks_charted_to_date"], [0, 1, 2, 4, 8, 16, 52, np.inf],
                                   labels=["1", "2", "3-4", "5-8", "9-16", "17-52", ">52"])
    per_region = _error_table(ev, "region").sort_values("n", ascending=False)
    by_week = _error_table(ev, "weeks_after_cutoff")
    by_age = _error_table(ev, "track_age_weeks")
    gain = booster.get_score(importance_type="gain")
    names = {f"f{i}": n for i, n in enumerate(MODEL_FEATURES)}
    imp = pd.DataFrame({"feature": [names.get(k, k) for k in gain], "gain": list(gain.values())})
    imp = imp.sort_values("gain", ascending=False).reset_index(drop=True)
    tables = {"per_region_error.csv": per_region, "error_by_test_week.csv": by_week,
              "error_by_track_age.csv": by_age, "feature_importance.csv": imp}

    fig1, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
    lo, hi = np.nanpercentile(ev["y"], [0.5, 99.5])
    for ax, col, title in ((axes[0], "pred", "XGBoost"), (axes[1], "persistence", "persistence baseline")):
        ax.hexbin(ev["y"], ev[col], gridsize=60, bins="log", extent=(lo, hi, lo, hi), cmap="viridis")
        ax.plot([lo, hi], [lo, hi], "r--", lw=1)
        ax.set_title(f"{title}: RMSE {_rmse(ev['y'], ev[col]):.3f}")
        ax.set_xlabel("actual log1p(weekly streams), week w+1")
    axes[0].set_ylabel("predicted")
    fig1.suptitle(f"Next-week log streams, test weeks from {test_start.date()}")
    fig1.tight_layout()

    fig2, axes = plt.subplots(1, 3, figsize=(16, 5))
    top = per_region.head(25).iloc[::-1]
    yy = np.arange(len(top))
    axes[0].barh(yy - 0.2, top["rmse"], 0.4, label="XGBoost")
    axes[0].barh(yy + 0.2, top["rmse_persistence"], 0.4, label="persistence")
    axes[0].set_yticks(yy, top["region"].astype(str))
    axes[0].set_title("RMSE by region")
    axes[0].legend(loc="lower right")
    for ax, t, col, title in ((axes[1], by_week, "weeks_after_cutoff", "RMSE by test week (weeks after cutoff)"),
                              (axes[2], by_age, "track_age_weeks", "RMSE by weeks charted so far")):
        xs = np.arange(len(t))
        ax.plot(xs, t["rmse"], "o-", label="XGBoost")
        ax.plot(xs, t["rmse_persistence"], "s--", label="persistence")
        ax.set_xticks(xs, t[col].astype(str))
        ax.set_title(title)
        ax.legend()
    fig2.tight_layout()

    fig3, ax = plt.subplots(figsize=(7, 8))
    top_imp = imp.head(20).iloc[::-1]
    ax.barh(top_imp["feature"], top_imp["gain"])
    ax.set_title("XGBoost feature importance (gain)")
    fig3.tight_layout()
    figures = {"pred_vs_actual.png": fig1, "residuals_by_region_horizon.png": fig2, "feature_importance.png": fig3}
    return tables, figures


# ----------------------------------------------------------------------------- spotify-2023


def spotify_2023_features(s23: pd.DataFrame) -> pd.DataFrame:
    """Numeric design matrix for the cross-sectional model (NaN where unknown)."""
    X = pd.DataFrame(index=s23.index)
    for col in S23_COUNTS:
        X[f"log_{col}"] = np.log1p(pd.to_numeric(s23[col], errors="coerce").astype(float))
    X["artist_count"] = pd.to_numeric(s23["artist_count"], errors="coerce").astype(float)
    X["released_year"] = pd.to_numeric(s23["released_year"], errors="coerce").astype(float)
    X["released_month"] = pd.to_numeric(s23["released_month"], errors="coerce").astype(float)
    release = pd.to_datetime(s23["release_date"], errors="coerce")
    X["log_age_days"] = np.log1p((S23_REFERENCE_DATE - release).dt.days.clip(lower=0).astype(float))
    X["release_weekday"] = release.dt.dayofweek.astype(float)
    for col in S23_AUDIO:
        X[col] = pd.to_numeric(s23[col], errors="coerce").astype(float)
    X["key"] = s23["key"].map({k: i for i, k in enumerate(S23_KEYS)}).astype(float)
    X["mode_major"] = (s23["mode"] == "Major").astype(float).where(s23["mode"].notna())
    return X


def _train_spotify_2023(s23: pd.DataFrame, cfg: StreamsConfig) -> dict:
    import matplotlib.pyplot as plt
    import xgboost as xgb
    from sklearn.linear_model import LinearRegression

    s23 = s23.reset_index(drop=True)
    s23["group"] = s23["artist_key"].fillna(s23["track_key"]).fillna(pd.Series(s23.index.astype(str)))
    y = np.log1p(pd.to_numeric(s23["streams"], errors="coerce").astype(float).to_numpy())
    X = spotify_2023_features(s23)
    ok = ~np.isnan(y)
    s23, X, y = s23[ok].reset_index(drop=True), X[ok].reset_index(drop=True), y[ok]
    one = X[["log_in_spotify_playlists"]].fillna(X["log_in_spotify_playlists"].median()).to_numpy()
    oof, oof_lin, oof_mean = (np.full(len(y), np.nan) for _ in range(3))
    folds = []
    for k, (tr, te) in enumerate(group_kfold(s23, "group", n_splits=cfg.s23_folds, seed=cfg.seed)):
        tr, te = s23.index.get_indexer(tr), s23.index.get_indexer(te)
        reg = xgb.XGBRegressor(n_estimators=cfg.s23_estimators, learning_rate=cfg.s23_learning_rate,
                               max_depth=4, min_child_weight=3, subsample=0.8, colsample_bytree=0.8,
                               n_jobs=1, random_state=cfg.seed, tree_method="hist")  # 952 rows: 1 thread
        reg.fit(X.iloc[tr].to_numpy(np.float32), y[tr])
        oof[te] = reg.predict(X.iloc[te].to_numpy(np.float32))
        oof_lin[te] = LinearRegression().fit(one[tr], y[tr]).predict(one[te])
        oof_mean[te] = y[tr].mean()
        folds.append({"fold": k, "n_test": len(te), "artists_test": s23.loc[te, "group"].nunique(),
                      **{f"xgb_{m}": v for m, v in regression_report(y[te], oof[te]).items()},
                      **{f"linear_playlists_{m}": v for m, v in regression_report(y[te], oof_lin[te]).items()}})
    model_r = regression_report(y, oof)
    lin_r = regression_report(y, oof_lin)
    mean_r = regression_report(y, oof_mean)

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(y, oof, s=8, alpha=0.6, label=f"XGBoost R2 {model_r['r2']:.3f}")
    ax.scatter(y, oof_lin, s=8, alpha=0.4, label=f"linear on playlists R2 {lin_r['r2']:.3f}")
    lo, hi = float(np.min(y)), float(np.max(y))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("actual log1p(streams)")
    ax.set_ylabel("out-of-fold prediction")
    ax.set_title("spotify-2023, grouped by artist")
    ax.legend()
    fig.tight_layout()
    return {
        "metrics": {"spotify2023_r2": model_r["r2"]},
        "baseline": {"spotify2023_r2": lin_r["r2"]},
        "extra": {"spotify2023_mean_baseline": {"spotify2023_r2": mean_r["r2"]}},
        "summary": pd.DataFrame([
            {"model": "xgboost", **model_r},
            {"model": "linear_log1p_in_spotify_playlists (baseline)", **lin_r},
            {"model": "train-fold mean", **mean_r},
        ]),
        "figures": {"spotify2023_pred_vs_actual.png": fig},
        "tables": {"spotify2023_folds.csv": pd.DataFrame(folds)},
        "n_rows": int(len(y)),
        "split": (f"spotify2023 {cfg.s23_folds}-fold grouped by artist_key (pooled out-of-fold R2; "
                  "baseline: linear on log1p(in_spotify_playlists))"),
        "n_train": int(len(y) - len(y) // cfg.s23_folds), "n_test": int(len(y)),
    }


SPEC = ModelSpec(
    name="streams",
    description="Next-week log streams per (track, region) from weekly chart features (XGBoost vs persistence), "
                "plus a spotify-2023 cross-sectional streams model grouped by artist",
    load=load,
    train=train,
    key_metrics=("rmse", "mae", "r2", "spotify2023_r2"),
    datasets=("spotify_charts", "spotify_2023"),
    higher_is_better={"rmse": False, "mae": False, "r2": True, "spotify2023_r2": True, "charts_next_auc": True},
    config=StreamsConfig,
)
