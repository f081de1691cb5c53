"""Training protocol: per-user holdout x 3 seeds, baselines on the same splits, the served model.

Per seed s:
1. `per_user_holdout(plays, seed=s)`: a random 20 % of each user's artists (users with >= 5)
   is the TEST slice; the rest is TRAIN.
2. `per_user_holdout(TRAIN, seed=s + 1000)` carves a VALIDATION slice (20 % of train) from
   the rest (INNER). Everything tuned is tuned here: EASE's lambda (grid, seed 0; reused by
   the other seeds) and the hybrid ranker (components fit on INNER, ranker learns which
   candidates are VALIDATION positives). Test is never looked at before scoring.
3. Components are refit on TRAIN (same hyper-parameters); the ranker from step 2 ranks
   their candidates; hybrid, LightFM, EASE and most-popular are scored on TEST with the
   user's TRAIN artists excluded from every list.
The served model: components refit on ALL interactions + the seed-0 ranker.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ml.evaluation import ranking
from ml.evaluation.splits import assert_pairs_disjoint, per_user_holdout
from ml.models.base import TrainingData, TrainResult
from ml.models.recommender.components import (
    Ease,
    Vocab,
    artist_tag_vectors,
    ease_gram,
    fit_ease,
    interaction_matrix,
    popularity,
    tag_counts,
    tag_gram,
)
from ml.models.recommender.config import RecommenderConfig
from ml.models.recommender.data import side_tables
from ml.models.recommender.fit import fit_components, side_info_counts, track_side
from ml.models.recommender.hybrid import (
    FEATURES,
    Components,
    Ranker,
    rank_users,
    train_ranker,
)

K = 10
K_CURVE = 20
METRIC_KEYS = ("ndcg_at_10", "map_at_10", "hit_rate_at_10", "precision_at_10", "recall_at_10", "coverage", "diversity")

# --------------------------------------------------------------------------- scoring helpers


def _chunks(n: int, size: int):
    for lo in range(0, n, size):
        yield np.arange(lo, min(n, lo + size))


def top_k_from_scores(score_fn, users: np.ndarray, known, vocab: Vocab, k: int, chunk: int) -> pd.DataFrame:
    """Top-k artists per user from a dense scorer `score_fn(user_indices) -> users x items`, known excluded."""
    frames = []
    for pos in _chunks(len(users), chunk):
        u = users[pos]
        S = np.asarray(score_fn(u), dtype=np.float64)
        rows = known[u]
        S[rows.nonzero()] = -np.inf
        top = np.argpartition(-S, k, axis=1)[:, :k]
        sc = np.take_along_axis(S, top, axis=1)
        frames.append(pd.DataFrame({"user_id": np.repeat(vocab.user_ids[u], k), "artist_id": vocab.item_ids[top.ravel()],
                                    "score": sc.ravel()}))
    out = pd.concat(frames, ignore_index=True)
    return out[np.isfinite(out["score"])]


def hybrid_top_k(comp: Components, ranker: Ranker, users: np.ndarray, cfg: RecommenderConfig, k: int, keep_all: bool = False,
                 explain: bool = True) -> tuple[pd.DataFrame, list[dict]]:
    """Hybrid lists for vocabulary users (score = -rank so metric code keeps the MMR order)."""
    frames, recs_all = [], []
    for pos in _chunks(len(users), cfg.user_chunk):
        u = users[pos]
        recs = rank_users(comp, ranker, comp.X[u], comp.W[u], u, cfg.candidates, k, cfg.mmr_lambda,
                          cfg.mmr_pool, explain=explain, keep_all=keep_all)
        for uid, rec in zip(comp.vocab.user_ids[u], recs, strict=True):
            n = len(rec["items"])
            frames.append(pd.DataFrame({
                "user_id": uid, "artist_id": comp.vocab.item_ids[rec["items"]], "rank": np.arange(1, n + 1),
                "score": -np.arange(1, n + 1, dtype=float), "ranker_score": rec["scores"],
                "reason": rec.get("reasons") or [None] * n,
            }))
        recs_all += recs
    return pd.concat(frames, ignore_index=True), recs_all


def metrics_at(truth: pd.DataFrame, pred: pd.DataFrame, k: int, catalog, vectors: pd.DataFrame) -> dict[str, float]:
    return ranking.ranking_report(truth, pred, catalog=catalog, item_vectors=vectors, col_item="artist_id", k=k)


def curve(truth: pd.DataFrame, pred: pd.DataFrame, ks=range(1, K_CURVE + 1)) -> pd.DataFrame:
    rows = []
    for k in ks:
        args = dict(col_item="artist_id", k=k)
        rows.append({"k": k, "ndcg": ranking.ndcg_at_k(truth, pred, **args), "map": ranking.map_at_k(truth, pred, **args),
                     "hit_rate": ranking.hit_rate_at_k(truth, pred, **args),
                     "precision": ranking.precision_at_k(truth, pred, **args),
                     "recall": ranking.recall_at_k(truth, pred, **args)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- protocol


def _split(plays: pd.DataFrame, frac: float, cfg: RecommenderConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    a, b = per_user_holdout(plays, "user_id", "artist_id", frac, cfg.min_interactions, seed)
    return plays.loc[a], plays.loc[b]


def tune_ease(inner: pd.DataFrame, valid: pd.DataFrame, held_inner: pd.DataFrame, tables: dict, vocab: Vocab,
              cfg: RecommenderConfig) -> tuple[float, float, pd.DataFrame, Ease | None]:
    """On the validation slice: EASE's lambda (the baseline), then the side-information weight alpha.

    Returns (lambda, alpha, the grid's validation NDCG@10, the best side-information EASE fit on INNER).
    Plain EASE is the alpha = 0 row of the second grid, so tags are only used if they help.
    """
    X = interaction_matrix(inner, vocab)
    items, G = ease_gram(X, cfg.ease_min_users)
    users = np.unique(vocab.users(valid["user_id"]))
    counts = side_info_counts(tables, vocab, cfg, held_inner)
    TT = tag_gram(counts, vocab.n_items, items) if any(cfg.ease_alphas) else None

    def score(ease: Ease) -> float:
        pred = top_k_from_scores(lambda u: ease.scores(X[u], vocab.n_items), users, X, vocab, K, cfg.user_chunk)
        return ranking.ndcg_at_k(valid, pred, col_item="artist_id", k=K)

    rows, fits = [], {}
    lams = tuple(cfg.ease_lambdas)
    for lam in lams:
        fits[(lam, 0.0)] = fit_ease(items, G, lam)
        rows.append({"grid": "ease_lambda", "lambda": lam, "alpha": 0.0,
                     "valid_ndcg_at_10": score(fits[(lam, 0.0)]) if len(lams) > 1 else np.nan})
    table = pd.DataFrame(rows)
    lam = float(table.loc[table["valid_ndcg_at_10"].fillna(0).idxmax(), "lambda"])
    rows = []
    for alpha in cfg.ease_alphas:
        key = (lam, float(alpha))
        if key not in fits:
            fits[key] = fit_ease(items, G + np.float32(alpha) * TT, lam)
        rows.append({"grid": "side_info_alpha", "lambda": lam, "alpha": float(alpha),
                     "valid_ndcg_at_10": score(fits[key]) if len(cfg.ease_alphas) > 1 else np.nan})
    alphas = pd.DataFrame(rows)
    alpha = float(alphas.loc[alphas["valid_ndcg_at_10"].fillna(0).idxmax(), "alpha"])
    return lam, alpha, pd.concat([table, alphas], ignore_index=True), fits[(lam, alpha)]


def fit_ranker(comp_inner: Components, valid: pd.DataFrame, cfg: RecommenderConfig, seed: int) -> tuple[Ranker, dict]:
    """Ranker on candidates of the INNER components, positives = the VALIDATION slice."""
    vocab = comp_inner.vocab
    users = np.unique(vocab.users(valid["user_id"]))
    vitems = valid.assign(u=vocab.users(valid["user_id"]), i=vocab.items(valid["artist_id"]))
    pos_by_user = vitems.groupby("u")["i"].apply(np.asarray).to_dict()
    from ml.models.recommender.hybrid import user_candidates

    groups, labels, n_pos_total, n_pos_found = [], [], 0, 0
    ccfg = cfg.candidates
    for pos in _chunks(len(users), cfg.user_chunk):
        u = users[pos]
        for uu, (cand, F) in zip(u, user_candidates(comp_inner, comp_inner.X[u], comp_inner.W[u], u, ccfg),
                                 strict=True):
            y = np.isin(cand, pos_by_user.get(uu, [])).astype(np.float32)
            n_pos_total += len(pos_by_user.get(uu, []))
            n_pos_found += int(y.sum())
            groups.append((cand, F))
            labels.append(y)
    ranker = train_ranker(groups, labels, hidden=tuple(cfg.ranker_hidden), epochs=cfg.ranker_epochs,
                          lr=cfg.ranker_lr, seed=seed)
    stats = {"valid_users": len(users), "mean_candidates": float(np.mean([len(c) for c, _ in groups])),
             "valid_candidate_recall": n_pos_found / max(n_pos_total, 1),
             "ranker_epochs_run": len(ranker.history),
             "ranker_holdout_ndcg_at_10": max(h["holdout_ndcg_at_10"] for h in ranker.history)}
    return ranker, stats


def run_seed(plays: pd.DataFrame, tables: dict, vocab: Vocab, side, cfg: RecommenderConfig, seed: int, tuned: dict | None,
             catalog_vectors: pd.DataFrame, log=print) -> dict:
    """One seed of the protocol (see the module docstring); `tuned` = {lambda, alpha} from an earlier seed."""
    t0 = time.perf_counter()
    train, test = _split(plays, cfg.test_frac, cfg, seed)
    assert_pairs_disjoint(train, test, "user_id", "artist_id")
    inner, valid = _split(train, cfg.valid_frac, cfg, seed + 1000)
    assert_pairs_disjoint(inner, valid, "user_id", "artist_id")
    held_inner = pd.concat([valid, test])[["user_id", "artist_id"]]
    grid, ease_inner = None, None
    if tuned is None:
        lam, alpha, grid, ease_inner = tune_ease(inner, valid, held_inner, tables, vocab, cfg)
        tuned = {"lambda": lam, "alpha": alpha}
    comp_in = fit_components(inner, tables, vocab, side, cfg, seed, held_out=held_inner, ease_lambda=tuned["lambda"],
                             ease_alpha=tuned["alpha"], ease=ease_inner)
    ranker, rstats = fit_ranker(comp_in, valid, cfg, seed)
    del comp_in, ease_inner
    t_valid = time.perf_counter() - t0

    X = interaction_matrix(train, vocab)
    items, G = ease_gram(X, cfg.ease_min_users)
    ease = fit_ease(items, G, tuned["lambda"])  # the EASE baseline: plain, dense
    del G
    comp = fit_components(train, tables, vocab, side, cfg, seed, held_out=test[["user_id", "artist_id"]],
                          ease_lambda=tuned["lambda"], ease_alpha=tuned["alpha"])
    users = np.unique(vocab.users(test["user_id"]))
    catalog = vocab.item_ids[popularity(X) > 0]
    chunk = cfg.user_chunk
    pop = popularity(X)
    preds = {
        "hybrid": hybrid_top_k(comp, ranker, users, cfg, K_CURVE)[0],
        "lightfm": top_k_from_scores(comp.lfm.scores, users, X, vocab, K_CURVE, chunk),
        "ease": top_k_from_scores(lambda u: ease.scores(X[u], vocab.n_items), users, X, vocab, K_CURVE, chunk),
        "most_popular": top_k_from_scores(lambda u: np.tile(pop, (len(u), 1)), users, X, vocab, K_CURVE, chunk),
    }
    metrics = {name: metrics_at(test, p, K, catalog, catalog_vectors) for name, p in preds.items()}
    test_pairs = pd.MultiIndex.from_frame(test[["user_id", "artist_id"]])
    h = preds["hybrid"]
    hybrid_scores = pd.DataFrame({"ranker_score": h["ranker_score"].to_numpy(),
                                  "hit": pd.MultiIndex.from_frame(h[["user_id", "artist_id"]]).isin(test_pairs)})
    curves = {name: curve(test, p) for name, p in preds.items()}
    log(f"seed {seed}: " + "  ".join(f"{n} ndcg@10={m['ndcg_at_10']:.4f}" for n, m in metrics.items())
        + f"  ({time.perf_counter() - t0:.0f}s)")
    return {"seed": seed, "metrics": metrics, "curves": curves, "preds": preds, "hybrid_scores": hybrid_scores,
            "ranker": ranker, "tuned": tuned, "grid": grid, "ranker_stats": rstats, "n_train": len(train), "n_test": len(test),
            "n_test_users": len(users), "seconds": time.perf_counter() - t0, "seconds_validation": t_valid}


def train(data: TrainingData | pd.DataFrame, config: RecommenderConfig | dict | None = None) -> TrainResult:
    from threadpoolctl import threadpool_limits

    cfg = RecommenderConfig.resolve(config)
    started = time.perf_counter()
    # load every BLAS / OpenMP user first: threadpool_limits only reaches libraries already loaded
    import faiss
    import lightfm  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    import torch  # noqa: F401

    faiss_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(cfg.blas_threads)
    try:
        with threadpool_limits(cfg.blas_threads):
            return _train(TrainingData.of(data), cfg, started)
    finally:
        faiss.omp_set_num_threads(faiss_threads)


def _train(data: TrainingData, cfg: RecommenderConfig, started: float) -> TrainResult:
    from ml.models.recommender.model import RecommenderModel
    from ml.models.recommender.report import figures_and_tables

    tables = side_tables(data)
    plays = tables["plays"]
    plays = plays[plays["weight"] > 0].reset_index(drop=True)
    if cfg.max_users and plays["user_id"].nunique() > cfg.max_users:
        rng = np.random.default_rng(0)
        keep = rng.choice(np.sort(plays["user_id"].unique()), cfg.max_users, replace=False)
        plays = plays[plays["user_id"].isin(keep)].reset_index(drop=True)
    vocab = Vocab(np.sort(plays["user_id"].unique()), np.sort(plays["artist_id"].unique()))
    side = track_side(tables["tracks"], cfg.genre_weight, None, cfg.exact_max)
    # item vectors for the diversity metric only: tag TF-IDF/SVD over all tag assignments (a fixed ruler)
    ruler = artist_tag_vectors(tag_counts(tables["tagged"], vocab, 20, 2), vocab.n_items, 64, seed=0)
    has = np.abs(ruler).sum(axis=1) > 0
    catalog_vectors = pd.DataFrame(ruler[has], index=vocab.item_ids[has])

    runs, tuned = [], None
    for seed in cfg.seeds:
        run = run_seed(plays, tables, vocab, side, cfg, seed, tuned, catalog_vectors,
                       log=print if cfg.verbose else (lambda *_: None))
        tuned = run["tuned"]
        runs.append(run)
    eval_seconds = time.perf_counter() - started

    # the served model: components refit on every interaction, the first seed's ranker
    comp = fit_components(plays, tables, vocab, side, cfg, cfg.seeds[0], held_out=None,
                          ease_lambda=tuned["lambda"], ease_alpha=tuned["alpha"])
    model = RecommenderModel(comp, runs[0]["ranker"], side, tables["artists"], cfg)

    summary = {name: {} for name in runs[0]["metrics"]}
    for name in summary:
        for key in METRIC_KEYS:
            vals = np.array([r["metrics"][name][key] for r in runs], dtype=float)
            summary[name][key] = float(np.nanmean(vals))
            if len(vals) > 1:
                summary[name][f"{key}_std"] = float(np.nanstd(vals, ddof=1))
    figures, out_tables = figures_and_tables(runs, summary)
    first = runs[0]
    metrics = dict(summary["hybrid"])
    metrics["ndcg_lift_vs_most_popular"] = metrics["ndcg_at_10"] / max(summary["most_popular"]["ndcg_at_10"], 1e-12)
    input_example = example_input(plays, side)
    return TrainResult(
        model=model,
        metrics=metrics,
        baseline=summary["most_popular"],
        split=(f"per-user random holdout {cfg.test_frac:.0%} of each user's artists (users with >= "
               f"{cfg.min_interactions}), seeds {list(cfg.seeds)}, mean over seeds; ranker and EASE lambda "
               f"tuned on a {cfg.valid_frac:.0%} validation slice of train; artist level"),
        n_train=int(first["n_train"]),
        n_test=int(first["n_test"]),
        params={
            "ease_lambda": tuned["lambda"], "ease_side_info_alpha": tuned["alpha"], "features": ",".join(FEATURES),
            "n_users": vocab.n_users, "n_artists": vocab.n_items,
            "n_tracks_indexed": len(side.tracks), "linked_artists": int(len(comp.item_tracks)),
            "eval_seconds": round(eval_seconds, 1), "train_seconds": round(time.perf_counter() - started, 1),
            **{f"seed{r['seed']}_{k}": v for r in runs for k, v in r["ranker_stats"].items()},
        },
        figures=figures,
        tables=out_tables,
        input_example=input_example,
        extra={"ease": summary["ease"], "lightfm": summary["lightfm"]},
        config=cfg,
    )


def example_input(plays: pd.DataFrame, side) -> pd.DataFrame:
    """A known user and a similar-tracks query (user_id 0 = anonymous).

    No missing values in integer columns: MLflow infers a nullable integer column as optional
    but then cannot enforce it (NA -> int64 fails), so the logged signature has user_id
    (long, required) and track_id (string, optional). Through a loaded pyfunc, lake-shaped rows
    keep user_id (artist_id / weight are dropped by MLflow with a warning); called directly,
    the model uses them as well (see model.py).
    """
    track = side.tracks["track_id"].iloc[0] if len(side.tracks) else None
    return pd.DataFrame({"user_id": np.array([int(plays["user_id"].iloc[0]), 0], dtype="int64"),
                         "track_id": np.array([None, track], dtype=object)})
