"""The audio-feature network: a small multi-task PyTorch net with MC dropout, and its training loop."""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np

from ml.models.audio_features.config import AudioFeaturesConfig
from ml.models.audio_features.features import FEATURES, FeatureBuilder

# relative loss weights: rarer / skewed targets weigh more (speechiness and liveness are mostly near 0)
LOSS_WEIGHTS = {
    "energy": 1.0, "valence": 1.0, "danceability": 1.2, "tempo": 1.2,
    "acousticness": 1.5, "instrumentalness": 1.5, "liveness": 2.0, "speechiness": 2.0,
}


@contextmanager
def torch_threads(n: int):
    """Run torch ops with `n` intra-op threads (at most the `torch_max_threads` setting), then restore
    the caller's setting."""
    import torch

    from ml.settings import get_settings

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(n, get_settings().torch_max_threads)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_net(d_text: int, n_genre: int, n_tag: int, d_meta: int, hidden: int, emb_dim: int, dropout: float,
               text_dim: int = 128, text_dropout: float = 0.1):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class MCDropout(nn.Module):
        """Dropout; in MC mode (`mc` = T stacked copies of the batch) pass t uses one mask shared by all rows,
        so a row's MC samples do not depend on which other rows share its batch (single row == in batch)."""

        def __init__(self, p: float):
            super().__init__()
            self.p, self.mc, self.gen = p, 0, None

        def forward(self, x):
            if self.mc and self.p > 0:
                keep = torch.rand((self.mc, 1, x.shape[-1]), generator=self.gen) >= self.p
                return (x.reshape(self.mc, -1, x.shape[-1]) * keep / (1 - self.p)).reshape(x.shape)
            return F.dropout(x, self.p, self.training)

    class AudioNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.text = nn.Sequential(MCDropout(text_dropout), nn.Linear(d_text, text_dim), nn.GELU(),
                                      MCDropout(dropout))
            # a linear map of a row-normalised multi-hot = mean of the learned embeddings of its genres/tags
            self.genre = nn.Linear(max(n_genre, 1), emb_dim, bias=False)
            self.tag = nn.Linear(max(n_tag, 1), emb_dim, bias=False)
            self.meta = nn.Sequential(nn.Linear(d_meta, 32), nn.GELU())
            self.fusion = nn.Sequential(
                nn.LayerNorm(text_dim + 2 * emb_dim + 32),
                nn.Linear(text_dim + 2 * emb_dim + 32, hidden), nn.GELU(), MCDropout(dropout),
                nn.Linear(hidden, 128), nn.GELU(), MCDropout(dropout),
            )
            self.heads = nn.ModuleList(nn.Linear(128, 1) for _ in FEATURES)

        def forward(self, text, genre, tag, meta):
            h = torch.cat([self.text(text), self.genre(genre), self.tag(tag), self.meta(meta)], dim=1)
            z = self.fusion(h)
            return torch.sigmoid(torch.cat([head(z) for head in self.heads], dim=1))

        def mc_samples(self, parts, n_samples: int, seed: int = 0):
            """(n_samples, rows, 8) predictions under `n_samples` fixed dropout masks (seeded: reproducible)."""
            gen = torch.Generator().manual_seed(seed)
            drops = [m for m in self.modules() if isinstance(m, MCDropout)]
            for m in drops:
                m.mc, m.gen = n_samples, gen
            try:
                out = self(*[p.repeat(n_samples, 1) for p in parts])
            finally:
                for m in drops:
                    m.mc, m.gen = 0, None
            return out.reshape(n_samples, len(parts[0]), -1)

    return AudioNet()


def pad(a: np.ndarray) -> np.ndarray:
    """Zero-width genre/tag blocks become one all-zero column (the net needs >= 1 input)."""
    return a if a.shape[1] else np.zeros((a.shape[0], 1), np.float32)


def fit_net(Xtr, ytr, Xva, yva, builder: FeatureBuilder, cfg: AudioFeaturesConfig) -> tuple[Any, dict, list[dict]]:
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    arch = {"d_text": Xtr["text"].shape[1], "n_genre": len(builder.genres), "n_tag": len(builder.tags),
            "d_meta": builder.meta_dim, "hidden": cfg.hidden, "emb_dim": cfg.emb_dim, "dropout": cfg.dropout,
            "text_dim": cfg.text_dim, "text_dropout": cfg.text_dropout}
    net = build_net(**arch)
    w = torch.tensor([LOSS_WEIGHTS[f] for f in FEATURES], dtype=torch.float32)
    w = w / w.sum()

    def tensors(X, y):
        return [torch.from_numpy(np.ascontiguousarray(pad(X[k]), dtype=np.float32))
                for k in ("text", "genre", "tag", "meta")] + [torch.from_numpy(y)]

    tr, va = tensors(Xtr, ytr), tensors(Xva, yva)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(ytr) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
    midx = builder.meta_index()
    p_drop = cfg.modality_dropout
    history, best, best_state, bad = [], math.inf, None, 0

    def loss_fn(pred, y):
        return (((pred - y) ** 2).mean(0) * w).sum()

    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.from_numpy(rng.permutation(len(ytr)))
        total = 0.0
        for s in range(0, len(ytr), cfg.batch_size):
            b = perm[s:s + cfg.batch_size]
            text, genre, tag, meta, y = (t[b] for t in tr)  # fancy indexing copies
            if p_drop > 0:  # hide optional inputs at random so rows with gaps are in-distribution
                m = torch.from_numpy(rng.random(len(b)) < p_drop)
                genre[m] = 0.0
                meta[m, midx["has_genre"][0]] = 0.0
                m = torch.from_numpy(rng.random(len(b)) < p_drop)
                tag[m] = 0.0
                meta[m, midx["has_tags"][0]] = 0.0
                for c in builder.numeric:
                    m = torch.from_numpy(rng.random(len(b)) < p_drop)
                    meta[m, midx[c][0]] = 0.0
                    meta[m, midx[c][1]] = 0.0
            loss = loss_fn(net(text, genre, tag, meta), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        net.eval()
        with torch.no_grad():
            val = float(loss_fn(net(*va[:4]), va[4]))
        history.append({"epoch": epoch + 1, "train_loss": total / len(ytr), "val_loss": val})
        if val < best - 1e-6:
            best, bad = val, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return net, arch, history
