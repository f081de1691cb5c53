"""Genre: top-5 of the 114 Spotify genres and one of 15 super-genres, with calibrated probabilities.

Inputs (source schema of `spotify_tracks`): the audio features, duration, explicit, popularity,
and the text of `track_name` + `album_name` (titles carry language and scene: "Ao Vivo", "Remastered",
kana, Cyrillic ...). The artist name is not used: the split is by artist, so it could only memorise.

Model (every fitted piece lives in the `GenreModel` instance):
- text: TF-IDF of character n-grams (`char_wb` 1-4) of "track_name | album_name"; multinomial naive
  Bayes on fine genres and another on super-genres;
- audio: quantile-normalised audio features -> an MLP (sklearn) on fine genres;
- super-genre stack: XGBoost on [audio features, log p(super-genre | text)] where the text
  probabilities of training rows are out-of-fold (grouped K-fold by artist inside the training set);
- fine probabilities = softmax((w log p_text + (1-w) log p_audio) / T_fine);
  super-genre probabilities = softmax(log(a * p_stack + (1-a) * p_fine summed into super-genres) / T_coarse);
  then the fine probabilities are reconciled with the super-genre ones (beta = 1: each genre keeps its
  share within its super-genre, the super-genre mass comes from the blend above; beta = 0: untouched).
  w, a, beta and both temperatures are chosen on a validation slice carved from the training set
  (grouped by artist, minimum set-NLL), then every piece is refitted on the full training set
  (`refit`; fast mode keeps the pieces fitted without the slice). `super_genre` is the argmax of the
  super-genre probabilities, so it need not be the super-genre of `genre_top1` (rarely differs).

Labels: one row per track (`dedupe_tracks`); a track listed under several genres has a label set and
a prediction counts if it hits any of them (top-k); for F1 and the confusion matrix the true label is
the prediction when it is in the set, else the first listing. Training uses one row per listing.
Split: grouped by `artist_key` (no artist on both sides; `assert_disjoint`).
Taxonomy: ml/features/data/genre_taxonomy.csv (documented in ml/features/data/README.md).

Baseline (same test rows, same keys): `logreg_audio_only`, a multinomial logistic regression on the
standardised audio features (one for fine genres, one for super-genres), and for GTZAN a logistic
regression on 4 features (tempo, spectral centroid, RMS, zero-crossing rate). `extra` adds the class
prior and the text-only / audio-only components of the blend (ablation).

GTZAN variant: the `gtzan_features` view (57 MFCC/spectral/chroma summary columns, log of the
variance columns) -> standardised SVM (RBF), C and gamma picked by an inner grid search inside each
outer fold; 5-fold CV grouped by `song_id` -> `gtzan_accuracy`. It is a benchmark of the method only
(GTZAN audio features are not in the Spotify schema), so it is not part of the served model.
`load` returns the GTZAN frame beside the tracks (`TrainingData.tables["gtzan_features"]`); without
the view the metric is NaN.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, ClassVar

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import MultinomialNB  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import QuantileTransformer, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from ml.evaluation import genre_mood_metrics as gm  # noqa: E402
from ml.evaluation.metrics import accuracy, macro_f1, top_k_accuracy  # noqa: E402
from ml.evaluation.splits import assert_disjoint, group_kfold, group_split  # noqa: E402
from ml.features.tracks import (  # noqa: E402
    AUDIO_COLUMNS,
    TAXONOMY_PATH,
    dedupe_tracks,
    explicit_flag,
    load_taxonomy,
    load_tracks,
)
from ml.models.base import ModelConfig, ModelSpec, TrackModel, TrainingData, TrainResult  # noqa: E402

TOP_K = 5
NUMERIC_EXTRA = ["duration_ms", "popularity", "explicit"]
INPUT_COLUMNS = ("track_name", "album_name", *AUDIO_COLUMNS, *NUMERIC_EXTRA)
GTZAN_BASELINE_FEATURES = ["tempo", "spectral_centroid_mean", "rms_mean", "zero_crossing_rate_mean"]

class GenreConfig(ModelConfig):
    """Genre training knobs; the defaults are the full configuration."""

    test_size: float = 0.2
    valid_size: float = 0.2  # share of the training artists used to choose blend weights / temperatures
    seed: int = 42
    max_rows: int | None = None  # cap on tracks (random sample) before splitting
    use_popularity: bool = True
    tfidf_max_features: int = 50000
    tfidf_ngram_max: int = 4
    nb_alpha: float = 0.03
    mlp_hidden: tuple[int, ...] = (256,)
    mlp_alpha: float = 1e-2
    mlp_max_iter: int = 300
    mlp_bag: int = 1  # MLPs with different seeds, probabilities averaged
    xgb_rounds: int = 200
    xgb_depth: int = 4
    xgb_eta: float = 0.08
    stack_folds: int = 5
    gtzan_folds: int = 5
    gtzan_grid: dict[str, list[float | str]] | None = {"svc__C": [1.0, 3.0, 10.0], "svc__gamma": ["scale", 0.01]}
    n_jobs: int = 2
    refit: bool = True  # refit every piece on the full training set after choosing the blend

    FAST: ClassVar[dict[str, Any]] = {
        "refit": False, "max_rows": 2500, "tfidf_max_features": 20000, "mlp_max_iter": 60, "xgb_rounds": 40,
        "stack_folds": 3, "gtzan_folds": 3, "gtzan_grid": None,
    }


# ------------------------------------------------------------------------------------ data


def load(con) -> TrainingData:
    """The track listings (source schema); the GTZAN feature table, if in the lake, as table "gtzan_features"."""
    df = load_tracks(con)
    views = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    tables = {}
    if "gtzan_features" in views:
        tables["gtzan_features"] = con.execute('SELECT * FROM "gtzan_features"').df()
    return TrainingData(df, tables, dataset=df.attrs.get("dataset"))


def _text(df: pd.DataFrame) -> list[str]:
    name = df["track_name"].astype("string").fillna("")
    album = df["album_name"].astype("string").fillna("")
    return (name + " | " + album).tolist()


def _numeric(df: pd.DataFrame, use_popularity: bool) -> tuple[np.ndarray, list[str]]:
    cols = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in AUDIO_COLUMNS}
    cols["log_duration"] = np.log1p(pd.to_numeric(df["duration_ms"], errors="coerce").to_numpy(float) / 1000.0)
    cols["explicit"] = explicit_flag(df["explicit"])
    if use_popularity:
        cols["popularity"] = pd.to_numeric(df["popularity"], errors="coerce").to_numpy(float)
    return np.column_stack(list(cols.values())), list(cols)


def _expand(tracks: pd.DataFrame, tax: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (track, genre) and per (track, super_genre) for training."""
    fine = tracks.explode("genres").rename(columns={"genres": "label"})
    coarse = fine.assign(label=fine["label"].map(tax)).drop_duplicates(["track_id", "label"])
    return fine.reset_index(drop=True), coarse.reset_index(drop=True)


# -------------------------------------------------------------------------------- the model


def _slim(vec: TfidfVectorizer, *nbs: MultinomialNB) -> None:
    """Drop what prediction does not need (the pickled model shrinks from ~60 MB to ~15 MB)."""
    vec.stop_words_ = None  # the pruned n-grams, only kept for introspection
    for nb in nbs:
        nb.feature_count_ = None  # only for partial_fit
        # float32, and Fortran order so that the `X @ feature_log_prob_.T` of predict needs no copy
        nb.feature_log_prob_ = np.asfortranarray(nb.feature_log_prob_, dtype=np.float32)


class _Pieces:
    """The fitted components of one training run (fit on a set of tracks)."""

    def fit(self, tracks: pd.DataFrame, fine_classes, coarse_classes, tax, cfg: GenreConfig) -> _Pieces:
        self.fine_classes, self.coarse_classes = np.asarray(fine_classes), np.asarray(coarse_classes)
        self.use_popularity = cfg.use_popularity
        fine, coarse = _expand(tracks, tax)
        fi = {c: i for i, c in enumerate(self.fine_classes)}
        ci = {c: i for i, c in enumerate(self.coarse_classes)}
        y_f, y_c = fine["label"].map(fi).to_numpy(), coarse["label"].map(ci).to_numpy()
        w_f = 1.0 / fine.groupby("track_id")["label"].transform("size").to_numpy()

        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, cfg.tfidf_ngram_max), min_df=2,
                                   sublinear_tf=True, max_features=cfg.tfidf_max_features, dtype=np.float32)
        self.vec.fit(_text(tracks))
        Tf, Tc = self.vec.transform(_text(fine)), self.vec.transform(_text(coarse))
        self.nb_fine = MultinomialNB(alpha=cfg.nb_alpha).fit(Tf, y_f, sample_weight=w_f)
        self.nb_coarse = MultinomialNB(alpha=cfg.nb_alpha).fit(Tc, y_c)
        _slim(self.vec, self.nb_fine, self.nb_coarse)

        Xf, self.numeric_names = _numeric(fine, self.use_popularity)
        self.medians = np.nanmedian(Xf, axis=0)
        self.qt = QuantileTransformer(n_quantiles=200, output_distribution="normal", random_state=cfg.seed)
        Qf = self.qt.fit_transform(self._impute(Xf))
        self.mlps = [
            MLPClassifier(cfg.mlp_hidden, alpha=cfg.mlp_alpha, max_iter=cfg.mlp_max_iter,
                          early_stopping=True, random_state=cfg.seed + i).fit(Qf, y_f, sample_weight=w_f)
            for i in range(cfg.mlp_bag)
        ]

        # stack: out-of-fold text probabilities of the training rows, grouped by artist
        oof = np.zeros((len(coarse), len(self.coarse_classes)))
        for tr, va in group_kfold(coarse, "artist_key", cfg.stack_folds, seed=cfg.seed):
            nb = MultinomialNB(alpha=cfg.nb_alpha).fit(Tc[tr], y_c[tr])
            oof[np.ix_(va, nb.classes_)] = nb.predict_proba(Tc[va])
        Xc, _ = _numeric(coarse, self.use_popularity)
        self.stack_names = self.numeric_names + [f"text_p[{c}]" for c in self.coarse_classes]
        self.xgb = xgb.XGBClassifier(
            n_estimators=cfg.xgb_rounds, max_depth=cfg.xgb_depth, learning_rate=cfg.xgb_eta,
            subsample=0.8, colsample_bytree=0.8, min_child_weight=2, tree_method="hist",
            n_jobs=cfg.n_jobs, random_state=cfg.seed, eval_metric="mlogloss",
        )
        self.xgb_classes = np.unique(y_c)  # xgboost wants labels 0..k-1: map the present ones
        self.xgb.fit(np.hstack([Xc, gm.log_proba(oof)]).astype(np.float32), np.searchsorted(self.xgb_classes, y_c))
        self.booster = self.xgb.get_booster()
        # predicting a few rows with 2 OpenMP threads on a busy machine can wait ~30 ms at a barrier;
        # one thread takes < 1 ms (and the setting does not survive pickling: see __setstate__)
        self.booster.set_param({"nthread": 1})
        return self

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.booster.set_param({"nthread": 1})  # see fit: prediction runs single-threaded

    def _impute(self, X: np.ndarray) -> np.ndarray:
        X = X.copy()
        bad = np.isnan(X)
        X[bad] = np.take(self.medians, np.nonzero(bad)[1])
        return X

    @staticmethod
    def _full(model, X, k: int) -> np.ndarray:
        out = np.full((X.shape[0], k), 1e-9)
        out[:, model.classes_] = model.predict_proba(X)
        return out

    def probs(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        T = self.vec.transform(_text(df))
        X, _ = _numeric(df, self.use_popularity)
        nf = self._full(self.nb_fine, T, len(self.fine_classes))
        nc = self._full(self.nb_coarse, T, len(self.coarse_classes))
        Q = self.qt.transform(self._impute(X))
        mf = np.mean([self._full(m, Q, len(self.fine_classes)) for m in self.mlps], axis=0)
        sc = np.full((len(df), len(self.coarse_classes)), 1e-9)
        raw = self.booster.inplace_predict(np.hstack([X, gm.log_proba(nc)]).astype(np.float32))
        sc[:, self.xgb_classes] = np.asarray(raw).reshape(len(df), -1)
        return {"text_fine": nf, "text_coarse": nc, "audio_fine": mf, "stack_coarse": sc}


class GenreModel(TrackModel):
    required_columns = INPUT_COLUMNS

    def __init__(self, pieces: _Pieces, taxonomy: dict[str, str], w_text: float, alpha_stack: float,
                 t_fine: float, t_coarse: float, beta: float = 0.0):
        self.pieces = pieces
        self.required_columns = tuple(c for c in INPUT_COLUMNS if pieces.use_popularity or c != "popularity")
        self.taxonomy = dict(taxonomy)
        self.fine_classes = pieces.fine_classes
        self.coarse_classes = pieces.coarse_classes
        ci = {c: i for i, c in enumerate(self.coarse_classes)}
        self.fine_to_coarse = np.zeros((len(self.fine_classes), len(self.coarse_classes)))
        for i, g in enumerate(self.fine_classes):
            self.fine_to_coarse[i, ci[taxonomy[g]]] = 1.0
        self.w_text, self.alpha_stack, self.t_fine, self.t_coarse = w_text, alpha_stack, t_fine, t_coarse
        self.beta = beta

    def proba(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(fine probabilities over `fine_classes`, super-genre probabilities over `coarse_classes`)."""
        p = self.pieces.probs(df)
        return combine(p, self.fine_to_coarse, self.w_text, self.alpha_stack, self.t_fine, self.t_coarse, self.beta)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        fine, coarse = self.proba(df)
        top = np.argsort(-fine, axis=1)[:, :TOP_K]
        out = {}
        for k in range(TOP_K):
            out[f"genre_top{k + 1}"] = self.fine_classes[top[:, k]]
        for k in range(TOP_K):
            out[f"genre_p{k + 1}"] = fine[np.arange(len(df)), top[:, k]]
        best = coarse.argmax(axis=1)
        out["super_genre"] = self.coarse_classes[best]
        out["super_genre_p"] = coarse[np.arange(len(df)), best]
        return pd.DataFrame(out, index=df.index)


def combine(p: dict[str, np.ndarray], fine_to_coarse: np.ndarray, w_text: float, alpha_stack: float,
            t_fine: float, t_coarse: float, beta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Blend the component probabilities; `beta` > 0 pulls the fine genres toward the super-genre blend."""
    fine = gm.softmax((w_text * gm.log_proba(p["text_fine"]) + (1 - w_text) * gm.log_proba(p["audio_fine"])) / t_fine)
    agg = fine @ fine_to_coarse
    coarse = gm.tempered(alpha_stack * p["stack_coarse"] + (1 - alpha_stack) * agg, t_coarse)
    if beta:
        ratio = (np.clip(coarse, 1e-9, None) / np.clip(agg, 1e-9, None)) @ fine_to_coarse.T
        fine = fine * ratio**beta
        fine /= fine.sum(axis=1, keepdims=True)
    return fine, coarse


# ------------------------------------------------------------------------------ evaluation


def _evaluate(fine: np.ndarray | None, coarse: np.ndarray, fine_classes, coarse_classes, test: pd.DataFrame,
              tax: dict[str, str]) -> tuple[dict[str, float], dict]:
    """Metrics under the quality keys (+ ECE), and the resolved labels for reports."""
    sets_f = [set(g) for g in test["genres"]]
    sets_c = [{tax[g] for g in s} for s in sets_f]
    prim_f = test["track_genre"].to_numpy()
    prim_c = np.array([tax[g] for g in prim_f])
    pred_c = coarse_classes[coarse.argmax(axis=1)]
    true_c = gm.resolve_truth(pred_c, sets_c, prim_c)
    m = {"coarse_top1": top_k_accuracy(sets_c, coarse, coarse_classes, 1),
         "coarse_macro_f1": macro_f1(true_c, pred_c),
         "coarse_ece": gm.expected_calibration_error(coarse.max(axis=1), pred_c == true_c)}
    lab = {"true_c": true_c, "pred_c": pred_c}
    if fine is not None:
        pred_f = fine_classes[fine.argmax(axis=1)]
        true_f = gm.resolve_truth(pred_f, sets_f, prim_f)
        m.update(fine_top1=top_k_accuracy(sets_f, fine, fine_classes, 1),
                 fine_top5=top_k_accuracy(sets_f, fine, fine_classes, TOP_K),
                 fine_macro_f1=macro_f1(true_f, pred_f),
                 fine_ece=gm.expected_calibration_error(fine.max(axis=1), pred_f == true_f))
        lab.update(true_f=true_f, pred_f=pred_f)
    return m, lab


def _choose_blend(p: dict[str, np.ndarray], val: pd.DataFrame, fine_classes, coarse_classes,
                  fine_to_coarse: np.ndarray, tax) -> dict[str, float]:
    """w, a and the temperatures that minimise the validation set-NLL (grid for w, a; 1-d search for T)."""
    truth_f = gm.truth_mask([set(g) for g in val["genres"]], fine_classes)
    truth_c = gm.truth_mask([{tax[x] for x in g} for g in val["genres"]], coarse_classes)
    lt, la = gm.log_proba(p["text_fine"]), gm.log_proba(p["audio_fine"])
    best = None
    for w in np.linspace(0, 1, 11):
        raw = gm.softmax(w * lt + (1 - w) * la)
        t = gm.fit_temperature(raw, truth_f)
        nll = gm.set_nll(gm.tempered(raw, t), truth_f)
        if best is None or nll < best[0]:
            best = (nll, float(w), t)
    _, w_text, t_fine = best
    fine = gm.softmax((w_text * lt + (1 - w_text) * la) / t_fine)
    agg = fine @ fine_to_coarse
    best = None
    for a in np.linspace(0, 1, 11):
        raw = a * p["stack_coarse"] + (1 - a) * agg
        t = gm.fit_temperature(raw, truth_c)
        nll = gm.set_nll(gm.tempered(raw, t), truth_c)
        if best is None or nll < best[0]:
            best = (nll, float(a), t)
    alpha, t_coarse, nll_coarse = best[1], best[2], best[0]
    best = None
    for beta in np.linspace(0, 1, 6):
        f, _ = combine(p, fine_to_coarse, w_text, alpha, t_fine, t_coarse, beta)
        nll = gm.set_nll(f, truth_f)
        if best is None or nll < best[0]:
            best = (nll, float(beta))
    return {"w_text": w_text, "t_fine": t_fine, "alpha_stack": alpha, "t_coarse": t_coarse, "beta_reconcile": best[1],
            "valid_nll_fine": float(best[0]), "valid_nll_coarse": float(nll_coarse)}


def _baseline_logreg(train_tracks: pd.DataFrame, test: pd.DataFrame, fine_classes, coarse_classes, tax, cfg):
    """Audio-only multinomial logistic regressions (fine and coarse), standardised features."""
    fine, coarse = _expand(train_tracks, tax)
    out = []
    for frame, classes in ((fine, fine_classes), (coarse, coarse_classes)):
        X, _ = _numeric(frame, cfg.use_popularity)
        med = np.nanmedian(X, axis=0)
        sc = StandardScaler().fit(np.where(np.isnan(X), med, X))
        idx = {c: i for i, c in enumerate(classes)}
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(sc.transform(np.where(np.isnan(X), med, X)),
                                                          frame["label"].map(idx).to_numpy())
        Xt, _ = _numeric(test, cfg.use_popularity)
        P = np.full((len(test), len(classes)), 1e-9)
        P[:, lr.classes_] = lr.predict_proba(sc.transform(np.where(np.isnan(Xt), med, Xt)))
        out.append(P)
    return out[0], out[1]


def _prior(train_tracks: pd.DataFrame, n: int, fine_classes, coarse_classes, tax):
    fine, coarse = _expand(train_tracks, tax)
    pf = fine["label"].value_counts(normalize=True).reindex(fine_classes, fill_value=0).to_numpy()
    pc = coarse["label"].value_counts(normalize=True).reindex(coarse_classes, fill_value=0).to_numpy()
    jitter = np.linspace(0, 1e-9, len(pf))  # deterministic tie-break
    return np.tile(pf + jitter, (n, 1)), np.tile(pc + jitter[: len(pc)], (n, 1))


# ---------------------------------------------------------------------------------- GTZAN


def _gtzan_matrix(g: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    skip = {"filename", "label", "song_id", "length"}
    cols = [c for c in g.columns if c not in skip and pd.api.types.is_numeric_dtype(g[c])]
    X = g[cols].to_numpy(float)
    for j, c in enumerate(cols):
        if c.endswith("_var"):
            X[:, j] = np.log(X[:, j] + 1e-6)
    return X, cols


def gtzan_cv(g: pd.DataFrame, cfg: GenreConfig) -> dict:
    """Grouped K-fold CV accuracy of the SVM (nested grid search) and of the 4-feature LR baseline."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.svm import SVC

    g = g.reset_index(drop=True)
    if "song_id" not in g.columns:
        g = g.assign(song_id=g["filename"])
    X, cols = _gtzan_matrix(g)
    Xb = g[GTZAN_BASELINE_FEATURES].to_numpy(float)
    y = g["label"].to_numpy()
    pred, pred_b = np.empty(len(g), object), np.empty(len(g), object)
    for tr, te in group_kfold(g, "song_id", cfg.gtzan_folds, seed=cfg.seed):
        assert_disjoint(g, tr, te, "song_id")
        svm = Pipeline([("scale", StandardScaler()), ("svc", SVC(C=3.0, gamma="scale"))])
        if cfg.gtzan_grid:
            svm = GridSearchCV(svm, cfg.gtzan_grid, cv=3, n_jobs=1)
        pred[te] = svm.fit(X[tr], y[tr]).predict(X[te])
        base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(Xb[tr], y[tr])
        pred_b[te] = base.predict(Xb[te])
    labels = sorted(set(y))
    majority = pd.Series(y).value_counts().max() / len(y)
    return {"accuracy": accuracy(y, pred), "baseline_accuracy": accuracy(y, pred_b), "majority": float(majority),
            "report": gm.per_class_report(y, pred, labels), "n": len(g), "n_features": len(cols)}


# ----------------------------------------------------------------------------------- train


def train(data: TrainingData | pd.DataFrame, config: GenreConfig | dict | None = None) -> TrainResult:
    cfg = GenreConfig.resolve(config)
    data = TrainingData.of(data)
    t0 = time.time()
    tax = load_taxonomy()
    gtzan = data.table("gtzan_features")
    df = data.frame
    source_cols = [c for c in df.columns if c in set(INPUT_COLUMNS) | {"track_id", "artists", "track_genre"}]

    tracks = dedupe_tracks(df[df["track_genre"].notna()])
    unknown = sorted({g for gs in tracks["genres"] for g in gs} - set(tax))
    if unknown:
        raise ValueError(f"genre(s) missing from {TAXONOMY_PATH.name}: {', '.join(unknown)}")
    tracks["artist_key"] = tracks["artist_key"].fillna("track:" + tracks["track_id"].astype(str))
    if cfg.max_rows and len(tracks) > cfg.max_rows:
        tracks = tracks.sample(cfg.max_rows, random_state=cfg.seed)
    tracks = tracks.reset_index(drop=True)
    fine_classes = np.array(sorted({g for gs in tracks["genres"] for g in gs}))
    coarse_classes = np.array(sorted({tax[g] for g in fine_classes}))

    tr_idx, te_idx = group_split(tracks, "artist_key", cfg.test_size, cfg.seed)
    assert_disjoint(tracks, tr_idx, te_idx, "artist_key")
    train_t, test = tracks.loc[tr_idx].reset_index(drop=True), tracks.loc[te_idx].reset_index(drop=True)
    sub_idx, val_idx = group_split(train_t, "artist_key", cfg.valid_size, cfg.seed + 1)
    assert_disjoint(train_t, sub_idx, val_idx, "artist_key")
    sub, val = train_t.loc[sub_idx].reset_index(drop=True), train_t.loc[val_idx].reset_index(drop=True)

    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fast mode stops the MLP early on purpose
        # 1) choose blend weights and temperatures on the validation slice (fit on the rest of train)
        probe = _Pieces().fit(sub, fine_classes, coarse_classes, tax, cfg)
        model_tmp = GenreModel(probe, tax, 0.5, 0.5, 1.0, 1.0)
        blend = _choose_blend(probe.probs(val), val, fine_classes, coarse_classes, model_tmp.fine_to_coarse, tax)
        # 2) refit every piece on the full training set (fast mode keeps the pieces fitted without the slice)
        pieces = _Pieces().fit(train_t, fine_classes, coarse_classes, tax, cfg) if cfg.refit else probe
        model = GenreModel(pieces, tax, blend["w_text"], blend["alpha_stack"], blend["t_fine"], blend["t_coarse"],
                           blend["beta_reconcile"])
        p = pieces.probs(test)
        fine, coarse = combine(p, model.fine_to_coarse, model.w_text, model.alpha_stack, model.t_fine, model.t_coarse,
                               model.beta)
        b_fine, b_coarse = _baseline_logreg(train_t, test, fine_classes, coarse_classes, tax, cfg)
    train_seconds = time.time() - t0

    metrics, lab = _evaluate(fine, coarse, fine_classes, coarse_classes, test, tax)
    baseline, blab = _evaluate(b_fine, b_coarse, fine_classes, coarse_classes, test, tax)
    pr_f, pr_c = _prior(train_t, len(test), fine_classes, coarse_classes, tax)
    prior, _ = _evaluate(pr_f, pr_c, fine_classes, coarse_classes, test, tax)
    t_only, _ = _evaluate(p["text_fine"], p["text_coarse"], fine_classes, coarse_classes, test, tax)
    a_only, _ = _evaluate(p["audio_fine"], p["audio_fine"] @ model.fine_to_coarse, fine_classes, coarse_classes,
                          test, tax)

    gt = gtzan_cv(gtzan, cfg) if gtzan is not None and len(gtzan) else None
    metrics["gtzan_accuracy"] = gt["accuracy"] if gt else float("nan")
    baseline["gtzan_accuracy"] = gt["baseline_accuracy"] if gt else float("nan")
    prior["gtzan_accuracy"] = gt["majority"] if gt else float("nan")

    figures, tables = _reports(model, metrics, lab, blab, fine_classes, coarse_classes, fine, coarse,
                               b_fine, b_coarse, test, tax, gt)
    params = {
        "baseline": "logreg_audio_only (multinomial LR on standardised audio features; GTZAN: LR on "
                    + ", ".join(GTZAN_BASELINE_FEATURES) + ")",
        "text": f"tfidf char_wb 1-{cfg.tfidf_ngram_max} of track_name | album_name -> multinomial NB",
        "audio": "quantile-normal audio features -> MLP " + str(cfg.mlp_hidden),
        "stack": f"xgboost {cfg.xgb_rounds} rounds depth {cfg.xgb_depth} on audio + OOF text p(super)",
        "gtzan": "log-var features, standardised RBF SVM, nested grid " + str(cfg.gtzan_grid),
        "n_fine_classes": len(fine_classes), "n_super_genres": len(coarse_classes),
        "n_valid": len(val), "train_seconds": round(train_seconds, 1),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in blend.items()},
    }
    eval_frame = test[source_cols].copy()
    eval_frame["genres"] = test["genres"].map(list)
    return TrainResult(
        model=model, metrics=metrics, baseline=baseline,
        split=(f"one row per track_id; grouped by artist_key ({cfg.test_size:.0%} of artists to test); "
               f"validation slice = {cfg.valid_size:.0%} of training artists; GTZAN: "
               f"{cfg.gtzan_folds}-fold CV grouped by song_id"),
        n_train=len(train_t), n_test=len(test), params=params, figures=figures, tables=tables,
        input_example=test[source_cols].head(5).reset_index(drop=True),
        extra={"prior": prior, "text_only": t_only, "audio_only": a_only},
        eval_frame=eval_frame, config=cfg,
    )


def _reports(model, metrics, lab, blab, fine_classes, coarse_classes, fine, coarse, b_fine, b_coarse, test, tax, gt):
    rep_c = gm.per_class_report(lab["true_c"], lab["pred_c"], coarse_classes)
    rep_cb = gm.per_class_report(blab["true_c"], blab["pred_c"], coarse_classes)
    rep_f = gm.per_class_report(lab["true_f"], lab["pred_f"], fine_classes)
    rep_fb = gm.per_class_report(blab["true_f"], blab["pred_f"], fine_classes)
    rep_f.insert(1, "super_genre", [tax[c] for c in fine_classes])
    tables = {
        "per_class_coarse.csv": rep_c.merge(rep_cb[["class", "f1"]].rename(columns={"f1": "baseline_f1"}), on="class"),
        "per_class_fine.csv": rep_f.merge(rep_fb[["class", "f1"]].rename(columns={"f1": "baseline_f1"}), on="class"),
        "genre_taxonomy.csv": pd.DataFrame(sorted(tax.items()), columns=["genre", "super_genre"]),
    }
    if gt:
        tables["gtzan_per_class.csv"] = gt["report"]
    pieces = model.pieces
    imp = pieces.xgb.feature_importances_
    figures = {
        "confusion_coarse.png": gm.confusion_figure(lab["true_c"], lab["pred_c"], coarse_classes,
                                                    f"super-genre confusion (test, top-1 {metrics['coarse_top1']:.3f})"),
        "per_class_f1_coarse.png": gm.per_class_f1_figure({"model": rep_c, "baseline (audio LR)": rep_cb},
                                                          "super-genre F1 per class"),
        "per_class_f1_fine.png": gm.per_class_f1_figure({"model": rep_f}, "genre F1 per class (114 genres)"),
        "feature_importance.png": gm.importance_figure(pieces.stack_names, imp,
                                                       "super-genre stack (XGBoost gain importance)"),
        "reliability.png": gm.reliability_figure({
            "super-genre": (coarse.max(axis=1), lab["pred_c"] == lab["true_c"]),
            "genre": (fine.max(axis=1), lab["pred_f"] == lab["true_f"]),
            "super-genre baseline": (b_coarse.max(axis=1), blab["pred_c"] == blab["true_c"]),
        }, "reliability of top-1 probabilities (test)"),
    }
    return figures, tables


# ----------------------------------------------------------------------------------- score


def _predict_frame(model, df: pd.DataFrame) -> pd.DataFrame:
    if isinstance(model, TrackModel):
        return pd.DataFrame(model.predict(None, df))
    return pd.DataFrame(model.predict(df))


def score(model, eval_frame: pd.DataFrame) -> dict[str, float]:
    """Re-score any version on a frozen evaluation frame, from its outputs only (top-5 + super-genre)."""
    tax = load_taxonomy()
    pred = _predict_frame(model, eval_frame.drop(columns=["genres"]))
    sets_f = [set(list(g)) for g in eval_frame["genres"]]
    sets_c = [{tax.get(x) for x in s} for s in sets_f]
    tops = pred[[f"genre_top{k + 1}" for k in range(TOP_K)]].to_numpy()
    prim_f = eval_frame["track_genre"].to_numpy()
    true_f = gm.resolve_truth(tops[:, 0], sets_f, prim_f)
    true_c = gm.resolve_truth(pred["super_genre"].to_numpy(), sets_c, np.array([tax.get(g) for g in prim_f]))
    return {
        "fine_top1": float(np.mean([t[0] in s for t, s in zip(tops, sets_f, strict=True)])),
        "fine_top5": float(np.mean([bool(set(t) & s) for t, s in zip(tops, sets_f, strict=True)])),
        "fine_macro_f1": macro_f1(true_f, tops[:, 0]),
        "coarse_top1": float(np.mean([p in s for p, s in zip(pred["super_genre"], sets_c, strict=True)])),
        "coarse_macro_f1": macro_f1(true_c, pred["super_genre"].to_numpy()),
    }


SPEC = ModelSpec(
    name="genre",
    description="Top-5 of 114 Spotify genres + 15 super-genres from audio features and title/album text "
                "(NB on char n-grams, MLP and XGBoost stack on audio, calibrated blend); GTZAN SVM benchmark",
    load=load,
    train=train,
    key_metrics=("coarse_top1", "coarse_macro_f1", "fine_top5", "fine_macro_f1", "gtzan_accuracy"),
    datasets=("spotify_tracks", "gtzan_features"),
    higher_is_better={"coarse_top1": True, "coarse_macro_f1": True, "fine_top1": True, "fine_top5": True,
                      "fine_macro_f1": True, "gtzan_accuracy": True, "coarse_ece": False, "fine_ece": False},
    score=score,
    config=GenreConfig,
)
