"""Ranking metrics as small pure functions over DataFrames with explicit column names.

Shaped like the `recommenders` library: `rating_true` holds the held-out relevant
(user, item) pairs, `rating_pred` the scored recommendations (any number per user; the
top `k` by `col_prediction` count, ties broken by row order). Relevance is binary: an item
is relevant to a user when the pair is in `rating_true`.

Averaging: every user in `rating_true` counts, including users who received no
recommendation (they score 0). This is stricter than `recommenders`, which averages over
users present on both sides only.

Definitions at cut-off k, per user, then averaged over users:
- precision@k  hits in the top k / k
- recall@k     hits in the top k / number of relevant items
- hit_rate@k   1 if at least one hit in the top k
- ndcg@k       DCG / IDCG with DCG = sum over hits of 1 / log2(rank + 1) (rank from 1) and
               IDCG the DCG of a perfect list of min(k, n_relevant) hits
- map@k        AP@k = sum over hit ranks r of precision@r / min(k, n_relevant)

Catalogue coverage is the share of the catalogue that appears in anyone's top k.
Intra-list diversity is the mean pairwise cosine distance (1 - cos) between the items of a
user's top k, measured on item vectors you pass (for artists: tag vectors), averaged over
users with at least two vectorised items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

USER, ITEM, PRED = "user_id", "item_id", "score"


def top_k_items(rating_pred: pd.DataFrame, col_user: str = USER, col_prediction: str = PRED, k: int = 10) -> pd.DataFrame:
    """The top `k` rows per user by score (stable for ties), with a 1-based `rank` column."""
    df = rating_pred.sort_values([col_user, col_prediction], ascending=[True, False], kind="stable")
    df = df.assign(rank=df.groupby(col_user, sort=False).cumcount() + 1)
    return df[df["rank"] <= k].reset_index(drop=True)


def _hit_table(
    rating_true: pd.DataFrame, rating_pred: pd.DataFrame, col_user: str, col_item: str, col_prediction: str, k: int
) -> tuple[pd.DataFrame, pd.Series]:
    """(hits with their rank, number of relevant items per user) for the users in `rating_true`."""
    truth = rating_true[[col_user, col_item]].drop_duplicates()
    n_rel = truth.groupby(col_user).size().rename("n_rel")
    top = top_k_items(rating_pred, col_user, col_prediction, k)[[col_user, col_item, "rank"]]
    hits = top.merge(truth, on=[col_user, col_item], how="inner")
    return hits, n_rel


def _average(per_user: pd.Series, n_rel: pd.Series) -> float:
    if len(n_rel) == 0:
        return float("nan")
    return float(per_user.reindex(n_rel.index, fill_value=0.0).mean())


def precision_at_k(rating_true, rating_pred, col_user=USER, col_item=ITEM, col_prediction=PRED, k=10) -> float:
    hits, n_rel = _hit_table(rating_true, rating_pred, col_user, col_item, col_prediction, k)
    return _average(hits.groupby(col_user).size() / k, n_rel)


def recall_at_k(rating_true, rating_pred, col_user=USER, col_item=ITEM, col_prediction=PRED, k=10) -> float:
    hits, n_rel = _hit_table(rating_true, rating_pred, col_user, col_item, col_prediction, k)
    per_user = hits.groupby(col_user).size()
    return _average(per_user / n_rel.reindex(per_user.index), n_rel)


def hit_rate_at_k(rating_true, rating_pred, col_user=USER, col_item=ITEM, col_prediction=PRED, k=10) -> float:
    hits, n_rel = _hit_table(rating_true, rating_pred, col_user, col_item, col_prediction, k)
    per_user = hits.groupby(col_user).size().clip(upper=1).astype(float)
    return _average(per_user, n_rel)


def _idcg(n: np.ndarray, k: int) -> np.ndarray:
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    return discounts[np.minimum(n, k) - 1]


def ndcg_at_k(rating_true, rating_pred, col_user=USER, col_item=ITEM, col_prediction=PRED, k=10) -> float:
    hits, n_rel = _hit_table(rating_true, rating_pred, col_user, col_item, col_prediction, k)
    dcg = (1.0 / np.log2(hits["rank"] + 1.0)).groupby(hits[col_user]).sum()
    idcg = pd.Series(_idcg(n_rel.to_numpy(), k), index=n_rel.index)
    return _average(dcg / idcg.reindex(dcg.index), n_rel)


def map_at_k(rating_true, rating_pred, col_user=USER, col_item=ITEM, col_prediction=PRED, k=10) -> float:
    hits, n_rel = _hit_table(rating_true, rating_pred, col_user, col_item, col_prediction, k)
    hits = hits.sort_values([col_user, "rank"])
    hit_no = hits.groupby(col_user).cumcount() + 1
    ap = (hit_no / hits["rank"]).groupby(hits[col_user]).sum()
    return _average(ap / n_rel.reindex(ap.index).clip(upper=k), n_rel)


def catalog_coverage(
    rating_pred: pd.DataFrame, catalog: Iterable, col_user=USER, col_item=ITEM, col_prediction=PRED, k=10
) -> float:
    """Share of `catalog` items recommended (in someone's top k) at least once."""
    catalog = set(catalog)
    if not catalog:
        return float("nan")
    top = top_k_items(rating_pred, col_user, col_prediction, k)
    return len(set(top[col_item]) & catalog) / len(catalog)


def intra_list_diversity(
    rating_pred: pd.DataFrame,
    item_vectors: Mapping | pd.DataFrame,
    col_user=USER,
    col_item=ITEM,
    col_prediction=PRED,
    k=10,
) -> float:
    """Mean over users of the mean pairwise (1 - cosine) between their top-k items' vectors.

    `item_vectors`: a DataFrame indexed by item (one numeric column per dimension) or a
    mapping item -> vector. Items without a vector (or with a zero vector) are ignored; users
    left with fewer than two vectorised items are skipped.
    """
    if isinstance(item_vectors, pd.DataFrame):
        index = {item: i for i, item in enumerate(item_vectors.index)}
        mat = item_vectors.to_numpy(dtype=np.float64)
    else:
        keys = list(item_vectors)
        index = {item: i for i, item in enumerate(keys)}
        mat = np.array([np.asarray(item_vectors[key], dtype=np.float64) for key in keys])
    norms = np.linalg.norm(mat, axis=1) if len(mat) else np.zeros(0)
    unit = mat / np.where(norms > 0, norms, 1.0)[:, None] if len(mat) else mat
    top = top_k_items(rating_pred, col_user, col_prediction, k)
    values = []
    for _, items in top.groupby(col_user, sort=False)[col_item]:
        rows = [index[i] for i in items if i in index and norms[index[i]] > 0]
        if len(rows) < 2:
            continue
        v = unit[rows]
        sim = v @ v.T
        n = len(rows)
        values.append(1.0 - (sim.sum() - np.trace(sim)) / (n * (n - 1)))
    return float(np.mean(values)) if values else float("nan")


def ranking_report(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    catalog: Iterable | None = None,
    item_vectors: Mapping | pd.DataFrame | None = None,
    col_user=USER,
    col_item=ITEM,
    col_prediction=PRED,
    k=10,
) -> dict[str, float]:
    """All the metrics at one k under the `<metric>_at_<k>` keys (+ `coverage`, `diversity`)."""
    args = dict(col_user=col_user, col_item=col_item, col_prediction=col_prediction, k=k)
    out = {
        f"ndcg_at_{k}": ndcg_at_k(rating_true, rating_pred, **args),
        f"map_at_{k}": map_at_k(rating_true, rating_pred, **args),
        f"hit_rate_at_{k}": hit_rate_at_k(rating_true, rating_pred, **args),
        f"precision_at_{k}": precision_at_k(rating_true, rating_pred, **args),
        f"recall_at_{k}": recall_at_k(rating_true, rating_pred, **args),
    }
    if catalog is not None:
        out["coverage"] = catalog_coverage(rating_pred, catalog, **args)
    if item_vectors is not None:
        out["diversity"] = intra_list_diversity(rating_pred, item_vectors, **args)
    return out
