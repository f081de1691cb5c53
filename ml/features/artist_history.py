"""Leakage-safe target history per key (artist, album, genre ...), fitted on training rows only.

`TargetHistory` keeps, per key, the sum / count / max of the target over the training rows
and turns them into features:

- ``<prefix>_mean``: Bayesian (smoothed) mean, ``(sum + w * prior) / (n + w)``, pulled toward
  the global training mean with prior weight ``w``; a key never seen gets exactly the prior;
- ``<prefix>_n``: how many training rows carry the key;
- ``<prefix>_max``: the largest target among them (NaN when there are none).

Rows may carry several keys (a list, e.g. every genre a track is listed under; duplicates
within a row are dropped): their stats are pooled (sums and counts add up, max of maxes)
before smoothing.

For the training rows themselves use `fit_transform_oof`: K-fold *within the training set*,
each row's features come only from the other folds, so a row never sees its own target
(nor that of any row sharing its fold group). `transform` on new rows uses the full fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def smoothed_mean(total: np.ndarray, count: np.ndarray, prior: float, weight: float) -> np.ndarray:
    """Bayesian mean toward `prior` with pseudo-count `weight`; count 0 -> prior."""
    total, count = np.asarray(total, float), np.asarray(count, float)
    denom = count + weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (total + weight * prior) / np.where(denom > 0, denom, 1.0), prior)


def fold_ids(groups: Sequence, n_splits: int, seed: int = 42) -> np.ndarray:
    """Fold number per row; all rows of a group share a fold; groups shuffled, folds balanced by group count."""
    codes, uniq = pd.factorize(pd.Series(list(groups)), sort=False)
    rng = np.random.default_rng(seed)
    group_fold = rng.permutation(len(uniq)) % n_splits
    return group_fold[codes]


def _as_key_lists(keys: Iterable) -> list[list]:
    out = []
    for k in keys:
        if isinstance(k, list | tuple | np.ndarray | set):
            out.append(list(dict.fromkeys(x for x in k if x is not None and x == x)))
        elif k is None or (isinstance(k, float) and np.isnan(k)):
            out.append([])
        else:
            out.append([k])
    return out


@dataclass
class TargetHistory:
    prefix: str
    prior_weight: float = 5.0
    global_mean_: float = float("nan")
    stats_: dict = field(default_factory=dict)  # key -> (sum, n, max)

    @property
    def columns(self) -> list[str]:
        return [f"{self.prefix}_mean", f"{self.prefix}_n", f"{self.prefix}_max"]

    # -- fitting ---------------------------------------------------------------------------
    @staticmethod
    def _stats(key_lists: list[list], y: np.ndarray) -> dict:
        if not key_lists:
            return {}
        lens = np.fromiter((len(k) for k in key_lists), int, len(key_lists))
        flat = pd.DataFrame({"key": [x for k in key_lists for x in k], "y": np.repeat(y, lens)})
        if flat.empty:
            return {}
        agg = flat.groupby("key", sort=False)["y"].agg(["sum", "count", "max"])
        return {k: (float(s), int(n), float(m)) for k, s, n, m in agg.itertuples(name=None)}

    def fit(self, keys: Iterable, y, global_mean: float | None = None) -> TargetHistory:
        y = np.asarray(y, float)
        self.global_mean_ = float(np.mean(y)) if global_mean is None else float(global_mean)
        self.stats_ = self._stats(_as_key_lists(keys), y)
        return self

    # -- features --------------------------------------------------------------------------
    def _features(self, key_lists: list[list], stats: dict, prior: float) -> pd.DataFrame:
        n_rows = len(key_lists)
        tot, cnt, mx = np.zeros(n_rows), np.zeros(n_rows), np.full(n_rows, np.nan)
        for i, ks in enumerate(key_lists):
            for k in ks:
                s = stats.get(k)
                if s is not None:
                    tot[i] += s[0]
                    cnt[i] += s[1]
                    mx[i] = s[2] if np.isnan(mx[i]) else max(mx[i], s[2])
        return pd.DataFrame({
            f"{self.prefix}_mean": smoothed_mean(tot, cnt, prior, self.prior_weight),
            f"{self.prefix}_n": cnt,
            f"{self.prefix}_max": mx,
        })

    def transform(self, keys: Iterable) -> pd.DataFrame:
        """Features for new rows from the full training fit (unseen keys -> prior, n 0, max NaN)."""
        return self._features(_as_key_lists(keys), self.stats_, self.global_mean_)

    def fit_transform_oof(self, keys: Iterable, y, folds: np.ndarray) -> pd.DataFrame:
        """Fit on all rows; return out-of-fold features for those same rows.

        Row i's features are built from rows whose fold differs from fold i only, so they never
        include its own target. The prior is the global mean of the full training set.
        """
        key_lists, y, folds = _as_key_lists(keys), np.asarray(y, float), np.asarray(folds)
        self.fit(key_lists, y)
        out = pd.DataFrame(index=range(len(key_lists)), columns=self.columns, dtype=float)
        for f in np.unique(folds):
            inside = folds == f
            outside_lists = [k for k, o in zip(key_lists, ~inside, strict=True) if o]
            stats = self._stats(outside_lists, y[~inside])
            rows = np.flatnonzero(inside)
            feats = self._features([key_lists[i] for i in rows], stats, self.global_mean_)
            out.iloc[rows] = feats.to_numpy()
        return out
