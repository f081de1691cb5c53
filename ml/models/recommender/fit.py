"""Fit every component of the hybrid on one set of training interactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.models.recommender.components import (
    Ease,
    TrackEncoder,
    Vocab,
    allowed_tags,
    artist_tag_vectors,
    build_index,
    ease_gram,
    fit_ease,
    fit_lightfm,
    interaction_matrix,
    l2_normalise,
    lightfm_item_features,
    popularity,
    serialize_index,
    tag_counts,
    tag_gram,
)
from ml.models.recommender.config import RecommenderConfig
from ml.models.recommender.hybrid import Components


@dataclass
class TrackSide:
    """The Spotify track catalogue, embedded once (it does not depend on interactions)."""

    tracks: pd.DataFrame  # track_id, track_name, artists, artist_key, popularity (positional = index rows)
    encoder: TrackEncoder
    vecs: np.ndarray
    index_blob: bytes


def track_side(tracks: pd.DataFrame, genre_weight: float, extra: pd.DataFrame | None = None,
               exact_max: int = 100_000) -> TrackSide:
    tracks = tracks.reset_index(drop=True)
    if tracks.empty:
        enc = TrackEncoder(np.zeros(10), np.ones(10), [], genre_weight)
        vecs = np.zeros((0, 11), dtype=np.float32)
    else:
        enc = TrackEncoder.fit(tracks, genre_weight, extra)
        vecs = enc.encode(tracks, extra)
    keep = [c for c in ("track_id", "track_name", "artists", "artist_key", "popularity") if c in tracks.columns]
    return TrackSide(tracks[keep].copy(), enc, vecs, serialize_index(build_index(vecs, exact_max)))


def link_tracks(side: TrackSide, artists: pd.DataFrame, vocab: Vocab, n_users_item: np.ndarray):
    """Per track: the vocabulary index of its Last.fm artist (by artist_key; the most played id wins), or -1."""
    a = artists.dropna(subset=["artist_key"]).assign(item=lambda d: vocab.items(d["artist_id"]))
    a = a[a["item"] >= 0]
    a = a.assign(n=n_users_item[a["item"].to_numpy()]).sort_values(["n", "artist_id"], ascending=[False, True])
    key_to_item = a.drop_duplicates("artist_key").set_index("artist_key")["item"]
    if side.tracks.empty:
        return np.zeros(0, dtype=np.int64)
    return side.tracks["artist_key"].map(key_to_item).fillna(-1).astype(np.int64).to_numpy()


def side_info_counts(tables: dict, vocab: Vocab, cfg: RecommenderConfig, held_out: pd.DataFrame | None) -> pd.DataFrame:
    """Per-artist tag counts (top `tag_top_n` tags) without the held-out pairs' own tag assignments."""
    return tag_counts(allowed_tags(tables["tagged"], held_out), vocab, cfg.tag_top_n, cfg.tag_min_artists)


def fit_side_ease(X, counts: pd.DataFrame, vocab: Vocab, cfg: RecommenderConfig, lam: float, alpha: float) -> Ease:
    """EASE with tag side information (alpha = 0: plain EASE) on artists with >= ease_min_users users."""
    items, G = ease_gram(X, cfg.ease_min_users)
    if alpha:
        G += np.float32(alpha) * tag_gram(counts, vocab.n_items, items)
    return fit_ease(items, G, lam)


def fit_components(plays: pd.DataFrame, tables: dict[str, pd.DataFrame], vocab: Vocab, side: TrackSide, cfg: RecommenderConfig,
                   seed: int, held_out: pd.DataFrame | None = None, ease_lambda: float | None = None,
                   ease_alpha: float = 0.0, ease: Ease | None = None) -> Components:
    """LightFM + side-information EASE + tag vectors + artist/track FAISS indexes on `plays`.

    held_out: (user_id, artist_id) pairs hidden from this fit; their tag assignments are dropped too.
    ease: an EASE already fitted on the same `plays` and tags (else fitted here with `ease_lambda`, `ease_alpha`).
    """
    X = interaction_matrix(plays, vocab, "binary")
    W = interaction_matrix(plays, vocab, "log")
    n_users_item = popularity(X)
    plays_item = np.bincount(vocab.items(plays["artist_id"]), weights=plays["weight"].to_numpy(dtype=np.float64),
                             minlength=vocab.n_items)
    share = (n_users_item + 1.0) / (n_users_item.sum() + vocab.n_items)

    tagged = allowed_tags(tables["tagged"], held_out)
    lfm_counts = tag_counts(tagged, vocab, cfg.lfm_tag_top_n, cfg.lfm_tag_min_artists)
    F = lightfm_item_features(lfm_counts, vocab.n_items, cfg.lfm_tag_weight) if cfg.lfm_tags else None
    lfm = fit_lightfm(X, W, F, components=cfg.lfm_components, epochs=cfg.lfm_epochs,
                      learning_rate=cfg.lfm_lr, alpha=cfg.lfm_alpha, max_sampled=cfg.lfm_max_sampled,
                      seed=seed, num_threads=cfg.num_threads)

    vec_counts = tag_counts(tagged, vocab, cfg.tag_top_n, cfg.tag_min_artists)
    if ease is None:
        ease = fit_side_ease(X, vec_counts, vocab, cfg, ease_lambda if ease_lambda is not None else cfg.ease_lambda,
                             ease_alpha)
    if cfg.ease_keep:
        ease = ease.pruned(cfg.ease_keep)
    artist_vec = artist_tag_vectors(vec_counts, vocab.n_items, cfg.tag_dim, seed)

    track_item = link_tracks(side, tables["artists"], vocab, n_users_item)
    artist_audio = np.zeros((vocab.n_items, side.vecs.shape[1]), dtype=np.float32)
    item_tracks: dict[int, np.ndarray] = {}
    if len(track_item):
        linked = np.flatnonzero(track_item >= 0)
        np.add.at(artist_audio, track_item[linked], side.vecs[linked])
        pop = pd.to_numeric(side.tracks.get("popularity"), errors="coerce").fillna(0).to_numpy()
        order = linked[np.lexsort((linked, -pop[linked]))]
        for t in order:
            item_tracks.setdefault(int(track_item[t]), []).append(t)
        item_tracks = {i: np.asarray(v, dtype=np.int64) for i, v in item_tracks.items()}
    artist_audio = l2_normalise(artist_audio)

    friends = None
    fr = tables.get("friends")
    if fr is not None and len(fr):
        r, c = vocab.users(fr["user_id"]), vocab.users(fr["friend_id"])
        ok = (r >= 0) & (c >= 0) & (r != c)
        F = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (r[ok], c[ok])), shape=(vocab.n_users,) * 2)
        F = ((F + F.T) > 0).astype(np.float32)
        deg = np.asarray(F.sum(axis=1)).ravel()
        friends = (sp.diags(1.0 / np.maximum(deg, 1.0)).astype(np.float32) @ F).tocsr()

    return Components(
        vocab=vocab, X=X, W=W, n_users_item=n_users_item,
        log_plays=np.log1p(plays_item).astype(np.float32),
        novelty=(-np.log(share)).astype(np.float32),
        lfm=lfm, ease=ease, artist_vec=artist_vec, artist_audio=artist_audio,
        artist_index_blob=serialize_index(build_index(artist_vec, cfg.exact_max)),
        track_vecs=side.vecs, track_index_blob=side.index_blob,
        track_item=track_item, item_tracks=item_tracks, friends=friends,
    )
