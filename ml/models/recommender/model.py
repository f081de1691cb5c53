"""The served recommender (an mlflow pyfunc model).

Input rows, two modes (a frame may mix them):
- user recommendations: `user_id` (+ optional `artist_id`, `weight`: artists the user played,
  e.g. rows of the lake's lastfm_user_artists; + optional `track_id`: tracks they played).
  A known user is ranked by the hybrid; the given artists are excluded as well. A user the
  model has never seen (cold start) is ranked from the given artists/tracks by the same
  ranker with the collaborative features held at their neutral value (EASE still scores
  item-to-item from the given artists, so it counts as content + co-occurrence), and with
  nothing given by popularity alone.
- similar tracks: `track_id` without `user_id` (missing, or 0 = anonymous): the FAISS
  neighbours in the track embedding space (audio + genre); the query track itself is rank 1.
Optional columns: `k` (list length, default 10), `only_linked` (true: only artists with a
Spotify track, i.e. track recommendations).
Output: per distinct query, `k` rows: user_id | query_track_id (the other is null), rank,
artist_id, artist_name, track_id, track_name, score, reason (cf | content | popularity).
For user recommendations `track_id` is the recommended artist's Spotify track closest to the
user's audio profile (or its most popular one), null when the artist has no linked track.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.models.base import TrackModel
from ml.models.recommender.components import l2_normalise
from ml.models.recommender.config import RecommenderConfig
from ml.models.recommender.hybrid import Components, Ranker, rank_users

OUTPUT_COLUMNS = ["user_id", "query_track_id", "rank", "artist_id", "artist_name", "track_id", "track_name", "score",
                  "reason"]


class RecommenderModel(TrackModel):
    required_columns = ("user_id",)  # or `track_id` alone for similar tracks (see check_columns)

    def __init__(self, comp: Components, ranker: Ranker, side, artists: pd.DataFrame, cfg: RecommenderConfig, k: int = 10):
        self.comp = comp
        self.ranker = ranker
        self.tracks = side.tracks.reset_index(drop=True)
        self.encoder = side.encoder
        self.k = int(k)
        self.cand_cfg = cfg.candidates
        self.mmr_lambda = float(cfg.mmr_lambda)
        self.mmr_pool = int(cfg.mmr_pool)
        names = artists.drop_duplicates("artist_id").set_index("artist_id")["name"]
        self.artist_names = names.reindex(comp.vocab.item_ids).to_numpy(dtype=object)
        self.track_pos = {t: i for i, t in enumerate(self.tracks["track_id"])}
        self.default_weight = float(np.median(comp.W.data)) if comp.W.nnz else 1.0
        self.pop_order = np.argsort(-comp.n_users_item, kind="stable")

    # ------------------------------------------------------------------ helpers

    def check_columns(self, df: pd.DataFrame) -> None:
        if "user_id" not in df.columns and "track_id" not in df.columns:
            raise ValueError("input is missing column(s): user_id (recommendations) or track_id (similar tracks)")

    def _history(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Item indices and 1 + log(plays) weights of the artists given in a user's input rows."""
        items, weights = [], []
        if "artist_id" in rows.columns:
            a = pd.to_numeric(rows["artist_id"], errors="coerce").astype("float64").to_numpy()
            w = (pd.to_numeric(rows["weight"], errors="coerce").astype("float64").to_numpy() if "weight" in rows.columns
                 else np.full(len(a), np.nan))
            for aid, wt in zip(a, w, strict=True):
                if aid == aid:
                    i = self.comp.vocab.items([int(aid)])[0]
                    if i >= 0:
                        items.append(i)
                        weights.append(1.0 + np.log(max(wt, 1.0)) if wt == wt else self.default_weight)
        if "track_id" in rows.columns:
            for t in rows["track_id"].dropna():
                p = self.track_pos.get(t)
                if p is not None and self.comp.track_item[p] >= 0:
                    items.append(int(self.comp.track_item[p]))
                    weights.append(self.default_weight)
        return np.asarray(items, dtype=np.int64), np.asarray(weights, dtype=np.float32)

    def _track_for(self, item: int, audio_profile: np.ndarray | None):
        rows = self.comp.item_tracks.get(int(item))
        if rows is None or not len(rows):
            return None, None
        best = rows[0]
        if audio_profile is not None and audio_profile.any() and len(rows) > 1:
            best = rows[int(np.argmax(self.comp.track_vecs[rows] @ audio_profile))]
        return self.tracks["track_id"].iat[best], self.tracks["track_name"].iat[best] if "track_name" in self.tracks \
            else None

    # ------------------------------------------------------------------ modes

    def recommend(self, user_rows: pd.DataFrame, k: int | None = None, only_linked: bool = False) -> pd.DataFrame:
        """Top-k artists per distinct user_id in `user_rows` (see the module docstring)."""
        k = k or self.k
        comp, vocab = self.comp, self.comp.vocab
        user_ids = list(pd.unique(user_rows["user_id"]))
        groups = {user_ids[0]: user_rows} if len(user_ids) == 1 else dict(tuple(user_rows.groupby("user_id", sort=False)))
        X_rows, W_rows, lfm_users = [], [], []
        for uid in user_ids:
            u = vocab.users([uid])[0]
            items, w = self._history(groups[uid])
            if u >= 0:
                x, wr = comp.X[u], comp.W[u]
                if len(items):
                    x = x.maximum(sp.csr_matrix((np.ones(len(items)), (np.zeros(len(items)), items)),
                                                shape=(1, vocab.n_items)))
                    wr = wr.maximum(sp.csr_matrix((w, (np.zeros(len(items)), items)), shape=(1, vocab.n_items)))
            else:
                x = sp.csr_matrix((np.ones(len(items)), (np.zeros(len(items)), items)), shape=(1, vocab.n_items))
                wr = sp.csr_matrix((w, (np.zeros(len(items)), items)), shape=(1, vocab.n_items))
                x.data[:] = 1.0
            X_rows.append(x)
            W_rows.append(wr)
            lfm_users.append(u)
        X = sp.vstack(X_rows, format="csr").astype(np.float32)
        W = sp.vstack(W_rows, format="csr").astype(np.float32)
        restrict = None
        if only_linked:
            restrict = np.zeros(vocab.n_items, dtype=bool)
            restrict[list(comp.item_tracks)] = True
        has_history = np.diff(X.indptr) > 0
        recs = [None] * len(user_ids)
        idx = np.flatnonzero(has_history)
        if len(idx):
            ranked = rank_users(comp, self.ranker, X[idx], W[idx], np.asarray(lfm_users)[idx], self.cand_cfg, k,
                                self.mmr_lambda, self.mmr_pool, explain=True, restrict=restrict)
            for j, rec in zip(idx, ranked, strict=True):
                recs[j] = rec
        for j in np.flatnonzero(~has_history):  # nothing known: most popular
            order = self.pop_order if restrict is None else self.pop_order[restrict[self.pop_order]]
            top = order[:k]
            recs[j] = {"items": top, "scores": comp.log_plays[top], "reasons": ["popularity"] * len(top)}
        out = {c: [] for c in OUTPUT_COLUMNS}
        for j, (uid, rec) in enumerate(zip(user_ids, recs, strict=True)):
            profile = l2_normalise(np.asarray(W[j] @ comp.artist_audio))[0]
            picked = [self._track_for(i, profile) for i in rec["items"]]
            n = len(rec["items"])
            out["user_id"] += [uid] * n
            out["query_track_id"] += [None] * n
            out["rank"] += range(1, n + 1)
            out["artist_id"] += vocab.item_ids[rec["items"]].tolist()
            out["artist_name"] += self.artist_names[rec["items"]].tolist()
            out["track_id"] += [p[0] for p in picked]
            out["track_name"] += [p[1] for p in picked]
            out["score"] += np.asarray(rec["scores"], dtype=float).tolist()
            out["reason"] += list(rec["reasons"])
        return _frame(out)

    def similar_tracks(self, track_rows: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        """k nearest tracks per distinct track_id; the query itself first. Unknown ids with audio columns are embedded."""
        k = k or self.k
        index = self.comp.track_index()
        out = {c: [] for c in OUTPUT_COLUMNS}
        rows = track_rows.drop_duplicates("track_id")
        known = [t for t in rows["track_id"] if t in self.track_pos]
        unknown = rows[~rows["track_id"].isin(self.track_pos)]
        queries, qvecs = [], []
        for t in known:
            queries.append((t, self.track_pos[t]))
            qvecs.append(self.comp.track_vecs[self.track_pos[t]])
        if len(unknown) and any(c in unknown.columns for c in ("energy", "danceability", "valence")):
            vecs = self.encoder.encode(unknown.reset_index(drop=True))
            for t, v in zip(unknown["track_id"], vecs, strict=True):
                queries.append((t, None))
                qvecs.append(v)
        if not queries or index.ntotal == 0:
            return _frame(out)
        dist, nbrs = index.search(np.ascontiguousarray(np.vstack(qvecs), dtype=np.float32), min(k + 1, index.ntotal))
        for (tid, pos), d, ii in zip(queries, dist, nbrs, strict=True):
            pairs = [(int(i), float(s)) for i, s in zip(ii, d, strict=True) if i >= 0 and i != pos]
            if pos is not None:
                pairs = [(pos, 1.0), *pairs]
            pairs = pairs[:k]
            tr = [p[0] for p in pairs]
            items = self.comp.track_item[tr]
            n = len(tr)
            out["user_id"] += [None] * n
            out["query_track_id"] += [tid] * n
            out["rank"] += range(1, n + 1)
            out["artist_id"] += [int(self.comp.vocab.item_ids[i]) if i >= 0 else None for i in items]
            out["artist_name"] += self._col("artists", tr)
            out["track_id"] += self._col("track_id", tr)
            out["track_name"] += self._col("track_name", tr)
            out["score"] += [p[1] for p in pairs]
            out["reason"] += ["content"] * n
        return _frame(out)

    def _col(self, name: str, rows: list[int]) -> list:
        if name not in self.tracks.columns:
            return [None] * len(rows)
        return self.tracks[name].to_numpy(dtype=object)[rows].tolist()

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        import faiss

        # one FAISS (OpenMP) thread: a handful of queries gains nothing from more, and on a busy
        # machine two spinning threads made a 5-query search 20x slower (23 ms vs 1 ms)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self._predict(df)
        finally:
            faiss.omp_set_num_threads(threads)

    def _predict(self, df: pd.DataFrame) -> pd.DataFrame:
        k = self.k
        if "k" in df.columns and df["k"].notna().any():
            k = int(df["k"].dropna().iloc[0])
        only_linked = bool("only_linked" in df.columns and df["only_linked"].fillna(False).astype(bool).any())
        if "user_id" in df.columns:
            uid = pd.to_numeric(df["user_id"], errors="coerce").astype("float64")
            has_user = uid.notna() & (uid != 0)  # 0 = anonymous
        else:
            has_user = pd.Series(False, index=df.index)
        parts = []
        if has_user.any():
            rows = df[has_user].copy()
            rows["user_id"] = rows["user_id"].astype("int64")
            parts.append(self.recommend(rows, k, only_linked))
        if "track_id" in df.columns and (~has_user & df["track_id"].notna()).any():
            parts.append(self.similar_tracks(df[~has_user & df["track_id"].notna()], k))
        parts = [p for p in parts if len(p)]
        if len(parts) == 1:
            return parts[0]
        return pd.concat(parts, ignore_index=True) if parts else _frame({c: [] for c in OUTPUT_COLUMNS})


_DTYPES = {"user_id": "Int64", "query_track_id": object, "rank": "int64", "artist_id": "Int64", "artist_name": object,
           "track_id": object, "track_name": object, "score": "float64", "reason": object}


def _frame(cols: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.array(cols[c], dtype=_DTYPES[c]) if _DTYPES[c] is not object
                         else np.array(cols[c], dtype=object) for c in OUTPUT_COLUMNS})
