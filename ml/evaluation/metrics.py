"""Metrics as small pure functions (numpy arrays in, floats out), built on scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def top_k_accuracy(y_true_sets: list[set], proba: np.ndarray, classes: np.ndarray, k: int = 1) -> float:
    """Share of rows whose top-k predicted classes hit any of the row's true labels.

    A track listed under several genres counts as correct if any of them is predicted.
    """
    top = np.argsort(-proba, axis=1)[:, :k]
    hits = [bool(set(classes[t]) & truth) for t, truth in zip(top, y_true_sets, strict=True)]
    return float(np.mean(hits)) if hits else float("nan")


def macro_f1(y_true, y_pred) -> float:
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


def accuracy(y_true, y_pred) -> float:
    return float(skm.accuracy_score(y_true, y_pred))


def regression_report(y_true, y_pred) -> dict[str, float]:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
    }


def interval_coverage(y_true, lower, upper) -> float:
    y = np.asarray(y_true, float)
    return float(np.mean((y >= np.asarray(lower)) & (y <= np.asarray(upper))))


def interval_width(lower, upper) -> float:
    return float(np.mean(np.asarray(upper) - np.asarray(lower)))


def pearson_r(y_true, y_pred) -> float:
    y, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    if y.std() == 0 or p.std() == 0:
        return 0.0
    return float(np.corrcoef(y, p)[0, 1])
