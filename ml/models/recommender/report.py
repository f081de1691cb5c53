"""Figures and tables for the recommender's TrainResult."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LABELS = {"hybrid": "hybrid (ranker + MMR)", "lightfm": "LightFM WARP", "ease": "EASE", "most_popular": "most popular"}


def figures_and_tables(runs: list[dict], summary: dict[str, dict]) -> tuple[dict, dict]:
    models = list(runs[0]["metrics"])
    per_seed = pd.DataFrame([{"seed": r["seed"], "model": m, **r["metrics"][m]} for r in runs for m in models])
    curves = pd.concat([c.assign(model=m, seed=r["seed"]) for r in runs for m, c in r["curves"].items()],
                       ignore_index=True)
    curve_mean = curves.groupby(["model", "k"], sort=False).mean(numeric_only=True).drop(columns="seed").reset_index()

    figures = {}
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    for ax, metric in zip(axes.ravel(), ("ndcg", "hit_rate", "precision", "recall"), strict=True):
        for m in models:
            c = curve_mean[curve_mean["model"] == m]
            ax.plot(c["k"], c[metric], marker="o", ms=3, label=LABELS.get(m, m))
        ax.set_title(f"{metric}@k (test, mean of {len(runs)} seed(s))")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    figures["metrics_at_k.png"] = fig

    fig, ax = plt.subplots(figsize=(7, 4))
    h = runs[0]["hybrid_scores"]
    bins = np.linspace(h["ranker_score"].min(), h["ranker_score"].max(), 40) if len(h) else 10
    ax.hist(h.loc[~h["hit"], "ranker_score"], bins=bins, alpha=0.6, density=True, label="not in test")
    ax.hist(h.loc[h["hit"], "ranker_score"], bins=bins, alpha=0.6, density=True, label="test positive")
    ax.set_xlabel("ranker score (logit) of the hybrid's top-20 per user")
    ax.set_title(f"hybrid score distribution (seed {runs[0]['seed']})")
    ax.legend()
    fig.tight_layout()
    figures["score_distribution.png"] = fig

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("coverage", "diversity"), strict=True):
        means = [summary[m][key] for m in models]
        errs = [summary[m].get(f"{key}_std", 0.0) for m in models]
        ax.bar([LABELS.get(m, m) for m in models], means, yerr=errs, capsize=4, color="tab:blue")
        ax.set_title("catalogue coverage@10 (share of artists in anyone's top 10)" if key == "coverage"
                     else "intra-list diversity@10 (mean 1 - cos of artist tag vectors)", fontsize=9)
        ax.tick_params(axis="x", rotation=20, labelsize=8)
    fig.tight_layout()
    figures["coverage.png"] = fig

    reasons = pd.concat([r["preds"]["hybrid"].query("rank <= 10").assign(seed=r["seed"]) for r in runs])
    reason_table = (reasons.groupby(["seed", "reason"]).size() / reasons.groupby("seed").size()).rename("share")
    tables = {
        "per_seed_metrics.csv": per_seed,
        "metrics_at_k.csv": curve_mean,
        "summary.csv": pd.DataFrame(summary).T.reset_index(names="model"),
        "reasons.csv": reason_table.reset_index(),
        "ranker_history.csv": pd.concat([pd.DataFrame(r["ranker"].history).assign(seed=r["seed"]) for r in runs]),
        "ranker_validation.csv": pd.DataFrame([{"seed": r["seed"], **r["ranker_stats"],
                                                 "seconds": r["seconds"]} for r in runs]),
    }
    if runs[0]["grid"] is not None:
        tables["ease_validation_grid.csv"] = runs[0]["grid"]
    return figures, tables
