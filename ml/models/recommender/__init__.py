"""Artist / track recommender: LightFM + EASE + FAISS content, a small ranker net, MMR re-rank.

Evaluated at artist level on Last.fm hetrec (per-user random 80/20 holdout, 3 seeds) against
most-popular (the baseline), EASE and plain LightFM on the same splits; serves artist
recommendations (with a Spotify track for artists linked by `artist_key`) and similar tracks.
See data.py (lake tables), config.py (typed knobs), training.py (protocol), components.py and fit.py (LightFM,
EASE, FAISS pieces), hybrid.py (candidates, features, ranker, reasons, MMR), model.py (serving) and report.py.
"""

from __future__ import annotations

from ml.models.base import ModelSpec
from ml.models.recommender.config import RecommenderConfig
from ml.models.recommender.data import load
from ml.models.recommender.training import METRIC_KEYS, train

SPEC = ModelSpec(
    name="recommender",
    description=(
        "Hybrid artist recommender on Last.fm plays: LightFM WARP (tag item features) + EASE + FAISS content "
        "neighbours (artist tags, Spotify audio/genre) ranked by a small PyTorch net, MMR diversity re-rank; "
        "similar tracks by FAISS over audio+genre embeddings. Baseline: most popular."
    ),
    load=load,
    train=train,
    key_metrics=("ndcg_at_10", "map_at_10", "hit_rate_at_10", "recall_at_10", "coverage"),
    datasets=("lastfm_user_artists", "lastfm_artists", "lastfm_tags", "lastfm_user_taggedartists", "lastfm_user_friends",
              "spotify_tracks"),
    higher_is_better={k: True for k in METRIC_KEYS},
    config=RecommenderConfig,
)

__all__ = ["SPEC", "RecommenderConfig", "load", "train"]
