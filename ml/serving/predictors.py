"""Fast paths: each model's single-row / small-batch prediction straight from its fitted objects.

The MLflow pyfunc `predict` of every model takes a DataFrame and runs pandas pipelines; that is the
right tool for batch scoring and costs 10-22 ms per call. Serving scores one to a few rows per
request, so these adapters read the fitted pieces of a loaded model once (vectorizers, lookups,
boosters, tree arrays, network weights) and predict from plain row dicts with numpy: no DataFrame
per row, XGBoost `inplace_predict`, SHAP only when asked. They return the same numbers as the pyfunc
path (tests/serving/test_fast_paths.py compares them on real rows).

Nothing here knows about HTTP: `ml/serving/handlers.py` turns requests into rows and results into
responses. An adapter is built from the unwrapped python model (`pyfunc.unwrap_python_model()`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ml.features.tracks import AUDIO_COLUMNS

Rows = Sequence[dict[str, Any]]
SMALL = 32  # up to this many rows the numpy tree walk beats sklearn's per-call overhead


def _f(v) -> float:
    """A JSON value as float (None -> NaN)."""
    return float("nan") if v is None else float(v)


def _col(rows: Rows, name: str) -> list:
    return [r.get(name) for r in rows]


class RowFrame:
    """A column view of row dicts with the three DataFrame features the feature builders read:
    `len(frame)`, `name in frame.columns`, `frame[name].tolist()`. Missing columns read as None,
    like a DataFrame column absent from a CSV."""

    def __init__(self, rows: Rows, columns: Sequence[str]):
        self.rows = rows
        self.columns = [c for c in columns if any(c in r for r in rows)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> _List:
        return _List(r.get(name) for r in self.rows)


class _List(list):
    def tolist(self) -> list:
        return list(self)


def frame(rows: Rows):
    """The rows as a pandas DataFrame (the pyfunc path's input)."""
    import pandas as pd

    return pd.DataFrame(list(rows))


# ------------------------------------------------------------------------------- building blocks


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """sklearn's `softmax` (MLP output): exp(z - max) / sum."""
    z = z - z.max(axis=1)[:, None]
    np.exp(z, out=z)
    z /= z.sum(axis=1)[:, None]
    return z


def nb_proba(nb, T) -> np.ndarray:
    """MultinomialNB.predict_proba without input validation (same arithmetic)."""
    jll = np.asarray(T @ nb.feature_log_prob_.T) + nb.class_log_prior_
    return np.exp(jll - np.atleast_2d(logsumexp(jll, axis=1)).T)


def mlp_proba(mlp, X: np.ndarray) -> np.ndarray:
    """MLPClassifier.predict_proba (relu hidden layers, softmax or logistic out) without validation."""
    a = X
    last = len(mlp.coefs_) - 1
    for i, (W, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_, strict=True)):
        a = a @ W + b
        if i < last:
            np.maximum(a, 0, out=a)
    if mlp.out_activation_ == "softmax":
        return softmax_rows(a)
    p = 1.0 / (1.0 + np.exp(-a))
    return np.hstack([1 - p, p]) if p.shape[1] == 1 else p


class FastQuantileNormal:
    """QuantileTransformer(output_distribution="normal").transform without validation or scipy.stats.

    sklearn's per-column `_transform_col` with `stats.norm.ppf` costs ~0.5 ms per column through
    scipy.stats' generic machinery; `scipy.special.ndtri` is the function norm.ppf evaluates, so the
    numbers are identical (tests compare them).
    """

    BOUNDS = 1e-7  # sklearn.preprocessing._data.BOUNDS_THRESHOLD

    def __init__(self, qt):
        from scipy.special import ndtri

        if qt.output_distribution != "normal":
            raise ValueError("only output_distribution='normal' has a fast path")
        self.qt, self.ndtri = qt, ndtri
        self.q = [np.ascontiguousarray(qt.quantiles_[:, j]) for j in range(qt.quantiles_.shape[1])]
        self.q_rev = [-q[::-1] for q in self.q]
        self.ref, self.ref_rev = qt.references_, -qt.references_[::-1]
        self.clip = (ndtri(self.BOUNDS - np.spacing(1)), ndtri(1 - (self.BOUNDS - np.spacing(1))))

    def transform(self, X: np.ndarray) -> np.ndarray:
        out = np.array(X, dtype=np.float64)
        for j, (q, qr) in enumerate(zip(self.q, self.q_rev, strict=True)):
            col = out[:, j]
            with np.errstate(invalid="ignore"):
                low, high = col - self.BOUNDS < q[0], col + self.BOUNDS > q[-1]
            ok = ~np.isnan(col)
            v = col[ok]
            col[ok] = 0.5 * (np.interp(v, q, self.ref) - np.interp(-v, qr, self.ref_rev))
            col[high], col[low] = 1, 0
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, j] = np.clip(self.ndtri(col), *self.clip)
        return out


class FlatForest:
    """A fitted sklearn forest as flat arrays; `proba(X)` walks every tree at once with numpy.

    Same result as `forest.predict_proba(X)` (float32 features, `x <= threshold` goes left, leaf
    values normalised per tree, averaged over trees); faster on a few rows, where sklearn's
    per-call validation and per-tree dispatch dominate. Larger batches use sklearn itself.
    """

    def __init__(self, forest):
        self.forest = forest
        lefts, rights, feats, thrs, vals, roots = [], [], [], [], [], []
        offset = 0
        for est in forest.estimators_:
            t = est.tree_
            left = t.children_left.astype(np.int64)
            right = t.children_right.astype(np.int64)
            leaf = left == -1
            # leaves point at themselves, so extra steps after reaching one are no-ops
            own = np.arange(t.node_count, dtype=np.int64)
            lefts.append(np.where(leaf, own, left) + offset)
            rights.append(np.where(leaf, own, right) + offset)
            feats.append(np.where(leaf, 0, t.feature).astype(np.int64))
            thrs.append(np.where(leaf, np.inf, t.threshold))
            v = t.value[:, 0, : est.n_classes_].astype(np.float64)
            norm = v.sum(axis=1, keepdims=True)
            norm[norm == 0.0] = 1.0
            vals.append(v / norm)
            roots.append(offset)
            offset += t.node_count
        self.left, self.right = np.concatenate(lefts), np.concatenate(rights)
        self.feature, self.threshold = np.concatenate(feats), np.concatenate(thrs)
        self.value = np.concatenate(vals)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.depth = max(est.tree_.max_depth for est in forest.estimators_)
        self.n_trees = len(forest.estimators_)

    def proba(self, X: np.ndarray) -> np.ndarray:
        if len(X) > SMALL:
            return self.forest.predict_proba(X)
        X = np.asarray(X, dtype=np.float32)
        rows = np.arange(len(X))[:, None]
        node = np.broadcast_to(self.roots, (len(X), self.n_trees)).copy()
        for _ in range(self.depth):
            go_left = X[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.value[node].sum(axis=1) / self.n_trees


# -------------------------------------------------------------------------------------- genre


class GenrePredictor:
    """Fine (114) and coarse (15) genre probabilities, as GenreModel.proba."""

    model_name = "genre"

    def __init__(self, model):
        from ml.evaluation import genre_mood_metrics as gm
        from ml.models.genre import combine

        self.model = model
        self.pieces = model.pieces
        self.gm, self.combine = gm, combine
        p = self.pieces
        self.n_fine, self.n_coarse = len(p.fine_classes), len(p.coarse_classes)
        self.fine_classes = [str(c) for c in model.fine_classes]
        self.coarse_classes = [str(c) for c in model.coarse_classes]
        self.nb_fine_idx, self.nb_coarse_idx = p.nb_fine.classes_, p.nb_coarse.classes_
        self.mlp_idx = [m.classes_ for m in p.mlps]
        self.qt = FastQuantileNormal(p.qt)

    def numeric(self, rows: Rows) -> np.ndarray:
        """The `_numeric` matrix: audio features, log duration, explicit (+ popularity)."""
        X = np.empty((len(rows), len(AUDIO_COLUMNS) + 2 + int(self.pieces.use_popularity)))
        for i, r in enumerate(rows):
            vals = [_f(r.get(c)) for c in AUDIO_COLUMNS]
            d = r.get("duration_ms")
            vals.append(math.log1p(d / 1000.0) if d is not None else math.nan)
            e = r.get("explicit")
            vals.append(math.nan if e is None else float(bool(e)))
            if self.pieces.use_popularity:
                vals.append(_f(r.get("popularity")))
            X[i] = vals
        return X

    @staticmethod
    def texts(rows: Rows) -> list[str]:
        return [f"{r.get('track_name') or ''} | {r.get('album_name') or ''}" for r in rows]

    def proba(self, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        p = self.pieces
        n = len(rows)
        T = p.vec.transform(self.texts(rows))
        X = self.numeric(rows)
        nf = np.full((n, self.n_fine), 1e-9)
        nf[:, self.nb_fine_idx] = nb_proba(p.nb_fine, T)
        nc = np.full((n, self.n_coarse), 1e-9)
        nc[:, self.nb_coarse_idx] = nb_proba(p.nb_coarse, T)
        Q = self.qt.transform(p._impute(X))
        mf_parts = []
        for mlp, idx in zip(p.mlps, self.mlp_idx, strict=True):
            full = np.full((n, self.n_fine), 1e-9)
            full[:, idx] = mlp_proba(mlp, Q)
            mf_parts.append(full)
        mf = np.mean(mf_parts, axis=0)
        sc = np.full((n, self.n_coarse), 1e-9)
        raw = p.booster.inplace_predict(np.hstack([X, self.gm.log_proba(nc)]).astype(np.float32))
        sc[:, p.xgb_classes] = np.asarray(raw).reshape(n, -1)
        parts = {"text_fine": nf, "text_coarse": nc, "audio_fine": mf, "stack_coarse": sc}
        m = self.model
        return self.combine(parts, m.fine_to_coarse, m.w_text, m.alpha_stack, m.t_fine, m.t_coarse, m.beta)

    def reference(self, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        """The pyfunc path's probabilities on the same rows."""
        from ml.features.tracks import add_derived_columns

        return self.model.proba(add_derived_columns(frame(rows)))

    def top(self, probs: np.ndarray, labels: list[str], k: int) -> list[list[tuple[str, float]]]:
        order = np.argsort(-probs, axis=1)[:, :k]
        return [[(labels[j], float(probs[i, j])) for j in order[i]] for i in range(len(probs))]


# --------------------------------------------------------------------------------------- mood


class MoodPredictor:
    """Mood probabilities (MOODS order), as MoodModel.proba."""

    model_name = "mood"

    def __init__(self, model):
        from ml.evaluation import genre_mood_metrics as gm
        from ml.models.mood import MOODS

        self.model = model
        self.gm = gm
        self.moods = list(MOODS)
        f = model.features
        self.use_genre = f.use_genre
        self.taxonomy = f.taxonomy
        self.super_index = {s: i for i, s in enumerate(f.super_genres)}
        self.n_super = len(f.super_genres)
        self.medians = f.medians
        self.cols = [MOODS.index(c) for c in model.forest.classes_]
        self.forest = FlatForest(model.forest)

    def matrix(self, rows: Rows) -> np.ndarray:
        n_base = len(AUDIO_COLUMNS) + 1
        X = np.zeros((len(rows), n_base + (self.n_super if self.use_genre else 0)))
        for i, r in enumerate(rows):
            d = r.get("duration_ms")
            X[i, :n_base] = [*(_f(r.get(c)) for c in AUDIO_COLUMNS), math.log1p(d / 1000.0) if d is not None else math.nan]
            if self.use_genre:
                j = self.super_index.get(self.taxonomy.get(r.get("track_genre")))
                if j is not None:
                    X[i, n_base + j] = 1.0
        bad = np.isnan(X)
        X[bad] = np.take(self.medians, np.nonzero(bad)[1])
        return X

    def proba(self, rows: Rows) -> np.ndarray:
        p = np.full((len(rows), len(self.moods)), 1e-9)
        p[:, self.cols] = self.forest.proba(self.matrix(rows))
        return self.gm.tempered(p, self.model.temperature)

    def reference(self, rows: Rows) -> np.ndarray:
        return self.model.proba(frame(rows))

    def intensity(self, p: np.ndarray) -> np.ndarray:
        k = len(self.moods)
        return np.clip((p.max(axis=1) - 1 / k) / (1 - 1 / k), 0, 1)


# --------------------------------------------------------------------------------- popularity


class PopularityPredictor:
    """Point prediction, 80% conformal interval and (when asked) TreeSHAP, as PopularityModel.predict_df."""

    model_name = "popularity"
    _TEXT_COLS = ("track_name", "album_name", "artists", "artist_key", "track_genre")

    def __init__(self, model):
        from ml.features import artist_history
        from ml.models import popularity as pop

        self.model = model
        self.pop = pop
        self.smoothed_mean = artist_history.smoothed_mean
        self.histories = [(model.histories[name], key) for name, key in pop.HISTORIES.items()]

    def _history(self, h, key_lists: list) -> np.ndarray:
        """TargetHistory.transform as an array: smoothed mean, count, max over a row's keys."""
        from ml.features.artist_history import _as_key_lists

        kl = _as_key_lists(key_lists)
        tot, cnt, mx = np.zeros(len(kl)), np.zeros(len(kl)), np.full(len(kl), np.nan)
        for i, ks in enumerate(kl):
            for k in ks:
                s = h.stats_.get(k)
                if s is not None:
                    tot[i] += s[0]
                    cnt[i] += s[1]
                    mx[i] = s[2] if np.isnan(mx[i]) else max(mx[i], s[2])
        return np.column_stack([self.smoothed_mean(tot, cnt, h.global_mean_, h.prior_weight), cnt, mx])

    def features(self, rows: Rows) -> np.ndarray:
        from ml.lake.linking import artist_key

        rows = [self._with_artist_key(r, artist_key) for r in rows]
        f = RowFrame(rows, self._TEXT_COLS)
        keys = self.pop._keys(f)
        base = np.empty((len(rows), len(AUDIO_COLUMNS) + 2))
        for i, r in enumerate(rows):
            d, e = r.get("duration_ms"), r.get("explicit")
            base[i] = [*(_f(r.get(c)) for c in AUDIO_COLUMNS), (d / 60000.0) if d is not None else math.nan,
                       math.nan if e is None else float(bool(e))]
        blocks = [base, self.pop.text_features(f)]
        blocks += [self._history(h, keys[key]) for h, key in self.histories]
        at = self.model.album_text
        if at.n_components and at.vectorizer is not None:
            docs = [self.pop._text(r.get("album_name")).lower() for r in rows]
            blocks.append(at.svd.transform(at.vectorizer.transform(docs)))
        return np.hstack(blocks).astype(np.float32)

    @staticmethod
    def _with_artist_key(row: dict, artist_key) -> dict:
        """What `add_derived_columns` gives the pyfunc path: the primary artist's key."""
        a = row.get("artists")
        if "artist_key" in row or not isinstance(a, str):
            return row
        return {**row, "artist_key": artist_key(a.split(";")[0].strip())}

    def predict(self, rows: Rows, explain: bool = False, top: int = 3) -> dict[str, Any]:
        X = self.features(rows)
        m = self.model
        pred, lo, hi = m.interval(*m.raw_predict(X))
        out: dict[str, Any] = {"pred": pred, "lower": lo, "upper": hi}
        if explain:
            import xgboost as xgb

            phi = m.booster.predict(xgb.DMatrix(X, feature_names=m.feature_names, nthread=1), pred_contribs=True)[:, :-1]
            order = np.argsort(-np.abs(phi), axis=1)[:, :top]
            out["contributions"] = [[(m.feature_names[j], float(phi[i, j])) for j in order[i]] for i in range(len(X))]
        return out

    def reference(self, rows: Rows):
        return self.model.predict(None, frame(rows))


# ----------------------------------------------------------------------------- audio features


class AudioFeaturesPredictor:
    """The eight features, MC-dropout std and confidence, as AudioFeatureModel.predict_df.

    Text embeddings come from the in-process memo (the bento's cache), genre/tag/meta blocks from the
    fitted FeatureBuilder; the network runs once on the deterministic rows and once on the MC copies.
    """

    model_name = "audio_features"

    def __init__(self, model):
        from ml.models import audio_features as af

        self.model = model
        self.af = af
        self.features = list(af.FEATURES)
        model.net()  # build the torch module at load, not on the first request

    def rows_to_frame(self, rows: Rows):
        out = []
        for r in rows:
            r = dict(r)
            tags = r.pop("tags", None)
            if tags:
                r[self.af.TAG_COLUMN] = "|".join(f"{t.replace('|', '/').replace('=', '-')}={n}" for t, n in tags.items())
            out.append(r)
        return frame(out)

    def predict(self, rows: Rows):
        return self.model.predict_df(self.rows_to_frame(rows))

    def reference(self, rows: Rows):
        return self.model.predict(None, self.rows_to_frame(rows))

    def warm(self, texts: list[str]) -> None:
        """Load the bento's embedding cache into memory (first predict does it too)."""
        from ml.features.text import embed_cached

        embed_cached(texts[:1] or ["warm - up"])


# -------------------------------------------------------------------------------- recommender


class RecommenderPredictor:
    model_name = "recommender"

    def __init__(self, model):
        self.model = model
        comp = model.comp
        self.known_users = set(int(u) for u in comp.vocab.user_ids)
        self.artist_ids = comp.vocab.item_ids
        self.item_of = {int(a): i for i, a in enumerate(comp.vocab.item_ids)}

    def recommend(self, user_id: int | None, k: int, exclude: Sequence[int], seed_artists: Sequence[int],
                  seed_tracks: Sequence[str], only_linked: bool):
        import pandas as pd

        uid = int(user_id) if user_id else -1  # unknown / anonymous users go through the cold-start path
        rows = [{"user_id": uid, "artist_id": a} for a in seed_artists]
        rows += [{"user_id": uid, "track_id": t} for t in seed_tracks]
        if not rows:
            rows = [{"user_id": uid}]
        df = pd.DataFrame(rows)
        want = k + len(set(exclude))
        rec = self.model.recommend(df, want, only_linked)
        ex = set(int(a) for a in exclude)
        rec = rec[~rec["artist_id"].isin(ex)].head(k) if ex else rec.head(k)
        cold = user_id is None or int(user_id) not in self.known_users
        return rec, cold

    def similar_tracks(self, track_id: str | None, track: dict | None, k: int):
        import pandas as pd

        row = dict(track) if track else {"track_id": track_id}
        if track and not row.get("track_id"):
            row["track_id"] = "__query__"
        return self.model.similar_tracks(pd.DataFrame([row]), k)

    def similar_artists(self, artist_id: int, k: int) -> list[tuple[int, str | None, float]] | None:
        comp = self.model.comp
        i = self.item_of.get(int(artist_id))
        if i is None:
            return None
        v = comp.artist_vec[i]
        if not np.abs(v).sum():
            return []
        index = comp.artist_index()
        d, nb = index.search(np.ascontiguousarray(v[None, :], dtype=np.float32), min(k + 1, index.ntotal))
        out = [(int(self.artist_ids[j]), self.model.artist_names[j], float(s)) for j, s in zip(nb[0], d[0], strict=True)
               if j >= 0 and j != i]
        return out[:k]


# ------------------------------------------------------------------------------------ streams


class StreamsPredictor:
    model_name = "streams"

    def __init__(self, model):
        self.model = model
        self.regions = set(model.regions)

    def predict(self, track_id: str, region: str, history: Sequence[dict]) -> dict[str, Any] | None:
        import pandas as pd

        from ml.features.charts import features_from_history

        hist = pd.DataFrame([{"track_id": track_id, "region": region, **h} for h in history])
        feats = features_from_history(hist)
        if not len(feats):
            return None
        feats = feats.sort_values("anchor").tail(1)
        out = self.model.predict_df(feats)
        r = out.iloc[0]
        p = r["charts_next_week_proba"]
        return {"anchor": str(pd.Timestamp(feats["anchor"].iloc[0]).date()),
                "log": float(r["log_streams_next_week_pred"]), "streams": float(r["streams_next_week_pred"]),
                "charts_p": None if p != p else float(p)}


ADAPTERS = {
    "genre": GenrePredictor, "mood": MoodPredictor, "popularity": PopularityPredictor,
    "audio_features": AudioFeaturesPredictor, "recommender": RecommenderPredictor, "streams": StreamsPredictor,
}
