"""hetrec2011-lastfm-2k-shaped tables: plays, artists, tags, tag assignments, friends.

Model:
- each user has a latent taste: a Dirichlet mixture over 1-5 genres (extra genres mostly
  from the same family), smoothed by overall genre popularity, and an activity level;
- a user's top artists (50 for ~97 % of users, as upstream) are drawn per genre from the
  taste, favouring artists with a high latent effect; play counts fall with the artist's
  rank in the user's list (heavy-tailed overall), so a recommender has real signal;
- ~70 % of users tag some of their artists: the artist's genre tag, related genre tags,
  mood tags whose probabilities follow the artist's audio profile (low valence -> sad /
  melancholic / dark, high energy -> energetic, ...), and generic tags;
- friendships prefer users with similar taste; listed in both directions, as upstream.
Artist ids are the synthetic artist index + 1 (names match the Spotify side).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import pyarrow as pa

from ml.sources.synthetic import vocab
from ml.sources.synthetic._util import LASTFM, gumbel_top_k, rng_for, sigmoid, write_parquet
from ml.sources.synthetic.catalog import Catalog

G = vocab.GENRES
MAX_ARTISTS_PER_USER = 50
TAG_YEARS = np.arange(2005, 2012)
TAG_YEAR_WEIGHTS = np.array([1145, 5413, 12335, 24421, 23961, 31046, 10146], dtype=np.float64)

SCHEMAS = {
    "user_artists": pa.schema([("userID", pa.int64()), ("artistID", pa.int64()), ("weight", pa.int64())]),
    "artists": pa.schema([("id", pa.int64()), ("name", pa.string()), ("url", pa.string()),
                          ("pictureURL", pa.string())]),
    "tags": pa.schema([("tagID", pa.int64()), ("tagValue", pa.string())]),
    "user_taggedartists": pa.schema([("userID", pa.int64()), ("artistID", pa.int64()), ("tagID", pa.int64()),
                                     ("day", pa.int64()), ("month", pa.int64()), ("year", pa.int64())]),
    "user_friends": pa.schema([("userID", pa.int64()), ("friendID", pa.int64())]),
}
DATASET_OF = {  # file stem -> lake dataset name
    "user_artists": "lastfm_user_artists",
    "artists": "lastfm_artists",
    "tags": "lastfm_tags",
    "user_taggedartists": "lastfm_user_taggedartists",
    "user_friends": "lastfm_user_friends",
}


def genre_tag(name: str) -> str:
    return vocab.GENRE_TAG_SPELLING.get(name, name.replace("-", " ") if name not in {
        "hip-hop", "k-pop", "j-pop", "j-rock", "trip-hop", "j-idol", "j-dance"} else name)


def mood_scores(profile: np.ndarray) -> np.ndarray:
    """(artists, 6) audio profile -> (artists, len(MOOD_TAGS)) tag propensities in [0, 1]."""
    d, e, _s, a, v, _l = (profile[:, i] for i in range(6))

    def s(x: np.ndarray) -> np.ndarray:
        return sigmoid(1.6 * x)

    cols = {
        "chillout": s(7 * (0.5 - e)) * s(4 * (d - 0.4)),
        "mellow": s(7 * (0.45 - e)),
        "sad": s(7 * (0.35 - v)),
        "happy": s(7 * (v - 0.62)),
        "melancholic": s(7 * (0.4 - v)) * s(6 * (0.55 - e)),
        "relaxing": s(7 * (0.4 - e)) * s(5 * (a - 0.5)),
        "party": s(8 * (d - 0.68)) * s(7 * (e - 0.65)),
        "energetic": s(9 * (e - 0.78)),
        "dark": s(7 * (0.33 - v)) * s(6 * (e - 0.55)),
        "upbeat": s(7 * (v - 0.55)) * s(5 * (e - 0.6)),
        "romantic": 0.7 * s(6 * (0.5 - e)) * s(5 * (v - 0.35)),
        "aggressive": s(10 * (e - 0.86)) * s(7 * (0.35 - v)),
        "atmospheric": s(6 * (0.4 - e)) * s(4 * (a - 0.5)) * s(5 * (0.45 - v)),
        "dreamy": s(6 * (0.45 - e)) * s(5 * (v - 0.3)),
        "calm": s(9 * (0.35 - e)),
        "uplifting": s(7 * (v - 0.6)) * s(6 * (e - 0.55)),
    }
    return np.stack([cols[m] for m in vocab.MOOD_TAGS], axis=1)


def tag_vocabulary(rng: np.random.Generator) -> list[str]:
    """Genre tags, mood tags and generic tags (unique), in a seeded order like upstream's first-use order."""
    values: list[str] = []
    for t in [*(genre_tag(n) for n in G.names), *vocab.MOOD_TAGS, *vocab.MISC_TAGS]:
        if t not in values:
            values.append(t)
    return [values[i] for i in rng.permutation(len(values))]


def _tastes(users: int, rng: np.random.Generator) -> np.ndarray:
    base = np.exp(0.6 * G.mainstream + 0.02 * G.popularity)
    base /= base.sum()
    taste = np.zeros((users, len(G)))
    k = np.minimum(1 + rng.poisson(1.2, size=users), 5)
    fam_members = {f: np.flatnonzero(G.family == f) for f in np.unique(G.family)}
    for u in range(users):
        chosen = [int(rng.choice(len(G), p=base))]
        while len(chosen) < k[u]:
            if rng.random() < 0.65:
                fam = fam_members[G.family[chosen[int(rng.integers(len(chosen)))]]]
                g = int(fam[rng.integers(len(fam))])
            else:
                g = int(rng.choice(len(G), p=base))
            if g not in chosen:
                chosen.append(g)
            elif rng.random() < 0.3:
                break
        taste[u, chosen] = rng.dirichlet(np.ones(len(chosen)))
    return 0.93 * taste + 0.07 * base


def write_lastfm(cat: Catalog, out_dir: Path, *, seed: int, users: int,
                 progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    folder = out_dir / "lastfm_hetrec"
    folder.mkdir(parents=True, exist_ok=True)
    n_art = len(cat.artist_name)
    by_genre = [np.flatnonzero(cat.artist_genre == g) for g in range(len(G))]
    eff = cat.artist_effect

    # --- users and plays
    rng = rng_for(seed, LASTFM, 1)
    user_ids = 2 + np.sort(rng.choice(int(users * 1.1) + 1, size=users, replace=False)).astype(np.int64)
    taste = _tastes(users, rng)
    n_top = np.where(rng.random(users) < 0.97, MAX_ARTISTS_PER_USER, rng.integers(1, MAX_ARTISTS_PER_USER, users))
    activity = np.exp(np.log(6500) + 1.1 * rng.standard_normal(users))
    steepness = rng.uniform(0.6, 1.5, size=users)  # how concentrated a user's plays are
    ua_user, ua_artist, ua_weight = [], [], []
    lists: list[np.ndarray] = []
    for u in range(users):
        slots = rng.multinomial(n_top[u], taste[u])
        picked = []
        for g in np.flatnonzero(slots):
            arts = by_genre[g]
            if len(arts):
                picked.append(arts[gumbel_top_k(0.9 * eff[arts], int(slots[g]), rng)])
        arts = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
        short = min(int(n_top[u]), n_art) - len(arts)
        if short > 0:  # small genres ran out of artists: fill by taste over all the others
            logw = np.log(taste[u, cat.artist_genre]) + 0.9 * eff
            logw[arts] = -np.inf
            arts = np.concatenate([arts, gumbel_top_k(logw, short, rng)])
        score = np.log(taste[u, cat.artist_genre[arts]]) + 0.5 * eff[arts] + rng.gumbel(size=len(arts))
        arts = arts[np.argsort(-score, kind="stable")]
        rank = np.arange(1, len(arts) + 1)
        w = activity[u] * rank ** -steepness[u] * np.exp(0.35 * rng.standard_normal(len(arts)))
        lists.append(arts)
        ua_user.append(np.full(len(arts), user_ids[u]))
        ua_artist.append(arts + 1)
        ua_weight.append(np.maximum(1, np.rint(w)).astype(np.int64))
    ua = pa.Table.from_arrays(
        [pa.array(np.concatenate(ua_user)), pa.array(np.concatenate(ua_artist)), pa.array(np.concatenate(ua_weight))],
        schema=SCHEMAS["user_artists"],
    ).sort_by([("userID", "ascending"), ("artistID", "ascending")])

    # --- tags and tag assignments
    rng = rng_for(seed, LASTFM, 2)
    tag_values = tag_vocabulary(rng)
    tag_id = {t: i + 1 for i, t in enumerate(tag_values)}
    T = len(tag_values)
    genre_col = np.array([tag_id[genre_tag(n)] - 1 for n in G.names])
    mood_col = np.array([tag_id[m] - 1 for m in vocab.MOOD_TAGS])
    misc_col = np.array([tag_id[m] - 1 for m in vocab.MISC_TAGS])
    pairs_u, pairs_a = [], []
    taggers = rng.random(users) < 0.7
    for u in np.flatnonzero(taggers):
        k = min(1 + int(rng.geometric(1 / 12)), 60)
        own = lists[u]
        n_own = min(k, len(own))
        a_own = own[gumbel_top_k(-0.05 * np.arange(len(own)), n_own, rng)]
        extra = []
        if rng.random() < 0.3:  # tags an artist outside the top list, from a favourite genre
            g = int(np.argmax(taste[u]))
            if len(by_genre[g]):
                extra = [int(by_genre[g][rng.integers(len(by_genre[g]))])]
        arts = np.unique(np.concatenate([a_own, np.array(extra, dtype=np.int64)]))
        pairs_u.append(np.full(len(arts), u))
        pairs_a.append(arts)
    pu = np.concatenate(pairs_u) if pairs_u else np.zeros(0, np.int64)
    pa_ = np.concatenate(pairs_a) if pairs_a else np.zeros(0, np.int64)
    n_pairs = len(pu)
    logw = np.full((n_pairs, T), -np.inf)
    if n_pairs:
        g = cat.artist_genre[pa_]
        w = np.zeros((n_pairs, T))
        w[np.arange(n_pairs), genre_col[g]] += 6.0
        for fam in np.unique(G.family):
            members = np.flatnonzero(G.family == fam)
            rows = np.flatnonzero(G.family[g] == fam)
            w[np.ix_(rows, genre_col[members])] += 0.3
        w[:, mood_col] += 1.0 * mood_scores(cat.artist_profile[pa_]) + 0.02
        w[:, misc_col] += 0.15 * vocab.MISC_WEIGHTS
        scene_tags = {sc: tag_id[t] - 1 for sc, t in vocab.SCENE_TAG.items()}
        scenes = G.scene[g]
        for sc, col in scene_tags.items():
            w[scenes == sc, col] += 1.2
        with np.errstate(divide="ignore"):
            logw = np.log(w)
    n_tags = 1 + rng.binomial(3, 0.3, size=n_pairs)
    keys = logw + rng.gumbel(size=logw.shape)
    order = np.argsort(-keys, axis=1, kind="stable")[:, :4]
    rows_i = np.repeat(np.arange(n_pairs), n_tags)
    cols_j = np.concatenate([order[i, :n] for i, n in enumerate(n_tags)]) if n_pairs else np.zeros(0, np.int64)
    year = rng.choice(TAG_YEARS, size=n_pairs, p=TAG_YEAR_WEIGHTS / TAG_YEAR_WEIGHTS.sum())
    month = np.where(year == 2011, rng.integers(1, 6, n_pairs), rng.integers(1, 13, n_pairs))
    day = np.where(rng.random(n_pairs) < 0.97, 1, rng.choice([5, 6], size=n_pairs))
    if n_pairs >= 100:  # upstream quirk: a couple of impossible pre-2005 timestamps
        bad = rng.choice(n_pairs, size=2, replace=False)
        year[bad] = [1956, 1957]
    uta = pa.Table.from_arrays(
        [pa.array(user_ids[pu[rows_i]]), pa.array(pa_[rows_i] + 1), pa.array(cols_j.astype(np.int64) + 1),
         pa.array(day[rows_i].astype(np.int64)), pa.array(month[rows_i].astype(np.int64)),
         pa.array(year[rows_i].astype(np.int64))],
        schema=SCHEMAS["user_taggedartists"],
    ).sort_by([("userID", "ascending"), ("artistID", "ascending"), ("tagID", "ascending")])
    tags = pa.Table.from_arrays([pa.array(np.arange(1, T + 1)), pa.array(tag_values, type=pa.string())],
                                schema=SCHEMAS["tags"])

    # --- friends: similar taste befriends
    rng = rng_for(seed, LASTFM, 3)
    edges = np.zeros((0, 2), dtype=np.int64)
    if users > 1:
        norm = taste / np.linalg.norm(taste, axis=1, keepdims=True)
        C = min(users - 1, 200)
        cand = rng.integers(0, users - 1, size=(users, C))
        cand += cand >= np.arange(users)[:, None]  # never oneself
        sim = np.empty(cand.shape)
        for b0 in range(0, users, 256):  # blocks keep the (users, C, genres) gather small
            b1 = min(users, b0 + 256)
            sim[b0:b1] = np.einsum("ug,ucg->uc", norm[b0:b1], norm[cand[b0:b1]])
        keys = 4.0 * sim + rng.gumbel(size=sim.shape)
        deg = np.minimum(rng.geometric(1 / 7.0, size=users), C)
        best = np.argsort(-keys, axis=1, kind="stable")
        src = np.repeat(np.arange(users), deg)
        dst = np.concatenate([cand[u, best[u, :d]] for u, d in enumerate(deg)])
        both = np.concatenate([np.stack([src, dst], 1), np.stack([dst, src], 1)])
        edges = np.unique(both, axis=0)
    friends = pa.Table.from_arrays([pa.array(user_ids[edges[:, 0]]), pa.array(user_ids[edges[:, 1]])],
                                   schema=SCHEMAS["user_friends"])

    # --- artists: everyone who appears in plays or tags (like upstream)
    rng = rng_for(seed, LASTFM, 4)
    used = np.unique(np.concatenate([np.concatenate(ua_artist) - 1, pa_]))
    names = [cat.artist_name[i] for i in used.tolist()]
    urls = ["http://www.last.fm/music/" + quote_plus(n) for n in names]
    pic_ids = rng.integers(100_000, 60_000_000, size=len(used))
    has_pic = rng.random(len(used)) >= 0.025
    pics = [f"http://userserve-ak.last.fm/serve/252/{p}.jpg" if h else None
            for p, h in zip(pic_ids.tolist(), has_pic.tolist(), strict=True)]
    artists = pa.Table.from_arrays(
        [pa.array(used + 1), pa.array(names, type=pa.string()), pa.array(urls, type=pa.string()),
         pa.array(pics, type=pa.string())],
        schema=SCHEMAS["artists"],
    )

    tables = {"user_artists": ua, "artists": artists, "tags": tags, "user_taggedartists": uta,
              "user_friends": friends}
    rows = {}
    total = sum(t.num_rows for t in tables.values())
    done = 0
    for stem, table in tables.items():
        write_parquet(table, folder / f"{stem}.parquet")
        rows[DATASET_OF[stem]] = table.num_rows
        done += table.num_rows
        if progress:
            progress("lastfm_hetrec", done, total)
    return rows
