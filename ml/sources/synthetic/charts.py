"""Spotify-Charts-shaped daily top200 / viral50 per region, simulated day by day.

Model:
- a pool of chart tracks is drawn from the catalog without replacement, weighted by
  popularity, artist effect and how well the genre travels to the chosen regions; each
  gets a release day (70 % on Fridays), an intensity, a life cycle (rise to a peak 0-3
  days after release for most, weeks later for "sleepers"; exponential decay, some with a
  long tail), and a spread speed; ~250 evergreen catalog tracks keep every chart full
  and a few holiday songs return every December;
- a region's latent daily streams for a track = market size (growing yearly) x track
  intensity x life cycle shifted by the region's lead/lag (leader markets first; a local
  scene's home markets at once, others later) x region-genre affinity x a low-rank
  region-track taste term x a persistent AR(1) buzz x weekday effect (Friday peak, Sunday
  dip, party genres up at weekends) x day noise;
- top200 = the 200 highest latent streams (streams reported), viral50 = the 50 highest
  growth scores (young and rising tracks; streams null), trend vs the previous day.

Every simulated day draws from its own child generator, so the content never depends
on `chunk_rows`; rows stream out in parts of exactly `chunk_rows` rows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from ml.sources.synthetic import vocab
from ml.sources.synthetic._util import CHARTS, gumbel_top_k, part_name, rng_for, write_parquet_slices
from ml.sources.synthetic.catalog import Catalog

G = vocab.GENRES
TOP, VIRAL = 200, 50
ROWS_PER_REGION_DAY = TOP + VIRAL
TRENDS = ("MOVE_UP", "MOVE_DOWN", "SAME_POSITION", "NEW_ENTRY")
CHART_COLUMNS = ("title", "rank", "date", "artist", "url", "region", "chart", "trend", "streams")
CHART_SCHEMA = pa.schema([
    ("title", pa.string()), ("rank", pa.int64()), ("date", pa.string()), ("artist", pa.string()),
    ("url", pa.string()), ("region", pa.string()), ("chart", pa.string()), ("trend", pa.string()),
    ("streams", pa.int64()),
])
URL_PREFIX = "https://open.spotify.com/track/"

N_EVERGREEN = 250  # always-active catalog tracks: at least 200 + 50 candidates every day
WARMUP_DAYS = 120  # releases before the first day, so day 0 sees a mature chart
BURN_IN_DAYS = 7  # simulated but not written (AR state, previous-day ranks for `trend`)
MAX_HOLIDAY = 25
VIRAL_MAX_AGE = 90  # days since release for viral50 candidates (holiday songs aside)
WEEKDAY = np.array([0.0, -0.005, 0.0, 0.01, 0.06, -0.08, -0.2], dtype=np.float32)  # Mon..Sun
RELEASE_WEEKDAY = np.array([0.06, 0.06, 0.06, 0.06, 0.70, 0.03, 0.03])
STREAMS_SCALE = -2.8  # calibrates a region's rank-1 streams to about its market size
COMPRESS = 0.8  # streams ~ exp(COMPRESS * track score): rank 1 / rank 200 about 10, as upstream
AR_RHO, AR_SD = 0.9, 0.15
TASTE_DIM = 3


def region_names(regions: int) -> list[str]:
    if not 1 <= regions <= len(vocab.REGIONS.names):
        raise ValueError(f"regions must be between 1 and {len(vocab.REGIONS.names)}")
    return list(vocab.REGIONS.names[:regions])


def _affinity() -> tuple[np.ndarray, np.ndarray]:
    """(regions x genres) log affinity and home-market flags for the whole region table."""
    R = vocab.REGIONS
    n_r, n_g = len(R.names), len(G)
    aff = np.zeros((n_r, n_g))
    home = np.zeros((n_r, n_g), dtype=bool)
    boost = vocab.MAINSTREAM_BOOST[G.mainstream]
    for r in range(n_r):
        d = R.affinity[r]
        for g in range(n_g):
            scene, fam = G.scene[g], G.family[g]
            base = vocab.SCENE_BASE.get(scene, vocab.LOCAL_SCENE_BASE)
            extra = d.get(scene, 0.0) + (d.get(fam, 0.0) if fam != scene else 0.0)
            aff[r, g] = base + extra + boost[g]
            home[r, g] = scene not in vocab.SCENE_BASE and d.get(scene, 0.0) >= 1.5
    # Global aggregates the countries: size-weighted mean of their affinities
    countries = np.arange(1, n_r)
    w = R.size[countries] / R.size[countries].sum()
    aff[0] = np.log(w @ np.exp(aff[countries])) + R.affinity[0].get("global", 0.0)
    home[0] = False
    return aff, home


class _Pool:
    """The chart tracks and their life-cycle parameters (index = pool position)."""

    def __init__(self, cat: Catalog, n_regions: int, days: int, seed: int, weekday0: int):
        rng = rng_for(seed, CHARTS, 1)
        aff_all, home_all = _affinity()
        self.aff = aff_all[:n_regions].astype(np.float32)
        self.home = home_all[:n_regions]
        eligible = np.flatnonzero(cat.chartable)
        if len(eligible) < N_EVERGREEN + MAX_HOLIDAY + 10:
            raise ValueError(f"spotify_charts needs at least {N_EVERGREEN + MAX_HOLIDAY + 10} tracks; raise `tracks`")
        travel = self.aff.max(axis=0)[cat.genre[eligible]]
        logw = (0.05 * cat.popularity[eligible] + 0.8 * travel
                + 0.4 * cat.artist_effect[cat.artist[eligible]])

        # holiday songs: a few, back every December
        hol_cand = eligible[cat.holiday[eligible]]
        n_hol = min(MAX_HOLIDAY, len(hol_cand))
        hol = hol_cand[gumbel_top_k(logw[cat.holiday[eligible]], n_hol, rng)] if n_hol else hol_cand[:0]
        rest_mask = ~np.isin(eligible, hol)
        rest, logw_rest = eligible[rest_mask], logw[rest_mask]

        # regular releases: Poisson per day, Friday-heavy; scaled down if the catalog is small
        start_day = -WARMUP_DAYS
        span = np.arange(start_day, days)
        lam = (20 + 0.5 * n_regions) * RELEASE_WEEKDAY[(span + weekday0) % 7] * 7 / RELEASE_WEEKDAY.sum()
        room = len(rest) - N_EVERGREEN  # >= 10 by the check above
        if lam.sum() > room * 0.9:
            lam *= room * 0.9 / lam.sum()
        counts = rng.poisson(lam)
        while counts.sum() > room:  # rare: trim the largest days
            counts[np.argmax(counts)] -= 1
        n_rel = int(counts.sum())
        chosen = rest[gumbel_top_k(logw_rest, N_EVERGREEN + n_rel, rng)]
        chosen = rng.permutation(chosen)  # release order independent of weight
        ever, regular = chosen[:N_EVERGREEN], chosen[N_EVERGREEN:]

        self.track = np.concatenate([ever, regular, hol]).astype(np.int64)
        n_e, n_p, P = len(ever), len(regular), len(ever) + len(regular) + len(hol)
        kind = np.concatenate([np.zeros(n_e, np.int8), np.ones(n_p, np.int8), np.full(len(hol), 2, np.int8)])
        self.kind = kind
        rel = np.empty(P)
        rel[:n_e] = rng.uniform(-1500, -WARMUP_DAYS - 30, size=n_e).round()
        rel[n_e:n_e + n_p] = np.repeat(span, counts)
        rel[n_e + n_p:] = -10_000
        self.rel = rel.astype(np.float32)

        eff = cat.artist_effect[cat.artist[self.track]]
        pop = cat.popularity[self.track]
        logA = 0.3 * eff + 0.015 * (pop - 50) + 0.45 * rng.standard_normal(P)
        logA[kind == 0] -= 0.8
        logA[kind == 2] += 0.6
        self.logA = logA.astype(np.float32)
        sleeper = rng.random(P) < 0.3
        peak = np.where(sleeper, np.exp(np.log(14) + 0.6 * rng.standard_normal(P)), 2.5 * rng.random(P))
        peak[kind != 1] = 0
        self.peak = peak.astype(np.float32)
        tau = np.exp(np.log(28) + 0.6 * rng.standard_normal(P))
        tau[kind == 0] = 2000
        self.tau = tau.astype(np.float32)
        has_tail = (rng.random(P) < 0.12) & (kind == 1)
        self.tail = np.where(has_tail, np.log(0.05), -np.inf).astype(np.float32)
        self.tau2 = np.float32(200.0)
        local = ~np.isin(G.scene[cat.genre[self.track]], list(vocab.SCENE_BASE))
        self.spread = (rng.exponential(1.0, size=P) * np.where(local, 2.0, 1.0)).astype(np.float32)
        self.genre = cat.genre[self.track]
        lead = vocab.REGIONS.lead[:n_regions].astype(np.float32)
        self.lead = lead
        life = np.where(has_tail, 1.5 * 200.0, 3.5 * tau)
        end = rel + peak + lead.max() * self.spread + life
        end[kind != 1] = np.inf
        self.end = end
        self.taste_u = (0.2 * rng.standard_normal((P, TASTE_DIM))).astype(np.float32)
        self.taste_v = rng.standard_normal((n_regions, TASTE_DIM)).astype(np.float32)
        party = G.mean01[:, 0] * G.mean01[:, 1]
        self.weekend_genre = (0.25 * (party - party.mean()) / party.std()).astype(np.float32)
        self.region_size = np.log(vocab.REGIONS.size[:n_regions]).astype(np.float32)
        self.region_growth = vocab.REGIONS.growth[:n_regions].astype(np.float32)
        self.release_order = np.argsort(self.rel[kind == 1], kind="stable") + n_e
        self.n_ever, self.hol_idx = n_e, np.arange(n_e + n_p, P)

    def __len__(self) -> int:
        return len(self.track)

    def log_life(self, idx: np.ndarray, t: float, lag: np.ndarray) -> np.ndarray:
        """log life-cycle level (regions x tracks) at day t: a rise to the peak, then decay."""
        age = (t - self.rel[idx])[None, :]
        shift = self.peak[idx][None, :] + lag
        d = age - shift
        out = np.where(d < 0, -np.square(d / (1.0 + 0.5 * shift)), -d / self.tau[idx][None, :])
        tails = np.flatnonzero(np.isfinite(self.tail[idx]))
        if len(tails):
            dt = d[:, tails]
            slow = self.tail[idx[tails]][None, :] - np.maximum(dt, 0) / self.tau2
            out[:, tails] = np.where(dt < 0, out[:, tails], np.logaddexp(out[:, tails], slow))
        out[:, age[0] < 0] = -np.inf
        return out.astype(np.float32, copy=False)


def _holiday_level(date: np.datetime64) -> tuple[bool, float]:
    """Whether holiday songs chart on `date`, and their log level (peak on Dec 24)."""
    year = date.astype("datetime64[Y]")
    candidates = [year - 1, year, year + 1]
    dist = min((int((date - (y.astype("datetime64[D]") + 357)).astype(int)) for y in candidates), key=abs)
    # (Jan 1 + 357 days = Dec 24, or Dec 23 in leap years: close enough)
    if -40 <= dist <= 12:
        return True, -np.square(dist / 9.0)
    return False, -np.inf


class ChartSimulator:
    def __init__(self, cat: Catalog, *, seed: int, regions: int, start_date: str, days: int):
        self.seed, self.cat = seed, cat
        self.start = np.datetime64(start_date, "D")
        weekday0 = int((self.start.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
        self.weekday0 = weekday0
        self.n_regions, self.days = regions, days
        self.pool = _Pool(cat, regions, days, seed, weekday0)
        P = len(self.pool)
        self.z = np.zeros(P, dtype=np.float32)
        self.prev = [np.zeros((regions, P), dtype=np.int16) for _ in range(2)]
        self.prev_ids = [np.zeros((regions, 0), dtype=np.int64) for _ in range(2)]
        self.live = np.arange(self.pool.n_ever)
        self._next_release = 0

    def _active(self, t: int, date: np.datetime64) -> np.ndarray:
        p = self.pool
        order = p.release_order
        hi = self._next_release
        while hi < len(order) and p.rel[order[hi]] <= t:
            hi += 1
        new = order[self._next_release:hi]
        self._next_release = hi
        live = np.concatenate([self.live, new]) if len(new) else self.live
        live = live[p.end[live] > t]
        self.live = live
        in_season, _ = _holiday_level(date)
        return np.concatenate([live, p.hol_idx]) if in_season and len(p.hol_idx) else live

    def day(self, t: int) -> dict[str, np.ndarray]:
        p, R = self.pool, self.n_regions
        rng = rng_for(self.seed, CHARTS, 2, t + BURN_IN_DAYS + 10)
        date = self.start + np.timedelta64(t, "D")
        wd = (self.weekday0 + t) % 7
        idx = self._active(t, date)
        n_a = len(idx)
        g = p.genre[idx]
        home = p.home[:, g]
        lag = np.where(home, 0.0, p.lead[:, None] * p.spread[idx][None, :]).astype(np.float32)
        lf = p.log_life(idx, t, lag)
        hol = p.kind[idx] == 2
        if hol.any():
            _, level = _holiday_level(date)
            lf[:, hol] = level
        # persistent buzz
        self.z[idx] = AR_RHO * self.z[idx] + AR_SD * np.sqrt(1 - AR_RHO**2) * rng.standard_normal(n_a).astype(
            np.float32)
        taste = p.taste_v @ p.taste_u[idx].T
        common = p.aff[:, g] + taste
        log_size = p.region_size + p.region_growth * (t / 365.0) + WEEKDAY[wd]
        score = p.logA[idx][None, :] + lf + common + self.z[idx][None, :]
        logS = (log_size[:, None] + STREAMS_SCALE + COMPRESS * score
                + (p.weekend_genre[g][None, :] if wd in (4, 5) else 0)
                + 0.03 * rng.standard_normal((R, n_a), dtype=np.float32))

        # viral50: growth over the last week, among young tracks (and holiday songs in season)
        age = np.float32(t) - p.rel[idx]
        young = (age <= VIRAL_MAX_AGE) | hol
        if young.sum() < VIRAL + 10:
            young[:] = True
        vi = np.flatnonzero(young)
        lf7 = p.log_life(idx[vi], t - 7, lag[:, vi])
        if hol.any():
            _, level7 = _holiday_level(date - np.timedelta64(7, "D"))
            lf7[:, hol[vi]] = max(level7, -30.0)
        lfv = lf[:, vi]
        growth = np.clip(lfv - np.maximum(lf7, -12.0), -5, 8)
        viral = (0.35 * p.logA[idx[vi]][None, :] + 0.9 * growth + common[:, vi] - age[vi][None, :] / 60.0
                 + 0.6 * rng.standard_normal((R, len(vi)), dtype=np.float32))
        viral[~np.isfinite(lfv)] = -np.inf

        out_ids, out_streams = [], None
        for c, (sc, k, cand) in enumerate(((logS, TOP, idx), (viral, VIRAL, idx[vi]))):
            n = sc.shape[1]
            part = np.argpartition(sc, n - k, axis=1)[:, n - k:]
            top_scores = np.take_along_axis(sc, part, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            ids = cand[np.take_along_axis(part, order, axis=1)]  # (R, k) pool indices, rank order
            if c == 0:
                out_streams = np.rint(np.exp(np.take_along_axis(top_scores, order, axis=1).astype(np.float64)))
            out_ids.append(ids)
        trends = []
        for c, ids in enumerate(out_ids):
            prev = self.prev[c]
            k = ids.shape[1]
            ranks = np.broadcast_to(np.arange(1, k + 1, dtype=np.int16), ids.shape)
            rows = np.arange(R)[:, None]
            before = prev[rows, ids]
            trend = np.where(before == 0, 3, np.where(ranks < before, 0, np.where(ranks > before, 1, 2)))
            prev[rows, self.prev_ids[c]] = 0
            prev[rows, ids] = ranks
            self.prev_ids[c] = ids
            trends.append(trend)
        ids = np.concatenate(out_ids, axis=1)
        rank = np.concatenate([np.broadcast_to(np.arange(1, TOP + 1), (R, TOP)),
                               np.broadcast_to(np.arange(1, VIRAL + 1), (R, VIRAL))], axis=1)
        chart = np.concatenate([np.zeros((R, TOP), np.int8), np.ones((R, VIRAL), np.int8)], axis=1)
        streams = np.concatenate([out_streams, np.full((R, VIRAL), -1.0)], axis=1)
        region = np.broadcast_to(np.arange(R)[:, None], ids.shape)
        return {
            "pool": ids.ravel(),
            "rank": rank.ravel().astype(np.int64),
            "region": region.ravel().astype(np.int32),
            "chart": chart.ravel(),
            "trend": np.concatenate(trends, axis=1).ravel().astype(np.int8),
            "streams": streams.ravel().astype(np.int64),
            "day": np.full(ids.size, t, dtype=np.int32),
        }


def _concat(bufs: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in bufs]) for k in bufs[0]}


def write_charts(cat: Catalog, out_dir: Path, *, seed: int, chart_rows: int, regions: int, start_date: str,
                 chunk_rows: int, progress: Callable[[str, int, int], None] | None = None) -> list[str]:
    out = out_dir / "spotify_charts"
    out.mkdir(parents=True, exist_ok=True)
    if chart_rows <= 0:
        return []
    names = region_names(regions)
    per_day = regions * ROWS_PER_REGION_DAY
    days = -(-chart_rows // per_day)
    sim = ChartSimulator(cat, seed=seed, regions=regions, start_date=start_date, days=days)
    p = sim.pool
    pool_tracks = p.track
    titles = cat.track_name.take(pa.array(pool_tracks))
    artists = pa.array(cat.artists_joined(pool_tracks, ", "), type=pa.string())
    ids = cat.track_id.take(pa.array(pool_tracks)).to_pylist()
    urls = pa.array([URL_PREFIX + i for i in ids], type=pa.string())
    dates = pa.array(np.datetime_as_string(sim.start + np.arange(days)).tolist(), type=pa.string())
    region_arr = pa.array(names, type=pa.string())
    chart_arr = pa.array(["top200", "viral50"], type=pa.string())
    trend_arr = pa.array(list(TRENDS), type=pa.string())

    def write_part(buf: dict[str, np.ndarray], name: str) -> int:
        def build(start: int, stop: int) -> pa.Table:
            b = {k: v[start:stop] for k, v in buf.items()}
            pool = pa.array(b["pool"])
            streams = b["streams"]
            return pa.Table.from_arrays(
                [
                    titles.take(pool),
                    pa.array(b["rank"]),
                    dates.take(pa.array(b["day"])),
                    artists.take(pool),
                    urls.take(pool),
                    region_arr.take(pa.array(b["region"])),
                    chart_arr.take(pa.array(b["chart"])),
                    trend_arr.take(pa.array(b["trend"])),
                    pa.array(streams, mask=streams < 0),
                ],
                schema=CHART_SCHEMA,
            )

        n = len(buf["rank"])
        write_parquet_slices(out / name, CHART_SCHEMA, n, build)
        return n

    parts: list[str] = []
    done = emitted = 0
    # One part is written in a background thread while the next days are simulated
    # (Arrow and Parquet release the GIL); at most one part is in flight.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[int] | None = None

        def wait() -> None:
            nonlocal pending, done
            if pending is not None:
                done += pending.result()
                pending = None
                if progress:
                    progress("spotify_charts", done, chart_rows)

        def flush(buf: dict[str, np.ndarray]) -> None:
            nonlocal pending, emitted
            wait()
            name = part_name(len(parts))
            parts.append(f"spotify_charts/{name}")
            emitted += len(buf["rank"])
            pending = writer.submit(write_part, buf, name)

        for t in range(-BURN_IN_DAYS, 0):
            sim.day(t)
        bufs: list[dict[str, np.ndarray]] = []
        buffered = 0
        for t in range(days):
            rows = sim.day(t)
            remaining = chart_rows - emitted - buffered
            if len(rows["rank"]) > remaining:
                rows = {k: v[:remaining] for k, v in rows.items()}
            bufs.append(rows)
            buffered += len(rows["rank"])
            while buffered >= chunk_rows:
                merged = _concat(bufs)
                flush({k: v[:chunk_rows] for k, v in merged.items()})
                rest = {k: v[chunk_rows:] for k, v in merged.items()}
                buffered -= chunk_rows
                bufs = [rest] if buffered else []
        if buffered:
            flush(_concat(bufs))
        wait()
    assert done == chart_rows, (done, chart_rows)
    return parts
