"""Mood: happy / sad / energetic / calm / focus from audio features (+ super-genre), with human labels.

Labels (never model inputs): Last.fm hetrec tags of the track's primary artist (`load_artist_tags`).
ml/features/data/mood_tags.csv maps tags to moods with a weight (1 for mood words such as "sad",
"chillout", "party"; 0.5 for weaker cues such as "dark", "dance", "ambient"). An artist's vote for a
mood is sum(users who applied the tag * weight); the artist gets the top mood when its total vote
is >= MIN_VOTES (1: one user with a direct mood tag, or two with weak cues), the top mood holds
>= MIN_SHARE of the votes (0.5) and is strictly ahead of the runner-up. Tracks inherit their
primary artist's label through `artist_key`; `label_coverage` is the share of tracks labelled.

Inputs: the 12 audio features + log duration, and the one-hot super-genre of `track_genre`
(via ml/features/data/genre_taxonomy.csv; an unknown or missing genre gives all zeros).
Model: random forest (class_weight="balanced"); `min_samples_leaf` picked by grouped CV macro-F1
inside the training set; probabilities temperature-scaled on the out-of-fold predictions of that CV.
Split: grouped by `artist_key` (labels are artist-level, so a shared artist would leak).

Output: `mood` (argmax), `mood_p_<mood>` for the 5 moods (sum to 1), and
`mood_intensity` = (max probability - 1/5) / (1 - 1/5), clipped to [0, 1]: 0 when the model sees no
mood more than chance, 1 when it is certain of one.

Baseline: hand-written threshold rules on the same test rows, first rule that fires wins, most
specific first: focus (instrumentalness > 0.6 & speechiness < 0.1), calm (tempo < 100 &
acousticness > 0.5), energetic (energy > 0.8 & danceability > 0.7), happy (valence > 0.7 &
energy > 0.7), sad (valence < 0.4); when none fires: the most frequent label of the training rows.
`extra.rules_seed_order` applies them in the order they were first written down (happy, sad,
energetic, calm, focus: `SEED_ORDER`) for reference. `rules_agreement` is the rules' accuracy against the tag labels over all
labelled tracks (a property of the data, identical in `metrics` and `baseline`), and
`label_coverage` is likewise the same on both sides.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402

from ml.evaluation import genre_mood_metrics as gm  # noqa: E402
from ml.evaluation.metrics import accuracy, macro_f1  # noqa: E402
from ml.evaluation.splits import assert_disjoint, group_kfold, group_split  # noqa: E402
from ml.features.tracks import AUDIO_COLUMNS, dedupe_tracks, load_artist_tags, load_taxonomy, load_tracks  # noqa: E402
from ml.models.base import ModelConfig, ModelSpec, TrackModel, TrainingData, TrainResult  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "features" / "data"
MOOD_TAGS_PATH = DATA / "mood_tags.csv"
MOODS = ("happy", "sad", "energetic", "calm", "focus")
RULE_ORDER = ("focus", "calm", "energetic", "happy", "sad")
SEED_ORDER = ("happy", "sad", "energetic", "calm", "focus")  # the order the rules were first written down in
INPUT_COLUMNS = (*AUDIO_COLUMNS, "duration_ms", "track_genre")
MIN_VOTES, MIN_SHARE = 1.0, 0.5  # artist label thresholds (applied in `load`)

class MoodConfig(ModelConfig):
    """Mood training knobs; the defaults are the full configuration."""

    test_size: float = 0.25
    seed: int = 42
    use_genre: bool = True
    n_trees: int = 400
    max_features: float = 0.5
    leaf_grid: tuple[int, ...] = (3, 5, 10)  # min_samples_leaf candidates, picked by grouped CV
    cv_folds: int = 5
    n_jobs: int = 2

    FAST: ClassVar[dict[str, Any]] = {"n_trees": 60, "leaf_grid": (5,), "cv_folds": 3}


# ---------------------------------------------------------------------------------- labels


def load_mood_tags() -> pd.DataFrame:
    """tag -> mood (+ weight) from the committed CSV; a tag may vote for two moods."""
    m = pd.read_csv(MOOD_TAGS_PATH)
    bad = set(m["mood"]) - set(MOODS)
    if bad:
        raise ValueError(f"{MOOD_TAGS_PATH.name}: unknown mood(s) {sorted(bad)}")
    return m


def artist_moods(tags: pd.DataFrame, mapping: pd.DataFrame | None = None, min_votes: float = MIN_VOTES,
                 min_share: float = MIN_SHARE) -> pd.DataFrame:
    """Per artist_key: the weighted votes per mood and the label (None when too few / too split)."""
    mapping = load_mood_tags() if mapping is None else mapping
    v = tags.merge(mapping, on="tag")
    v = v.assign(votes=v["n"] * v["weight"])
    votes = v.pivot_table(index="artist_key", columns="mood", values="votes", aggfunc="sum", fill_value=0.0)
    votes = votes.reindex(columns=list(MOODS), fill_value=0.0)
    arr = votes.to_numpy()
    total = arr.sum(axis=1)
    srt = np.sort(arr, axis=1)
    top, second = srt[:, -1], srt[:, -2]
    ok = (total >= min_votes) & (top >= min_share * np.maximum(total, 1e-12)) & (top > second)
    out = votes.add_prefix("votes_")
    out["mood_votes"] = total
    out["mood_share"] = np.where(total > 0, top / np.maximum(total, 1e-12), 0.0)
    out["mood_label"] = np.where(ok, np.array(MOODS, dtype=object)[arr.argmax(axis=1)], None)
    return out.reset_index()


def load(con, min_votes: float = MIN_VOTES, min_share: float = MIN_SHARE) -> TrainingData:
    """One row per track (source columns) with the artist's tag-derived `mood_label` (NaN if none)."""
    tracks = dedupe_tracks(load_tracks(con))
    labels = artist_moods(load_artist_tags(con), min_votes=min_votes, min_share=min_share)
    keep = ["artist_key", "mood_label", "mood_votes", "mood_share"]
    out = tracks.drop(columns=["genres"]).merge(labels[keep], on="artist_key", how="left")
    out.attrs.update(tracks.attrs)
    return TrainingData(out, dataset=tracks.attrs.get("dataset"))


# -------------------------------------------------------------------------------- features


def rules(df: pd.DataFrame, order=RULE_ORDER, fallback: str = "calm") -> np.ndarray:
    """The hand-written threshold rules (module docstring): the first rule in `order` that fires wins, else `fallback`."""
    x = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in
         ("valence", "energy", "danceability", "tempo", "acousticness", "instrumentalness", "speechiness")}
    with np.errstate(invalid="ignore"):
        fire = {
            "happy": (x["valence"] > 0.7) & (x["energy"] > 0.7),
            "sad": x["valence"] < 0.4,
            "energetic": (x["energy"] > 0.8) & (x["danceability"] > 0.7),
            "calm": (x["tempo"] < 100) & (x["acousticness"] > 0.5),
            "focus": (x["instrumentalness"] > 0.6) & (x["speechiness"] < 0.1),
        }
    out = np.full(len(df), fallback, dtype=object)
    done = np.zeros(len(df), dtype=bool)
    for mood in order:
        hit = fire[mood] & ~done
        out[hit] = mood
        done |= fire[mood]
    return out


class _Features:
    def __init__(self, use_genre: bool):
        self.use_genre = use_genre
        self.taxonomy = load_taxonomy()
        self.super_genres = sorted(set(self.taxonomy.values()))
        self.names = [*AUDIO_COLUMNS, "log_duration"] + ([f"genre={s}" for s in self.super_genres] if use_genre else [])
        self.medians: np.ndarray | None = None

    def raw(self, df: pd.DataFrame) -> np.ndarray:
        cols = [pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in AUDIO_COLUMNS]
        cols.append(np.log1p(pd.to_numeric(df["duration_ms"], errors="coerce").to_numpy(float) / 1000.0))
        X = np.column_stack(cols)
        if self.use_genre:
            sup = df["track_genre"].map(self.taxonomy) if "track_genre" in df else pd.Series([None] * len(df))
            X = np.hstack([X, np.column_stack([(sup == s).to_numpy(float) for s in self.super_genres])])
        return X

    def fit(self, df: pd.DataFrame) -> _Features:
        self.medians = np.nanmedian(self.raw(df), axis=0)
        return self

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        X = self.raw(df)
        bad = np.isnan(X)
        X[bad] = np.take(self.medians, np.nonzero(bad)[1])
        return X


class MoodModel(TrackModel):
    def __init__(self, features: _Features, forest: RandomForestClassifier, temperature: float):
        self.features = features
        self.forest = forest
        self.temperature = temperature
        self.required_columns = tuple(c for c in INPUT_COLUMNS if features.use_genre or c != "track_genre")

    def proba(self, df: pd.DataFrame) -> np.ndarray:
        """(n, 5) probabilities in MOODS order."""
        p = np.full((len(df), len(MOODS)), 1e-9)
        idx = [MOODS.index(c) for c in self.forest.classes_]
        p[:, idx] = self.forest.predict_proba(self.features.transform(df))
        return gm.tempered(p, self.temperature)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        p = self.proba(df)
        out = {"mood": np.array(MOODS, dtype=object)[p.argmax(axis=1)]}
        for j, m in enumerate(MOODS):
            out[f"mood_p_{m}"] = p[:, j]
        out["mood_intensity"] = np.clip((p.max(axis=1) - 1 / len(MOODS)) / (1 - 1 / len(MOODS)), 0, 1)
        return pd.DataFrame(out, index=df.index)


def _forest(cfg: MoodConfig, leaf: int) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=cfg.n_trees, min_samples_leaf=leaf, max_features=cfg.max_features,
                                  class_weight="balanced", n_jobs=cfg.n_jobs, random_state=cfg.seed)


def _cv(train_df: pd.DataFrame, X: np.ndarray, y: np.ndarray, cfg: MoodConfig, leaf: int) -> np.ndarray:
    """Out-of-fold probabilities (MOODS order) of grouped K-fold inside the training rows."""
    oof = np.full((len(train_df), len(MOODS)), 1e-9)
    for tr, va in group_kfold(train_df, "artist_key", cfg.cv_folds, seed=cfg.seed):
        f = _forest(cfg, leaf).fit(X[tr], y[tr])
        oof[np.ix_(va, [MOODS.index(c) for c in f.classes_])] = f.predict_proba(X[va])
    return oof


# ----------------------------------------------------------------------------------- train


def train(data: TrainingData | pd.DataFrame, config: MoodConfig | dict | None = None) -> TrainResult:
    cfg = MoodConfig.resolve(config)
    df = TrainingData.of(data).frame
    t0 = time.time()
    if "mood_label" not in df.columns:
        raise ValueError("mood.train needs the frame from mood.load (with mood_label)")
    tracks = df.drop_duplicates("track_id").reset_index(drop=True)
    coverage = float(tracks["mood_label"].notna().mean())
    lab = tracks[tracks["mood_label"].notna()].reset_index(drop=True)
    lab["artist_key"] = lab["artist_key"].fillna("track:" + lab["track_id"].astype(str))
    y_all = lab["mood_label"].to_numpy(dtype=object)
    agreement = accuracy(y_all, rules(lab, RULE_ORDER, fallback=pd.Series(y_all).mode()[0]))

    tr_idx, te_idx = group_split(lab, "artist_key", cfg.test_size, cfg.seed)
    assert_disjoint(lab, tr_idx, te_idx, "artist_key")
    train_df, test = lab.loc[tr_idx].reset_index(drop=True), lab.loc[te_idx].reset_index(drop=True)
    y_tr, y_te = train_df["mood_label"].to_numpy(dtype=object), test["mood_label"].to_numpy(dtype=object)
    majority = pd.Series(y_tr).value_counts().index[0]

    feats = _Features(cfg.use_genre).fit(train_df)
    X_tr = feats.transform(train_df)
    ytr_idx = np.array([MOODS.index(v) for v in y_tr])
    cv_scores, best = {}, None
    for leaf in cfg.leaf_grid:
        oof = _cv(train_df, X_tr, y_tr, cfg, leaf)
        cv_scores[leaf] = macro_f1(y_tr, np.array(MOODS, dtype=object)[oof.argmax(axis=1)])
        if best is None or cv_scores[leaf] > cv_scores[best[0]]:
            best = (leaf, oof)
    leaf, oof = best
    temperature = gm.fit_temperature(oof, np.eye(len(MOODS), dtype=bool)[ytr_idx])
    forest = _forest(cfg, leaf).fit(X_tr, y_tr)
    forest.n_jobs = 1  # prediction: thread start-up costs more than it saves on a few rows
    model = MoodModel(feats, forest, temperature)
    train_seconds = time.time() - t0

    p = model.proba(test)
    pred = np.array(MOODS, dtype=object)[p.argmax(axis=1)]
    base = rules(test, RULE_ORDER, fallback=majority)
    seed_rules = rules(test, SEED_ORDER, fallback=majority)
    shared = {"label_coverage": coverage, "rules_agreement": agreement}
    metrics = {"macro_f1": macro_f1(y_te, pred), "accuracy": accuracy(y_te, pred), **shared}
    baseline = {"macro_f1": macro_f1(y_te, base), "accuracy": accuracy(y_te, base), **shared}
    extra = {
        "rules_seed_order": {"macro_f1": macro_f1(y_te, seed_rules), "accuracy": accuracy(y_te, seed_rules)},
        "majority": {"macro_f1": macro_f1(y_te, np.full(len(y_te), majority, dtype=object)),
                     "accuracy": accuracy(y_te, np.full(len(y_te), majority, dtype=object))},
        "cv_train": {"macro_f1": cv_scores[leaf]},
    }
    metrics["ece"] = gm.expected_calibration_error(p.max(axis=1), pred == y_te)
    baseline["ece"] = gm.expected_calibration_error(np.ones(len(y_te)), base == y_te)  # rules are certain

    rep = gm.per_class_report(y_te, pred, MOODS)
    rep_b = gm.per_class_report(y_te, base, MOODS)
    figures = {
        "confusion.png": gm.confusion_figure(y_te, pred, MOODS, f"mood confusion (test, macro-F1 {metrics['macro_f1']:.3f})"),
        "confusion_rules.png": gm.confusion_figure(y_te, base, MOODS, "threshold rules on the same test rows"),
        "per_class_f1.png": gm.per_class_f1_figure({"model": rep, "rules": rep_b}, "mood F1 per class (test)"),
        "feature_importance.png": gm.importance_figure(feats.names, model.forest.feature_importances_,
                                                       "random forest impurity importance"),
        "reliability.png": gm.reliability_figure({"mood": (p.max(axis=1), pred == y_te)}, "mood top-1 reliability (test)"),
    }
    dist = pd.DataFrame({"train": pd.Series(y_tr).value_counts(), "test": pd.Series(y_te).value_counts()}).reindex(list(MOODS))
    tables = {
        "per_class.csv": rep.merge(rep_b[["class", "f1"]].rename(columns={"f1": "rules_f1"}), on="class"),
        "label_distribution.csv": dist.fillna(0).astype(int).rename_axis("mood").reset_index(),
        "mood_tags.csv": load_mood_tags(),
    }
    source_cols = [c for c in df.columns if c in set(INPUT_COLUMNS) | {"track_id", "artists", "track_name", "album_name",
                                                                         "popularity", "explicit"}]
    eval_frame = test[source_cols].assign(mood_label=y_te)
    params = {
        "baseline": f"threshold rules, order {' > '.join(RULE_ORDER)}, fallback = train majority ({majority})",
        "model": f"random forest {cfg.n_trees} trees, class_weight=balanced, min_samples_leaf={leaf} (grouped CV)",
        "temperature": round(temperature, 4), "cv_macro_f1_by_leaf": str({k: round(v, 4) for k, v in cv_scores.items()}),
        "label_rule": f"artist votes >= {MIN_VOTES}, top mood share >= {MIN_SHARE}, strictly ahead",
        "n_labelled": len(lab), "n_artists_labelled": int(lab["artist_key"].nunique()),
        "train_seconds": round(train_seconds, 1),
    }
    return TrainResult(
        model=model, metrics=metrics, baseline=baseline,
        split=f"labelled tracks grouped by artist_key ({cfg.test_size:.0%} of artists to test)",
        n_train=len(train_df), n_test=len(test), params=params, figures=figures, tables=tables,
        input_example=test[source_cols].head(5).reset_index(drop=True), extra=extra, eval_frame=eval_frame,
        config=cfg,
    )


def _predict_frame(model, df: pd.DataFrame) -> pd.DataFrame:
    if isinstance(model, TrackModel):
        return pd.DataFrame(model.predict(None, df))
    return pd.DataFrame(model.predict(df))


def score(model, eval_frame: pd.DataFrame) -> dict[str, float]:
    """Re-score any version on a frozen evaluation frame."""
    pred = _predict_frame(model, eval_frame.drop(columns=["mood_label"]))["mood"].to_numpy(dtype=object)
    y = eval_frame["mood_label"].to_numpy(dtype=object)
    return {"macro_f1": macro_f1(y, pred), "accuracy": accuracy(y, pred)}


SPEC = ModelSpec(
    name="mood",
    description="5 moods (happy, sad, energetic, calm, focus) + intensity from audio features and super-genre; "
                "labels from Last.fm artist tags; random forest vs hand-written threshold rules",
    load=load,
    train=train,
    key_metrics=("macro_f1", "accuracy", "label_coverage"),
    datasets=("spotify_tracks", "lastfm_user_taggedartists", "lastfm_artists", "lastfm_tags"),
    higher_is_better={"macro_f1": True, "accuracy": True, "label_coverage": True, "rules_agreement": True,
                      "ece": False},
    score=score,
    config=MoodConfig,
)
