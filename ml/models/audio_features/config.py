"""The audio-feature model's typed training config (see ml/models/base.py: `ModelConfig`)."""

from __future__ import annotations

from typing import Any, ClassVar

from ml.models.base import ModelConfig


class AudioFeaturesConfig(ModelConfig):
    """Audio-feature training knobs; the defaults are the full configuration."""

    seed: int = 42
    test_size: float = 0.2
    val_size: float = 0.15  # share of training *artists* held out for early stopping
    max_rows: int | None = None  # subsample deduplicated tracks (fast mode)
    epochs: int = 80
    patience: int = 12
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.05
    dropout: float = 0.4
    hidden: int = 256
    emb_dim: int = 32
    text_dim: int = 32
    text_dropout: float = 0.3
    n_tags: int = 300  # Last.fm tag vocabulary size (most widespread tags)
    modality_dropout: float = 0.15
    mc_samples: int = 16
    grad_clip: float = 1.0
    gbm_max_iter: int = 300
    torch_threads: int = 1  # the net is tiny: 1 intra-op thread; 2 spin-wait badly on the shared 2-core box

    FAST: ClassVar[dict[str, Any]] = {
        "max_rows": 1200, "epochs": 8, "patience": 4, "lr": 3e-3, "gbm_max_iter": 40, "mc_samples": 8,
    }
