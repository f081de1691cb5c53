"""The hybrid: fitted components -> candidates -> features -> small ranker net -> MMR re-rank.

Candidates for a user are the union of
- LightFM top-N and EASE top-N (collaborative; this EASE adds a tag Gram term, see fit.py),
- FAISS neighbours of the user's top artists in the artist tag space, and artists of the
  FAISS neighbours of those artists' Spotify tracks in the track (audio + genre) space
  (content),
- the most popular artists,
minus the artists the user already played.

Features per (user, candidate), in three groups used for explanations:
- cf:         LightFM and EASE scores (raw and as per-user z-scores over all artists),
              "in the EASE item set", item-kNN co-occurrence cosine with the user's artists
              (max, and mean weighted by 1 + log plays), share of the user's Last.fm friends
              who played the artist (from training plays only)
- content:    cosine of the artist's tag vector with the user's play-weighted tag profile,
              max cosine with any artist the user played, cosine of the artist's audio
              centroid with the user's audio profile, has-tags / has-audio flags
- popularity: log(1 + train plays of the artist), novelty = -log(share of users)
(+ context: log number of the user's known artists; constant within a user, so its
attribution below is always 0).

Ranker: an MLP trained with a listwise softmax loss on a validation slice (held-out
positives among candidates vs the candidates the user did not play), early-stopped on
NDCG@10 of a part of the validation users.

Reasons: integrated gradients (16 steps, Riemann midpoints; exact gradients of the ReLU MLP
computed in numpy) from the mean feature vector of the user's own candidate list to the
recommended artist. IG is complete: the attributions add up to score(artist) - score(mean
candidate). They are summed per group and the group with the largest sum is the
recommendation's `reason` ("why this artist rather than a typical candidate for you").
Users the model has never seen have neutral LightFM/friends features (0), so their reasons
come from EASE/kNN item-to-item signals over the artists they gave, content or popularity.
Diversity: MMR over the ranker's top `mmr_pool` with lambda `mmr_lambda`:
argmax lambda * relevance - (1 - lambda) * max cosine (tag vectors) to the already chosen,
relevance = the ranker score min-max scaled over the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ml.models.recommender.components import (
    Ease,
    LightFMFactors,
    Vocab,
    deserialize_index,
    l2_normalise,
)

FEATURES = ["lfm_z", "ease_z", "lfm_raw", "ease_raw", "in_ease", "knn_max", "knn_wmean", "friends",
            "tag_sim", "tag_max", "audio_sim", "has_tags", "has_audio", "log_plays", "novelty", "log_n_user"]
GROUPS = {
    "cf": ["lfm_z", "ease_z", "lfm_raw", "ease_raw", "in_ease", "knn_max", "knn_wmean", "friends"],
    "content": ["tag_sim", "tag_max", "audio_sim", "has_tags", "has_audio"],
    "popularity": ["log_plays", "novelty"],
    "context": ["log_n_user"],
}
REASONS = ("cf", "content", "popularity")


@dataclass
class Components:
    """Everything fitted on one set of training interactions (no ranker)."""

    vocab: Vocab
    X: sp.csr_matrix  # users x items, 1 per known pair
    W: sp.csr_matrix  # users x items, 1 + log(plays)
    n_users_item: np.ndarray  # users per artist (train)
    log_plays: np.ndarray
    novelty: np.ndarray
    lfm: LightFMFactors
    ease: Ease
    artist_vec: np.ndarray  # items x d, L2-normalised tag vectors (zeros: no tags)
    artist_audio: np.ndarray  # items x d_track, L2-normalised audio centroid of linked tracks (zeros: unlinked)
    artist_index_blob: bytes
    track_vecs: np.ndarray  # indexed tracks x d_track, L2-normalised
    track_index_blob: bytes
    track_item: np.ndarray  # per indexed track: item index of its Last.fm artist (-1: unlinked)
    item_tracks: dict[int, np.ndarray] = field(default_factory=dict)  # item -> indexed track rows
    friends: sp.csr_matrix | None = None  # users x users, row-normalised friend links
    _artist_index: object = None
    _track_index: object = None
    _XT: object = None
    _static: object = None

    def static(self) -> dict[str, np.ndarray]:
        """Per-artist arrays every request needs (cached, not pickled)."""
        if self._static is None:
            in_ease = np.zeros(self.vocab.n_items, dtype=np.float32)
            in_ease[self.ease.items] = 1.0
            self._static = {
                "in_ease": in_ease,
                "has_tags": (np.abs(self.artist_vec).sum(axis=1) > 0).astype(np.float32),
                "has_audio": (np.abs(self.artist_audio).sum(axis=1) > 0).astype(np.float32),
                "pop_order": np.argsort(-self.n_users_item, kind="stable"),
                "pop_sqrt": np.sqrt(np.maximum(self.n_users_item, 1.0)).astype(np.float32),
            }
        return self._static

    def XT(self) -> sp.csr_matrix:
        """items x users (binary), for item-item co-occurrence on the fly."""
        if self._XT is None:
            self._XT = self.X.T.tocsr()
        return self._XT

    def artist_index(self):
        if self._artist_index is None:
            self._artist_index = deserialize_index(self.artist_index_blob)
        return self._artist_index

    def track_index(self):
        if self._track_index is None:
            self._track_index = deserialize_index(self.track_index_blob)
        return self._track_index

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_artist_index"] = state["_track_index"] = state["_XT"] = state["_static"] = None
        return state


@dataclass
class CandidateConfig:
    """Candidates per user from each source (the `candidates` knob of RecommenderConfig)."""

    n_cf: int = 100
    n_ease: int = 100
    n_neighbour_seeds: int = 5
    n_neighbours: int = 20
    n_track_neighbours: int = 10
    n_pop: int = 20


# --------------------------------------------------------------------------- candidates + features


def _top_n(S: np.ndarray, n: int) -> np.ndarray:
    n = min(n, S.shape[1] - 1)
    if n <= 0:
        return np.zeros((S.shape[0], 0), dtype=np.int64)
    return np.argpartition(-S, n, axis=1)[:, :n]


def _row_z(S: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
    ref = S if cols is None else S[:, cols]
    mu = ref.mean(axis=1, keepdims=True)
    sd = ref.std(axis=1, keepdims=True)
    return (S - mu) / np.where(sd > 0, sd, 1.0)


def user_candidates(comp: Components, X_rows: sp.csr_matrix, W_rows: sp.csr_matrix, lfm_users: np.ndarray | None,
                    cfg: CandidateConfig, restrict: np.ndarray | None = None):
    """Candidates and features for a block of users.

    X_rows / W_rows: the users' known artists (binary / log weights), any users (also new ones);
    lfm_users: LightFM user indices per row, -1 where the user has no LightFM factors.
    restrict: optional boolean mask over items allowed as candidates (e.g. linked artists only).
    Returns a list (one per user) of (candidate item indices, feature matrix n_cand x len(FEATURES)).
    """
    n_items = comp.vocab.n_items
    n = X_rows.shape[0]
    known = X_rows.tocsr()
    st = comp.static()
    has_lfm = lfm_users is not None and np.any(lfm_users >= 0)
    S_lfm = np.zeros((n, n_items), dtype=np.float32)
    if has_lfm:
        ok = lfm_users >= 0
        S_lfm[ok] = comp.lfm.scores(lfm_users[ok])
    S_ease = comp.ease.scores(known, n_items)
    prof = l2_normalise(np.asarray(W_rows @ comp.artist_vec))
    prof_a = l2_normalise(np.asarray(W_rows @ comp.artist_audio))

    z_lfm = _row_z(S_lfm)
    if has_lfm:
        z_lfm[~(lfm_users >= 0)] = 0.0
    z_ease = _row_z(S_ease, comp.ease.items) if len(comp.ease.items) else np.zeros_like(S_ease)
    in_ease, has_tags, item_has_audio = st["in_ease"], st["has_tags"], st["has_audio"]
    pop_order, pop_sqrt = st["pop_order"], st["pop_sqrt"]

    blocked = np.zeros((n, n_items), dtype=bool)
    blocked[known.nonzero()] = True
    if restrict is not None:
        blocked |= ~restrict[None, :]
    sel_lfm = _top_n(np.where(blocked, -np.inf, S_lfm), cfg.n_cf) if has_lfm else np.zeros((n, 0), dtype=np.int64)
    sel_ease = _top_n(np.where(blocked, -np.inf, S_ease), cfg.n_ease)

    # content neighbours of each user's top artists (tag space) and of their tracks (audio/genre space)
    seeds_tag, seeds_trk = [], []
    for r in range(n):
        lo, hi = W_rows.indptr[r], W_rows.indptr[r + 1]
        items, w = W_rows.indices[lo:hi], W_rows.data[lo:hi]
        order = items[np.argsort(-w, kind="stable")]
        seeds_tag.append([i for i in order if has_tags[i] > 0][: cfg.n_neighbour_seeds])
        trk = [t for i in order if i in comp.item_tracks for t in comp.item_tracks[i][:1]]
        seeds_trk.append(trk[: cfg.n_neighbour_seeds])
    nb_tag = _faiss_neighbours(comp.artist_index(), comp.artist_vec, seeds_tag, cfg.n_neighbours)
    nb_trk = _faiss_neighbours(comp.track_index(), comp.track_vecs, seeds_trk, cfg.n_track_neighbours)

    n_known = np.diff(known.indptr)
    XT = comp.XT()
    S_fr = np.zeros((n, n_items), dtype=np.float32)
    if comp.friends is not None and has_lfm:
        ok = lfm_users >= 0
        S_fr[ok] = (comp.friends[lfm_users[ok]] @ comp.X).toarray()
    out = []
    for r in range(n):
        trk_items = comp.track_item[nb_trk[r]] if len(nb_trk[r]) else np.zeros(0, dtype=np.int64)
        cand = np.concatenate([sel_lfm[r], sel_ease[r], nb_tag[r], trk_items[trk_items >= 0],
                               pop_order[: cfg.n_pop + int(n_known[r])]]).astype(np.int64)
        cand = np.unique(cand)
        cand = cand[~blocked[r, cand]]
        lo, hi = known.indptr[r], known.indptr[r + 1]
        mine = comp.artist_vec[known.indices[lo:hi]]
        tag_max = (comp.artist_vec[cand] @ mine.T).max(axis=1) if len(mine) else np.zeros(len(cand), np.float32)
        mine_idx = known.indices[lo:hi]
        if len(mine_idx):
            co = (XT[mine_idx] @ XT[cand].T).toarray() / pop_sqrt[mine_idx][:, None] / pop_sqrt[cand][None, :]
            w = W_rows.data[W_rows.indptr[r]:W_rows.indptr[r + 1]]
            w_items = W_rows.indices[W_rows.indptr[r]:W_rows.indptr[r + 1]]
            wmap = dict(zip(w_items.tolist(), w.tolist(), strict=True))
            wv = np.array([wmap.get(i, 1.0) for i in mine_idx], dtype=np.float32)
            knn_max, knn_wmean = co.max(axis=0), (wv @ co) / wv.sum()
        else:
            knn_max = knn_wmean = np.zeros(len(cand), np.float32)
        f = np.column_stack([
            z_lfm[r, cand], z_ease[r, cand], S_lfm[r, cand], S_ease[r, cand], in_ease[cand], knn_max, knn_wmean,
            S_fr[r, cand],
            comp.artist_vec[cand] @ prof[r], tag_max, comp.artist_audio[cand] @ prof_a[r], has_tags[cand],
            item_has_audio[cand] * (prof_a[r].any()),
            comp.log_plays[cand], comp.novelty[cand], np.full(len(cand), np.log1p(n_known[r])),
        ]).astype(np.float32)
        out.append((cand, f))
    return out


def _faiss_neighbours(index, vectors, seeds: list, k: int) -> list[np.ndarray]:
    flat = [s for ss in seeds for s in ss]
    if not flat or vectors is None or k <= 0:
        return [np.zeros(0, dtype=np.int64) for _ in seeds]
    _, idx = index.search(np.ascontiguousarray(vectors[np.asarray(flat)], dtype=np.float32), k + 1)
    out, pos = [], 0
    for ss in seeds:
        block = idx[pos: pos + len(ss)].ravel()
        out.append(block[block >= 0].astype(np.int64))
        pos += len(ss)
    return out


# --------------------------------------------------------------------------- ranker


def _build_net(n_features: int, hidden: tuple[int, ...]):
    import torch.nn as nn

    layers, d = [], n_features
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers)


@dataclass
class Ranker:
    """Fitted ranker: standardisation + MLP weights (the torch state_dict as numpy arrays).

    Scoring and attributions run in numpy (a 2-hidden-layer MLP on a few hundred rows is
    faster without torch's per-call and threading overhead, and serving needs no torch);
    `net()` rebuilds the torch module lazily from the same state when one is wanted.
    """

    mean: np.ndarray
    std: np.ndarray
    hidden: tuple[int, ...]
    state: dict[str, np.ndarray]
    history: list[dict] = field(default_factory=list)
    _net: object = None

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_net"] = None
        return d

    def net(self):
        if self._net is None:
            import torch

            net = _build_net(len(self.mean), self.hidden)
            net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in self.state.items()})
            net.eval()
            self._net = net
        return self._net

    def _layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        n = len(self.hidden) + 1
        return [(self.state[f"{2 * j}.weight"], self.state[f"{2 * j}.bias"]) for j in range(n)]

    def _forward(self, x: np.ndarray):
        masks, h = [], x
        layers = self._layers()
        for j, (W, b) in enumerate(layers):
            z = h @ W.T + b
            if j < len(layers) - 1:
                m = z > 0
                masks.append(m)
                h = z * m
            else:
                h = z
        return h[:, 0], masks

    def _standardise(self, F: np.ndarray) -> np.ndarray:
        return ((np.asarray(F, dtype=np.float32) - self.mean) / self.std).astype(np.float32)

    def score(self, F: np.ndarray) -> np.ndarray:
        return self._forward(self._standardise(F))[0]

    def attributions(self, F: np.ndarray, baseline: np.ndarray, steps: int = 16) -> np.ndarray:
        """Integrated gradients of the score for each row of F from `baseline` (Riemann midpoints)."""
        x = self._standardise(F)
        x0 = np.broadcast_to(self._standardise(baseline), x.shape)
        alphas = ((np.arange(steps, dtype=np.float32) + 0.5) / steps)[:, None, None]
        path = (x0[None] + alphas * (x - x0)[None]).reshape(-1, x.shape[1])
        _, masks = self._forward(path)
        layers = self._layers()
        g = np.broadcast_to(layers[-1][0], (len(path), layers[-1][0].shape[1]))
        for j in range(len(layers) - 2, -1, -1):
            g = (g * masks[j]) @ layers[j][0]
        grad = g.reshape(steps, *x.shape).mean(axis=0)
        return (x - x0) * grad


def _pad(groups: list[tuple[np.ndarray, np.ndarray]], labels: list[np.ndarray]):
    cmax = max(len(c) for c, _ in groups)
    nf = groups[0][1].shape[1]
    X = np.zeros((len(groups), cmax, nf), dtype=np.float32)
    Y = np.zeros((len(groups), cmax), dtype=np.float32)
    M = np.zeros((len(groups), cmax), dtype=bool)
    for g, ((_, f), y) in enumerate(zip(groups, labels, strict=True)):
        X[g, : len(f)] = f
        Y[g, : len(f)] = y
        M[g, : len(f)] = True
    return X, Y, M


def train_ranker(groups: list[tuple[np.ndarray, np.ndarray]], labels: list[np.ndarray], *, hidden=(32, 16),
                 epochs: int = 30, lr: float = 3e-3, weight_decay: float = 1e-5, batch_users: int = 64,
                 holdout_frac: float = 0.15, patience: int = 5, seed: int = 0) -> Ranker:
    """Listwise softmax ranker on per-user candidate lists; `labels` are 0/1 per candidate."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny net: one thread is faster (and far faster on a busy machine)
    try:
        return _train_ranker(torch, groups, labels, hidden, epochs, lr, weight_decay, batch_users, holdout_frac,
                             patience, seed)
    finally:
        torch.set_num_threads(threads)


def _train_ranker(torch, groups, labels, hidden, epochs, lr, weight_decay, batch_users, holdout_frac, patience,
                  seed) -> Ranker:
    torch.manual_seed(seed)
    keep = [i for i, y in enumerate(labels) if y.sum() > 0]
    groups, labels = [groups[i] for i in keep], [labels[i] for i in keep]
    if not groups:
        raise ValueError("no validation positive among the candidates: cannot train the ranker")
    allf = np.concatenate([f for _, f in groups])
    mean, std = allf.mean(axis=0), allf.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    Xp, Yp, Mp = _pad(groups, labels)
    Xp = (Xp - mean) / std
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(groups))
    n_hold = int(round(len(groups) * holdout_frac)) if len(groups) >= 10 else 0
    hold, fit = perm[:n_hold], perm[n_hold:]
    X_t, Y_t, M_t = (torch.from_numpy(a) for a in (Xp, Yp, Mp))

    net = _build_net(len(mean), tuple(hidden))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    def logits(idx):
        s = net(X_t[idx]).squeeze(-1)
        return s.masked_fill(~M_t[idx], -1e9)

    def ndcg10(idx) -> float:
        with torch.no_grad():
            s = logits(idx)
            top = torch.topk(s, min(10, s.shape[1]), dim=1).indices
            gains = torch.gather(Y_t[idx], 1, top)
            disc = 1.0 / torch.log2(torch.arange(2, top.shape[1] + 2, dtype=torch.float32))
            dcg = (gains * disc).sum(1)
            n_pos = Y_t[idx].sum(1).clamp(max=top.shape[1]).long()
            idcg = torch.cumsum(disc, 0)[n_pos - 1]
            return float((dcg / idcg).mean())

    best, best_state, bad, history = -1.0, None, 0, []
    monitor = hold if len(hold) else fit
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(fit)
        total = 0.0
        for b in range(0, len(order), batch_users):
            idx = torch.from_numpy(order[b: b + batch_users])
            logp = torch.log_softmax(logits(idx), dim=1)
            y = Y_t[idx]
            loss = -((logp * y).sum(1) / y.sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        net.eval()
        score = ndcg10(torch.from_numpy(monitor))
        history.append({"epoch": epoch + 1, "loss": total / max(len(fit), 1), "holdout_ndcg_at_10": score})
        if score > best + 1e-5:
            best, bad = score, 0
            best_state = {k: v.detach().clone().numpy() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    return Ranker(mean.astype(np.float32), std.astype(np.float32), tuple(hidden), best_state, history)


# --------------------------------------------------------------------------- ranking + re-rank + reasons


def mmr(cand: np.ndarray, scores: np.ndarray, vectors: np.ndarray, k: int, lam: float, pool: int) -> np.ndarray:
    """Positions (into cand) of the MMR selection of size k from the top `pool` by score."""
    order = np.argsort(-scores, kind="stable")[: max(pool, k)]
    if lam >= 1.0 or len(order) <= 1:
        return order[:k]
    s = scores[order]
    rel = (s - s.min()) / (s.max() - s.min()) if s.max() > s.min() else np.ones_like(s)
    V = vectors[cand[order]]
    sim = V @ V.T
    chosen = [0]
    max_sim = sim[0].copy()
    free = np.ones(len(order), dtype=bool)
    free[0] = False
    while len(chosen) < min(k, len(order)):
        obj = np.where(free, lam * rel - (1.0 - lam) * max_sim, -np.inf)
        j = int(np.argmax(obj))
        chosen.append(j)
        free[j] = False
        max_sim = np.maximum(max_sim, sim[j])
    return order[np.asarray(chosen)]


def rank_users(comp: Components, ranker: Ranker, X_rows, W_rows, lfm_users, cfg: CandidateConfig, k: int,
               mmr_lambda: float, mmr_pool: int, explain: bool = True, restrict: np.ndarray | None = None,
               keep_all: bool = False) -> list[dict]:
    """Top-k per user row: item indices, ranker scores, reasons (+ every candidate's score if asked)."""
    out = []
    for cand, F in user_candidates(comp, X_rows, W_rows, lfm_users, cfg, restrict):
        if len(cand) == 0:
            out.append({"items": cand, "scores": np.zeros(0), "reasons": [], "cand": cand, "all_scores": np.zeros(0)})
            continue
        s = ranker.score(F)
        pos = mmr(cand, s, comp.artist_vec, k, mmr_lambda, mmr_pool)
        rec = {"items": cand[pos], "scores": s[pos]}
        if keep_all:
            rec["cand"], rec["all_scores"] = cand, s
        if explain:
            rec["reasons"] = explain_rows(ranker, F[pos], F.mean(axis=0))
        out.append(rec)
    return out


def explain_rows(ranker: Ranker, F: np.ndarray, baseline: np.ndarray) -> list[str]:
    att = ranker.attributions(F, baseline[None, :])
    group_att = np.column_stack([att[:, [FEATURES.index(f) for f in GROUPS[g]]].sum(axis=1) for g in REASONS])
    return [REASONS[i] for i in group_att.argmax(axis=1)]
