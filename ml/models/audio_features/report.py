"""Audio-feature reports: confidence calibration table and the figures logged with each run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.models.audio_features.features import FEATURES


def confidence_report(conf, completeness, err):
    from scipy.stats import spearmanr

    q = pd.qcut(pd.Series(conf).rank(method="first"), 4, labels=["q1_low", "q2", "q3", "q4_high"])
    table = (pd.DataFrame({"confidence_quartile": q, "confidence": conf, "completeness": completeness,
                           "mean_norm_abs_error": err})
             .groupby("confidence_quartile", observed=True).agg(["mean", "count"]).reset_index())
    table.columns = ["_".join(c).strip("_") for c in table.columns]
    rho = spearmanr(conf, err).statistic if np.std(conf) > 0 else 0.0
    return table, {"spearman_confidence_vs_error": float(rho), "mean_confidence": float(np.mean(conf))}


def figures(y, pred, base, metrics, baseline, hist):
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
