"""The recommender's typed training config (see ml/models/base.py: `ModelConfig`)."""

from __future__ import annotations

from typing import Any, ClassVar

from ml.models.base import ModelConfig
from ml.models.recommender.hybrid import CandidateConfig


class RecommenderConfig(ModelConfig):
    """Recommender training knobs; the defaults are the full configuration."""

    verbose: bool = True  # one line per seed on stdout
    seeds: tuple[int, ...] = (0, 1, 2)
    test_frac: float = 0.2
    valid_frac: float = 0.2
    min_interactions: int = 5
    max_users: int | None = None  # a random subset of users (fast mode)
    num_threads: int = 2  # LightFM (Hogwild) threads
    # BLAS / FAISS threads: 1. Measured on the shared 2-core box under load, 2 OpenBLAS threads made the
    # EASE inverse 1.5x and the tag SVD ~20x slower (spin-waiting); the ranker trains on 1 torch thread.
    blas_threads: int = 1
    # LightFM WARP on 1 + log(plays) sample weights, identity + top-N tag item features
    lfm_components: int = 64
    lfm_epochs: int = 20
    lfm_lr: float = 0.05
    lfm_alpha: float = 1e-6
    lfm_max_sampled: int = 30
    lfm_tags: bool = True
    lfm_tag_top_n: int = 10
    lfm_tag_min_artists: int = 5
    lfm_tag_weight: float = 1.0
    # EASE on artists with >= ease_min_users training users; lambda picked on validation
    ease_min_users: int = 3
    ease_lambdas: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0)
    ease_lambda: float = 100.0  # used when the grid has one value
    ease_alphas: tuple[float, ...] = (0.0, 10.0, 20.0, 40.0)  # the hybrid's EASE adds alpha * (tag Gram)
    ease_keep: int | None = 512  # the hybrid keeps the 512 largest |EASE weights| per artist (stores small)
    # artist tag vectors (content) and track embeddings
    tag_top_n: int = 20
    tag_min_artists: int = 2
    tag_dim: int = 64
    genre_weight: float = 1.0
    exact_max: int = 100_000
    # candidate-generation sizes per user (LightFM, EASE, tag/track neighbours, popular)
    candidates: CandidateConfig = CandidateConfig()
    # ranker + re-rank
    ranker_hidden: tuple[int, ...] = (32, 16)
    ranker_epochs: int = 30
    ranker_lr: float = 3e-3
    mmr_lambda: float = 0.9
    mmr_pool: int = 50
    user_chunk: int = 256

    FAST: ClassVar[dict[str, Any]] = {
        "seeds": (0,), "max_users": 300, "lfm_epochs": 5, "lfm_components": 32, "ease_lambdas": (100.0,),
        "ease_alphas": (20.0,), "ranker_epochs": 8, "tag_dim": 32, "candidates": {"n_cf": 50, "n_ease": 50},
    }
