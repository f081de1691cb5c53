"""Classification helpers shared by the genre and mood models: calibration, reports, plots.

Pure functions over numpy arrays (and matplotlib figures for the plots). Probabilities are
(n, K) arrays whose columns follow a `classes` array; label sets (a track listed under several
genres) are given as a boolean (n, K) mask `truth`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import minimize_scalar  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

EPS = 1e-9


def log_proba(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, EPS, 1.0))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def tempered(p: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log p / T)."""
    return softmax(log_proba(p) / temperature)


def set_nll(p: np.ndarray, truth: np.ndarray) -> float:
    """Mean negative log-likelihood of the label set: -log sum_{c in set} p_c."""
    return float(-np.mean(np.log(np.clip((p * truth).sum(axis=1), EPS, None))))


def fit_temperature(p: np.ndarray, truth: np.ndarray, bounds=(0.05, 20.0)) -> float:
    """The T minimising the set NLL of softmax(log p / T) (searched on a log scale)."""
    lp = log_proba(p)
    res = minimize_scalar(lambda s: set_nll(softmax(lp / np.exp(s)), truth),
                          bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(res.x))


def truth_mask(label_sets, classes) -> np.ndarray:
    idx = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(label_sets), len(classes)), dtype=bool)
    for r, labels in enumerate(label_sets):
        for lab in labels:
            if lab in idx:
                m[r, idx[lab]] = True
    return m


def resolve_truth(pred, label_sets, primary) -> np.ndarray:
    """One true label per row for F1/confusion: the prediction if it is in the row's set, else the primary label."""
    return np.array([p if p in s else q for p, s, q in zip(pred, label_sets, primary, strict=True)], dtype=object)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 confidence: sum over equal-width bins of |accuracy - confidence| * share."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
    return float(ece)


def per_class_report(y_true, y_pred, labels) -> pd.DataFrame:
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    n_pred = pd.Series(list(y_pred)).value_counts()
    return pd.DataFrame({
        "class": list(labels), "precision": p, "recall": r, "f1": f, "support": s,
        "predicted": [int(n_pred.get(c, 0)) for c in labels],
    })


# ----------------------------------------------------------------------------------- plots


def confusion_figure(y_true, y_pred, labels, title: str):
    """Row-normalised confusion matrix (each row sums to 1), with counts in the labels."""
    cm = skm.confusion_matrix(y_true, y_pred, labels=list(labels)).astype(float)
    norm = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), [f"{c} ({int(cm[i].sum())})" for i, c in enumerate(labels)], fontsize=8)
    for i in range(n):
        for j in range(n):
            if norm[i, j] >= 0.05:
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (test rows)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def per_class_f1_figure(reports: dict[str, pd.DataFrame], title: str):
    """Grouped horizontal bars: F1 per class for each named report (model, baseline ...)."""
    first = next(iter(reports.values()))
    order = first.sort_values("f1")["class"].tolist()
    n, k = len(order), len(reports)
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.28 * n * max(1, k * 0.6)))
    h = 0.8 / k
    for j, (name, rep) in enumerate(reports.items()):
        f1 = rep.set_index("class").reindex(order)["f1"].to_numpy()
        ax.barh(np.arange(n) + j * h, f1, height=h, label=name)
    ax.set_yticks(np.arange(n) + h * (k - 1) / 2, order, fontsize=7 if n > 30 else 9)
    ax.set_xlabel("F1 on test rows")
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def reliability_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, bins: int = 10):
    """Reliability diagram of top-1 confidence vs accuracy, one line per (confidence, correct) pair."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    edges = np.linspace(0, 1, bins + 1)
    for name, (conf, correct) in curves.items():
        conf, correct = np.asarray(conf, float), np.asarray(correct, float)
        which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
        xs, ys = [], []
        for b in range(bins):
            sel = which == b
            if sel.sum() >= 5:
                xs.append(conf[sel].mean())
                ys.append(correct[sel].mean())
        ece = expected_calibration_error(conf, correct)
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("predicted top-1 probability")
    ax.set_ylabel("observed top-1 accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def importance_figure(names, values, title: str, top: int = 25):
    s = pd.Series(np.asarray(values, float), index=list(names)).sort_values().tail(top)
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.28 * len(s)))
    ax.barh(s.index, s.to_numpy())
    ax.set_xlabel("importance")
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig
