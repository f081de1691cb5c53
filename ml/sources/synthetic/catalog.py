"""Artists and the Spotify-Tracks-shaped catalog.

Model (all draws from keyed child generators of the seed):
- artists: a genre each (balanced over genres, shuffled ids), a latent popularity effect
  ~ N(0, 1), a prolificness, per-feature offsets of their sound from the genre mean, an
  explicitness trait; names from the genre's language pool (kept unique).
- rows: balanced over genres and ordered by genre like upstream dataset.csv; about 2.5 %
  of rows re-list a track of a related genre (same track_id and values, other genre).
- unique tracks: artist drawn within the genre ∝ prolificness (every artist first gets one
  track when the genre has room); features = genre mean + artist offset + correlated noise
  in logit space; popularity = genre effect + 13·artist effect + noise, clipped to 0-100.
- upstream quirks: one track without artists/album/name, a few tempo == 0 with
  time_signature == 0 (and danceability/valence 0, as upstream).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ml.sources.synthetic import vocab
from ml.sources.synthetic._util import (
    CATALOG,
    TRACKS,
    balanced_split,
    fixed_width_strings,
    logit,
    part_name,
    rng_for,
    round_sig,
    sigmoid,
    string_array,
    write_parquet_slices,
)

G = vocab.GENRES
N_GENRES = len(G)

TRACK_COLUMNS = (
    "Unnamed: 0", "track_id", "artists", "album_name", "track_name", "popularity", "duration_ms",
    "explicit", "danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
    "instrumentalness", "liveness", "valence", "tempo", "time_signature", "track_genre",
)
TRACK_SCHEMA = pa.schema(
    [
        ("Unnamed: 0", pa.int64()), ("track_id", pa.string()), ("artists", pa.string()),
        ("album_name", pa.string()), ("track_name", pa.string()), ("popularity", pa.int64()),
        ("duration_ms", pa.int64()), ("explicit", pa.bool_()), ("danceability", pa.float64()),
        ("energy", pa.float64()), ("key", pa.int64()), ("loudness", pa.float64()), ("mode", pa.int64()),
        ("speechiness", pa.float64()), ("acousticness", pa.float64()),
        ("instrumentalness", pa.float64()), ("liveness", pa.float64()), ("valence", pa.float64()),
        ("tempo", pa.float64()), ("time_signature", pa.int64()), ("track_genre", pa.string()),
    ]
)

DUPLICATE_SHARE = 0.025  # upstream: 251 of 10,000 sampled rows repeat a track_id
ZERO_POPULARITY_SHARE = 0.04
HOLIDAY_SHARE = 0.004
STRING_BLOCK = 1 << 17  # tracks per block when building names (bounds memory)
BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)

# correlation of (danceability, energy, speechiness, acousticness, valence, liveness) in logit space
_CORR = np.array([
    [1.00, 0.15, 0.15, -0.15, 0.45, -0.10],
    [0.15, 1.00, 0.10, -0.65, 0.35, 0.15],
    [0.15, 0.10, 1.00, 0.00, 0.00, 0.10],
    [-0.15, -0.65, 0.00, 1.00, -0.10, -0.05],
    [0.45, 0.35, 0.00, -0.10, 1.00, 0.00],
    [-0.10, 0.15, 0.10, -0.05, 0.00, 1.00],
])
_SPREAD = np.array([0.75, 0.95, 0.8, 1.9, 1.0, 0.65])
_ARTIST_SPREAD = np.array([0.35, 0.4, 0.35, 0.8, 0.45, 0.2])
_KEY_P = np.array([0.115, 0.095, 0.105, 0.035, 0.075, 0.08, 0.07, 0.115, 0.065, 0.10, 0.07, 0.075])
_TEMPO_SD = np.array([vocab.TEMPO_SD.get(name, vocab.TEMPO_SD_DEFAULT) for name in G.names])
_WALTZ_FAMILIES = {"calm", "folk", "country", "jazz"}


@dataclass
class Catalog:
    """Everything the chart and Last.fm generators need from the catalog."""

    # artists
    artist_name: list[str]
    artist_genre: np.ndarray
    artist_effect: np.ndarray
    artist_profile: np.ndarray  # (A, 6) mean features of the artist's sound (FEATURES_01 order)
    artist_tempo: np.ndarray
    artist_instrumental: np.ndarray  # logit offset of P(instrumental track)
    artist_offsets: np.ndarray  # (A, 6) logit offsets from the genre mean
    artist_explicit: np.ndarray  # explicitness trait
    # unique tracks
    genre: np.ndarray
    artist: np.ndarray
    featured: np.ndarray  # (U, 2) artist index or -1
    popularity: np.ndarray
    holiday: np.ndarray  # bool
    chartable: np.ndarray  # bool: has a name and an artist
    track_id: pa.Array
    track_name: pa.Array
    # rows of the spotify_tracks table
    row_src: np.ndarray
    row_genre: np.ndarray

    @property
    def n_unique(self) -> int:
        return len(self.genre)

    def artists_joined(self, idx: np.ndarray, sep: str) -> list[str | None]:
        out: list[str | None] = []
        names = self.artist_name
        for a, (f1, f2), ok in zip(self.artist[idx], self.featured[idx], self.chartable[idx], strict=True):
            if not ok:
                out.append(None)
            elif f1 < 0:
                out.append(names[a])
            elif f2 < 0:
                out.append(names[a] + sep + names[f1])
            else:
                out.append(names[a] + sep + names[f1] + sep + names[f2])
        return out


# ----------------------------------------------------------------------------- names


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:]


def _pick(seq, u: float):
    return seq[min(int(u * len(seq)), len(seq) - 1)]


def _invented(u1: float, u2: float, u3: float) -> str:
    syl = vocab.SYLLABLES
    s = _pick(syl, u1) + _pick(syl, u2)
    if u3 < 0.4:
        s += _pick(syl, u3 / 0.4)
    return _cap(s) if s else "Xo"


def _person(pool: str, u1: float, u2: float) -> str:
    first, last = vocab.PERSON_NAMES.get(pool, vocab.PERSON_NAMES["en"])  # ko/zh: family name first
    return f"{_pick(first, u1)} {_pick(last, u2)}"


def _artist_name(pool: str, u: np.ndarray) -> str:
    t = u[0]
    en_first, en_last = vocab.PERSON_NAMES["en"]
    adj, noun = vocab.BAND_ADJ, vocab.BAND_NOUN
    if pool == "classical":
        if t < 0.6:
            return f"{_pick(vocab.CLASSICAL_FIRST, u[1])} {_pick(vocab.CLASSICAL_LAST, u[2])}"
        if t < 0.8:
            kind = _pick(("Philharmonic Orchestra", "Chamber Orchestra", "Symphony Orchestra", "Baroque Ensemble"), u[3])
            return f"{_pick(vocab.ORCHESTRA_CITIES, u[1])} {kind}"
        return f"{_pick(vocab.CLASSICAL_LAST, u[2])} {_pick(('Quartet', 'Trio', 'Consort'), u[3])}"
    if pool == "calm":
        words = vocab.POOL_WORDS["calm"]
        if t < 0.35:
            kind = _pick(("Ensemble", "Sounds", "Collective", "Project", "Orchestra", "Lab"), u[3])
            return f"{_cap(_pick(words, u[1]))} {_cap(_pick(words, u[2]))} {kind}"
        if t < 0.55:
            return f"{_pick(('Lo-Fi', 'Sleepy', 'Deep', 'Calm', 'Quiet', 'Soft'), u[3])} {_invented(u[1], u[2], u[4])}"
        return f"{_pick(en_first, u[1])} {_pick(en_last, u[2])}"
    if pool == "dark":
        words = vocab.POOL_WORDS["dark"]
        if t < 0.35:
            return f"{_cap(_pick(words, u[1]))} {_cap(_pick(words, u[2]))}"
        if t < 0.55:
            return f"{_cap(_pick(words, u[1]))} of {_cap(_pick(words, u[2]))}"
        if t < 0.8:
            return _invented(u[1], u[2], u[3]) + _pick(("oth", "gorr", "heim", "grim", "mor", ""), u[4])
        return f"The {_pick(adj, u[1])} {_pick(noun, u[2])}"
    if pool == "club":
        if t < 0.3:
            return _invented(u[1], u[2], u[3])
        if t < 0.45:
            return f"DJ {_invented(u[1], u[2], 1.0)}"
        if t < 0.65:
            return f"{_invented(u[1], u[2], 1.0)} {_invented(u[3], u[4], 1.0)}"
        return f"{_pick(en_first, u[1])} {_pick(en_last, u[2])}"
    if pool == "urban":
        if t < 0.2:
            return f"{_pick(('Lil', 'Young', 'Big', 'MC', 'King', 'Yung'), u[3])} {_invented(u[1], u[2], 1.0)}"
        if t < 0.4:
            return _invented(u[1], u[2], u[3])
        return f"{_pick(en_first, u[1])} {_pick(en_last, u[2])}"
    if pool == "kids":
        if t < 0.4:
            return f"The {_pick(adj, u[1])} {_pick(('Kids', 'Singers', 'Friends', 'Band', 'Choir'), u[2])}"
        if t < 0.6:
            return f"{_invented(u[1], u[2], 1.0)} & Friends"
        return f"{_pick(en_first, u[1])} {_pick(en_last, u[2])}"
    if pool in ("en", "country", "comedy"):
        if t < 0.55 or pool == "comedy":
            return f"{_pick(en_first, u[1])} {_pick(en_last, u[2])}"
        if t < 0.8:
            return f"The {_pick(adj, u[1])} {_pick(noun, u[2])}"
        if t < 0.9:
            return f"{_pick(adj, u[1])} {_pick(noun, u[2])}"
        return f"{_pick(en_first, u[1])} {_pick(en_last, u[2])} & The {_pick(noun, u[3])}"
    # language pools
    if pool == "ko" and t < 0.45:
        letters = "ABCDEFGHIJKLMNOPRSTVWXYZ"
        n = 3 + int(u[3] * 3)
        return "".join(letters[min(int(x * len(letters)), len(letters) - 1)] for x in (u[1], u[2], u[4], u[5], u[6])[:n])
    if pool == "ja" and t < 0.25:
        return f"{_pick(adj, u[1])} {_pick(noun, u[2])}"
    if pool == "es" and t < 0.25:
        prefix = _pick(("Los", "Banda", "Grupo", "La Sonora"), u[3])
        return f"{prefix} {_cap(_pick(vocab.POOL_WORDS['es'], u[1]))}"
    if pool == "pt" and t < 0.2:
        return f"MC {_invented(u[1], u[2], 1.0)}"
    if pool in ("es", "pt") and t < 0.4:
        return f"{_person(pool, u[1], u[2])} e {_person(pool, u[3], u[4])}" if pool == "pt" else \
            f"{_person(pool, u[1], u[2])} y {_person(pool, u[3], u[4])}"
    return _person(pool, u[1], u[2])


def make_artist_names(pools: np.ndarray, rng: np.random.Generator) -> list[str]:
    u = rng.random((len(pools), 8))
    names = [_artist_name(p, row) for p, row in zip(pools.tolist(), u, strict=True)]
    # keep names unique (they link the Spotify and Last.fm sides): decorate repeats
    seen: set[str] = set()
    extra = rng.random((len(names), 3))
    for i, name in enumerate(names):
        candidate, k = name, 0
        while candidate in seen:
            x = extra[i] if k == 0 else rng.random(3)
            candidate = f"{name} {_invented(x[0], x[1], x[2])}" if k < 3 else f"{name} {k}"
            k += 1
        seen.add(candidate)
        names[i] = candidate
    return names


# ----------------------------------------------------------------------------- titles


def _words(pool: str, k: int, u: np.ndarray) -> list[str]:
    words = vocab.POOL_WORDS[pool]
    mix = vocab.ENGLISH_MIX.get(pool, 0.0)
    out = []
    for j in range(k):
        src = vocab.POOL_WORDS["en"] if u[2 * j] < mix else words
        out.append(_pick(src, u[2 * j + 1]))
    return out


def _phrase(pool: str, u: np.ndarray) -> str:
    k = 1 if u[0] < 0.35 else (2 if u[0] < 0.8 else 3)
    w = _words(pool, k, u[1:])
    if pool in vocab.TITLECASE_POOLS:
        return " ".join(_cap(x) for x in w)
    return _cap(" ".join(w))


def _classical_title(u: np.ndarray) -> str:
    form = _pick(vocab.CLASSICAL_FORMS, u[0])
    key = _pick(vocab.CLASSICAL_KEYS, u[1])
    scale = "Major" if u[2] < 0.55 else "minor"
    title = f"{form} No. {1 + int(u[3] * 24)} in {key} {scale}, Op. {1 + int(u[4] * 120)}"
    if u[5] < 0.6:
        title += ": " + _pick(vocab.CLASSICAL_MOVEMENTS, u[6])
    return title


def make_titles(pools: np.ndarray, families: np.ndarray, holiday: np.ndarray, live: np.ndarray,
                rng: np.random.Generator) -> list[str]:
    u = rng.random((len(pools), 12))
    out = []
    for p, fam, hol, liv, row in zip(pools.tolist(), families.tolist(), holiday.tolist(), live.tolist(), u,
                                     strict=True):
        if p == "classical":
            title = _classical_title(row)
        elif hol:
            title = _pick(vocab.HOLIDAY_WORDS.get(p, vocab.HOLIDAY_WORDS["en"]), row[0])
            if row[1] < 0.5:
                title += " " + _cap(_pick(vocab.POOL_WORDS[p], row[2]))
        else:
            title = _phrase(p, row)
        s = row[11]
        if liv:
            title += " - Live"
        elif s < 0.03:
            title += f" - Remastered {1995 + int(row[10] * 27)}"
        elif fam == "electronic" and s < 0.09:
            title += " - Radio Edit"
        elif fam == "electronic" and s < 0.12:
            title += " - Extended Mix"
        elif s < 0.135:
            title += " - Acoustic"
        out.append(title)
    return out


def make_album_names(pools: np.ndarray, rng: np.random.Generator) -> list[str]:
    u = rng.random((len(pools), 12))
    out = []
    for p, row in zip(pools.tolist(), u, strict=True):
        if p == "classical":
            name = f"{_pick(vocab.CLASSICAL_LAST, row[0])}: {_pick(vocab.CLASSICAL_FORMS, row[1])}s"
        else:
            name = _phrase(p, row)
        s = row[11]
        if s < 0.06:
            name += " (Deluxe Edition)"
        elif s < 0.09:
            name += f" Vol. {2 + int(row[10] * 4)}"
        elif s < 0.11:
            name = f"Greatest Hits: {name}"
        elif s < 0.13:
            name += f" ({2000 + int(row[10] * 23)} Remaster)"
        out.append(name)
    return out


def make_track_ids(n: int, rng: np.random.Generator) -> pa.Array:
    """22-char base62 ids like Spotify's (128-bit: the first char is 0-7); unique."""
    chars = BASE62[rng.integers(0, 62, size=(n, 22), dtype=np.uint8)]
    chars[:, 0] = BASE62[rng.integers(0, 8, size=n, dtype=np.uint8)]
    while True:  # collisions are astronomically unlikely; resolve deterministically anyway
        view = chars.view("S22").ravel()
        _, first = np.unique(view, return_index=True)
        if len(first) == n:
            break
        dup = np.setdiff1d(np.arange(n), first)
        chars[dup, 1:] = BASE62[rng.integers(0, 62, size=(len(dup), 21), dtype=np.uint8)]
    return fixed_width_strings(chars)


# ----------------------------------------------------------------------------- plan


def _neighbors() -> list[np.ndarray]:
    out = []
    for g in range(N_GENRES):
        same = np.flatnonzero(G.family == G.family[g])
        same = same[same != g]
        out.append(same if len(same) else np.array([(g + 1) % N_GENRES]))
    return out


def build_catalog(*, seed: int, tracks: int, artists: int) -> Catalog:
    if tracks < N_GENRES:
        raise ValueError(f"tracks must be >= {N_GENRES} (one per genre)")
    if artists < N_GENRES:
        raise ValueError(f"artists must be >= {N_GENRES} (one per genre)")

    # --- artists
    rng = rng_for(seed, CATALOG, 1)
    artist_genre = rng.permutation(np.repeat(np.arange(N_GENRES), balanced_split(artists, N_GENRES)))
    effect = rng.standard_normal(artists)
    prolific = np.exp(0.5 * effect + 0.8 * rng.standard_normal(artists))
    offsets = rng.standard_normal((artists, 6)) * _ARTIST_SPREAD
    instr_off = 0.8 * rng.standard_normal(artists)
    tempo_off = 6.0 * rng.standard_normal(artists)
    explicit_trait = rng.standard_normal(artists)
    names = make_artist_names(G.pool[artist_genre], rng_for(seed, CATALOG, 2))
    profile = sigmoid(logit(G.mean01[artist_genre]) + offsets)

    # --- rows: balanced genres in upstream order, some re-listing related-genre tracks
    rng = rng_for(seed, CATALOG, 3)
    row_genre = np.repeat(np.arange(N_GENRES), balanced_split(tracks, N_GENRES))
    n_dup = int(tracks * DUPLICATE_SHARE)
    is_dup = np.zeros(tracks, dtype=bool)
    dup_src_row = np.full(tracks, -1, dtype=np.int64)
    if n_dup:
        slots = np.sort(rng.choice(tracks, size=n_dup, replace=False))
        is_dup[slots] = True
        starts = np.concatenate([[0], np.cumsum(balanced_split(tracks, N_GENRES))])
        neigh = _neighbors()
        u = rng.random((n_dup, 2))
        for s, (u1, u2) in zip(slots, u, strict=True):
            g = row_genre[s]
            h = neigh[g][int(u1 * len(neigh[g]))]
            lo, hi = starts[h], starts[h + 1]
            cand = lo + int(u2 * (hi - lo))
            dup_src_row[s] = cand
        # a source row must itself be an original, and each (source, genre) pair once
        bad = is_dup[dup_src_row[slots]]
        key = dup_src_row[slots] * N_GENRES + row_genre[slots]
        _, first = np.unique(key, return_index=True)
        repeated = np.ones(len(slots), dtype=bool)
        repeated[first] = False
        undo = slots[bad | repeated]
        is_dup[undo] = False
        dup_src_row[undo] = -1
    orig_rows = np.flatnonzero(~is_dup)
    n_u = len(orig_rows)
    uid_of_row = np.full(tracks, -1, dtype=np.int64)
    uid_of_row[orig_rows] = np.arange(n_u)
    row_src = uid_of_row.copy()
    row_src[is_dup] = uid_of_row[dup_src_row[is_dup]]
    genre = row_genre[orig_rows]

    # --- unique tracks: artist within genre (each artist at least once when room)
    rng = rng_for(seed, CATALOG, 4)
    artist = np.empty(n_u, dtype=np.int64)
    by_genre_artists = [np.flatnonzero(artist_genre == g) for g in range(N_GENRES)]
    for g in range(N_GENRES):
        tr = np.flatnonzero(genre == g)
        arts = by_genre_artists[g]
        if not len(tr):
            continue
        order = rng.permutation(len(tr))
        first_k = rng.permutation(arts) if len(tr) >= len(arts) else np.empty(0, dtype=np.int64)
        p = prolific[arts] / prolific[arts].sum()
        rest = arts[rng.choice(len(arts), size=len(tr) - len(first_k), p=p)]
        artist[tr[order]] = np.concatenate([first_k, rest]).astype(np.int64)
    # featured artists (';'-joined), mostly of the same genre
    collab = np.array([vocab.COLLAB_RATE.get(f, vocab.COLLAB_RATE_DEFAULT) for f in G.family])[genre]
    u = rng.random((n_u, 4))
    n_feat = np.where(u[:, 0] < collab, np.where(u[:, 1] < 0.25, 2, 1), 0)
    featured = np.full((n_u, 2), -1, dtype=np.int64)
    for j in range(2):
        need = np.flatnonzero(n_feat > j)
        for g in np.unique(genre[need]):
            sel = need[genre[need] == g]
            arts = by_genre_artists[g]
            pick = arts[rng.integers(0, len(arts), size=len(sel))]
            featured[sel, j] = pick
    same = (featured[:, 0] == artist) | (featured[:, 1] == artist) | (featured[:, 0] == featured[:, 1])
    featured[same, 1] = -1
    featured[featured[:, 0] == artist, 0] = -1
    no_first = (featured[:, 0] < 0) & (featured[:, 1] >= 0)
    featured[no_first, 0], featured[no_first, 1] = featured[no_first, 1], -1

    popularity = G.popularity[genre] + 13.0 * effect[artist] + 9.0 * rng.standard_normal(n_u)
    popularity[rng.random(n_u) < ZERO_POPULARITY_SHARE] = 0
    popularity = np.clip(np.round(popularity), 0, 100).astype(np.int64)
    holiday = (rng.random(n_u) < HOLIDAY_SHARE) & (G.pool[genre] != "classical")

    cat = Catalog(
        artist_name=names, artist_genre=artist_genre, artist_effect=effect, artist_profile=profile,
        artist_tempo=G.tempo[artist_genre] + tempo_off, artist_instrumental=instr_off,
        artist_offsets=offsets, artist_explicit=explicit_trait,
        genre=genre, artist=artist, featured=featured, popularity=popularity, holiday=holiday,
        chartable=np.ones(n_u, dtype=bool), track_id=make_track_ids(n_u, rng_for(seed, CATALOG, 5)),
        track_name=pa.nulls(0, pa.string()), row_src=row_src, row_genre=row_genre,
    )
    return cat


# ----------------------------------------------------------------------------- features


def _features(cat: Catalog, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Audio features etc. of every unique track, computed in fixed blocks (bounded memory)."""
    n = cat.n_unique
    feats: dict[str, np.ndarray] = {"popularity": cat.popularity.copy()}
    live_track = np.zeros(n, dtype=bool)
    for block, b0 in enumerate(range(0, n, STRING_BLOCK)):
        b1 = min(n, b0 + STRING_BLOCK)
        part, live = _features_block(cat.genre[b0:b1], cat.artist[b0:b1], cat, rng_for(seed, TRACKS, 1, block))
        for name, values in part.items():
            if name not in feats:
                feats[name] = np.empty(n, dtype=values.dtype)
            feats[name][b0:b1] = values
        live_track[b0:b1] = live
    return feats, live_track


def _features_block(g: np.ndarray, a: np.ndarray, cat: Catalog,
                    rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    n = len(g)
    z = rng.standard_normal((n, 6)) @ np.linalg.cholesky(_CORR).T
    x = sigmoid(logit(G.mean01[g]) + cat.artist_offsets[a] + _SPREAD * z)
    dance, energy, speech, acoustic, valence, live = (x[:, i] for i in range(6))
    live_track = rng.random(n) < np.where(np.isin(G.family[g], ["jazz", "brazil", "folk"]), 0.04, 0.015)
    live = np.where(live_track, 0.7 + 0.28 * rng.random(n), live)

    q = np.clip(sigmoid(logit(np.clip(G.instrumentalness[g] / 0.78, 1e-4, 0.999)) + cat.artist_instrumental[a]),
                0, 1)
    high = rng.random(n) < q
    instr = np.where(high, rng.beta(5.0, 1.4, size=n),
                     np.where(rng.random(n) < 0.45, 0.0, 10.0 ** rng.uniform(-6, -1.6, size=n)))

    loud = G.loudness[g] + 14.0 * (energy - G.mean01[g, 1]) + 2.2 * rng.standard_normal(n)
    loud = np.clip(loud, -45.0, 1.8)
    sd = _TEMPO_SD[g]
    centre = np.where(sd < 10, G.tempo[g], cat.artist_tempo[a])  # grid genres ignore the artist
    tempo = centre + sd * rng.standard_normal(n)
    double = (tempo < 100) & (rng.random(n) < 0.12)
    tempo = np.clip(np.where(double, tempo * 2, tempo), 50.0, 220.0)
    dur = np.exp(np.log(G.duration_s[g] * 1000.0) + 0.28 * rng.standard_normal(n))
    dur = np.clip(np.round(dur), 30_000, 1_500_000).astype(np.int64)
    explicit = rng.random(n) < sigmoid(logit(np.clip(G.explicit[g], 0.002, 0.95)) + 1.2 * cat.artist_explicit[a])
    key = rng.choice(12, size=n, p=_KEY_P / _KEY_P.sum())
    mode = (rng.random(n) < G.major[g]).astype(np.int64)
    waltz = np.isin(G.family[g], list(_WALTZ_FAMILIES))
    u = rng.random(n)
    p3 = np.where(waltz, 0.18, 0.07)
    ts = np.where(u < p3, 3, np.where(u < p3 + 0.015, 5, np.where(u < p3 + 0.025, 1, 4))).astype(np.int64)

    feats = {
        "duration_ms": dur,
        "explicit": explicit,
        "danceability": round_sig(dance),
        "energy": round_sig(energy),
        "key": key.astype(np.int64),
        "loudness": np.round(loud, 3),
        "mode": mode,
        "speechiness": round_sig(speech),
        "acousticness": round_sig(acoustic),
        "instrumentalness": round_sig(instr),
        "liveness": round_sig(live),
        "valence": round_sig(valence),
        "tempo": np.round(tempo, 3),
        "time_signature": ts,
    }
    return feats, live_track


def _quirks(cat: Catalog, feats: dict[str, np.ndarray], seed: int) -> None:
    """Upstream quirks: one nameless track, a few tempo == 0 / time_signature == 0 rows."""
    rng = rng_for(seed, TRACKS, 9)
    n = cat.n_unique
    listed = np.bincount(cat.row_src, minlength=n)
    once = np.flatnonzero(listed == 1)
    nameless = int(once[rng.integers(len(once))]) if len(once) else int(rng.integers(n))
    cat.chartable[nameless] = False
    feats["popularity"][nameless] = 0
    n_zero = max(2, round(n * 0.0012))
    zero = rng.choice(np.setdiff1d(np.arange(n), [nameless]), size=min(n_zero, n - 1), replace=False)
    for col in ("tempo", "danceability", "valence"):
        feats[col][zero] = 0.0
    feats["time_signature"][zero] = 0


def write_tracks(cat: Catalog, out_dir: Path, *, seed: int, chunk_rows: int,
                 progress: Callable[[str, int, int], None] | None = None) -> list[str]:
    feats, live = _features(cat, seed)
    _quirks(cat, feats, seed)
    # albums: each artist has a few, tracks of an artist share them; ~25 % singles
    rng = rng_for(seed, TRACKS, 4)
    n_tracks_of = np.bincount(cat.artist, minlength=len(cat.artist_name))
    n_albums = np.maximum(1, np.ceil(n_tracks_of / 6)).astype(np.int64)
    album_start = np.concatenate([[0], np.cumsum(n_albums)])
    slot = (rng.random(cat.n_unique) * n_albums[cat.artist]).astype(np.int64)
    album_id = album_start[cat.artist] + slot
    single = rng.random(cat.n_unique) < 0.25
    album_names = make_album_names(np.repeat(G.pool[cat.artist_genre], n_albums), rng_for(seed, TRACKS, 3))

    # names in blocks, so a million titles never sit in memory as Python strings
    rng = rng_for(seed, TRACKS, 2)
    title_parts, album_parts, artist_parts = [], [], []
    for b0 in range(0, cat.n_unique, STRING_BLOCK):
        b1 = min(cat.n_unique, b0 + STRING_BLOCK)
        g = cat.genre[b0:b1]
        titles: list[str | None] = list(make_titles(G.pool[g], G.family[g], cat.holiday[b0:b1], live[b0:b1], rng))
        albums: list[str | None] = [
            t if one else album_names[i]
            for t, one, i in zip(titles, single[b0:b1].tolist(), album_id[b0:b1].tolist(), strict=True)
        ]
        for i in np.flatnonzero(~cat.chartable[b0:b1]):
            titles[i] = albums[i] = None
        title_parts.append(string_array(titles))
        album_parts.append(string_array(albums))
        artist_parts.append(string_array(cat.artists_joined(np.arange(b0, b1), ";")))
    del album_names
    cat.track_name = pa.concat_arrays(title_parts)
    album_arr = pa.concat_arrays(album_parts)
    artists_arr = pa.concat_arrays(artist_parts)
    genre_names = pa.array(list(G.names), type=pa.string())

    out = out_dir / "spotify_tracks"
    out.mkdir(parents=True, exist_ok=True)
    n = len(cat.row_src)
    parts = []
    def build(start: int, stop: int) -> pa.Table:
        src = cat.row_src[start:stop]
        take = pa.array(src)
        cols = {
            "Unnamed: 0": pa.array(np.arange(start, stop, dtype=np.int64)),
            "track_id": cat.track_id.take(take),
            "artists": artists_arr.take(take),
            "album_name": album_arr.take(take),
            "track_name": cat.track_name.take(take),
        }
        for col in TRACK_COLUMNS[5:-1]:
            cols[col] = pa.array(feats[col][src])
        cols["track_genre"] = genre_names.take(pa.array(cat.row_genre[start:stop]))
        return pa.Table.from_arrays([cols[c] for c in TRACK_COLUMNS], schema=TRACK_SCHEMA)

    for i, start in enumerate(range(0, n, chunk_rows)):
        stop = min(n, start + chunk_rows)
        name = part_name(i)
        write_parquet_slices(out / name, TRACK_SCHEMA, stop - start, lambda s, e, o=start: build(o + s, o + e))
        parts.append(f"spotify_tracks/{name}")
        if progress:
            progress("spotify_tracks", stop, n)
    return parts
