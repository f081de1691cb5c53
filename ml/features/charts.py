"""Weekly chart features for streams forecasting, computed out-of-core in DuckDB.

The unit is one (track, region, week w) in which the track was in that region's daily
top200 on at least one day. Weeks are ISO weeks (Monday..Sunday), numbered by `week_idx`;
the **anchor** is the Sunday that ends week w: every feature reads only chart days on or
before the anchor. The targets read week w+1 (anchor+1 .. anchor+7) and nothing else.

Weekly streams are measured at the daily run rate: ``7 * mean(daily streams on the days the
track charted)``; for a track that charted all seven days that is exactly the week's total.

- `target_log_streams` = log1p(run-rate weekly streams of week w+1) (NULL if it did not chart)
- `charts_next`        = 1 if the track charts in that region on any day of week w+1
- `target_best_rank`   = its best rank in week w+1

`FEATURES` declares, per feature, the window of days it reads relative to the anchor;
`leakage_audit()` turns it into the audit table and `assert_no_leakage()` fails when a feature
would read a day after the anchor. `truncation_check()` verifies it on the data: features
computed with every day after the anchor deleted must equal the features from the full data.

The pipeline is a few SQL steps over the Parquet-backed lake view (daily rows -> weekly rows
-> windows -> joins), staged in DuckDB temp tables; only the weekly feature table reaches pandas.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from ml.lake.coverage import pick

DEFAULT_LEADERS = ("Global", "United States", "United Kingdom")
EPOCH_MONDAY = "1970-01-05"  # week_idx 0 starts on this Monday
KEYS = ["track_id", "region", "week_idx", "anchor"]
TARGETS = ["target_log_streams", "target_days_charted", "target_best_rank", "charts_next"]
INF = -math.inf


@dataclass(frozen=True)
class Feature:
    name: str
    first: float  # first day read, relative to the anchor (-inf: all history)
    last: int  # last day read, relative to the anchor (must be <= 0)
    description: str


_W = (-6, 0)  # the anchor week itself
FEATURES: tuple[Feature, ...] = (
    Feature("log_streams", *_W, "log1p(7 x mean daily streams) in week w (the persistence forecast)"),
    Feature("days_charted", *_W, "days in the region's top200 in week w"),
    Feature("log_streams_last_day", *_W, "log1p(7 x streams) on the last charting day of week w"),
    Feature("last_day_gap", *_W, "days from the last charting day of week w to the anchor"),
    Feature("first_day_dow", *_W, "ISO weekday of the first charting day in week w"),
    Feature("in_week_slope", *_W, "(log streams last day - first day) / days between, week w"),
    Feature("best_rank", *_W, "best (lowest) rank in week w"),
    Feature("mean_rank", *_W, "mean rank in week w"),
    Feature("last_rank", *_W, "rank on the last charting day of week w"),
    Feature("lag1_log_streams", -13, -7, "log_streams of week w-1 (NULL if not charting)"),
    Feature("lag1_days_charted", -13, -7, "days charted in week w-1 (0 if none)"),
    Feature("lag2_log_streams", -20, -14, "log_streams of week w-2"),
    Feature("lag4_log_streams", -34, -28, "log_streams of week w-4"),
    Feature("diff1_log_streams", -13, 0, "log_streams - lag1_log_streams"),
    Feature("roll4_mean_log_streams", -27, 0, "mean log_streams over the charting weeks among w-3..w"),
    Feature("weeks_charted_last4", -27, 0, "charting weeks among w-3..w"),
    Feature("peak_log_streams_to_date", INF, 0, "max log_streams over all weeks up to w (this region)"),
    Feature("below_peak", INF, 0, "peak_log_streams_to_date - log_streams"),
    Feature("weeks_charted_to_date", INF, 0, "charting weeks up to w (this region)"),
    Feature("days_since_first_chart_region", INF, 0, "anchor - first top200 day in this region"),
    Feature("days_since_first_chart", INF, 0, "anchor - first top200 day in any region"),
    Feature("viral_days", *_W, "days in the region's viral50 in week w"),
    Feature("viral_best_rank", *_W, "best viral50 rank in week w (NULL if none)"),
    Feature("n_markets", *_W, "regions whose top200 has the track in week w"),
    Feature("n_markets_lag1", -13, -7, "regions whose top200 had the track in week w-1"),
    Feature("markets_entered", -13, 0, "regions charting the track in w but not in w-1"),
    Feature("share_entered", -13, 0, "markets_entered / n_markets"),
    Feature("market_share", *_W, "n_markets / regions with a chart in week w"),
    Feature("mean_log_streams_markets", *_W, "mean log_streams over the track's markets in week w"),
    Feature("n_viral_markets", *_W, "regions whose viral50 has the track in week w"),
    Feature("in_global", *_W, "1 if the track is in the Global top200 in week w"),
    Feature("global_log_streams", *_W, "log_streams in Global in week w (NULL if not charting there)"),
    Feature("in_us", *_W, "1 if the track is in the United States top200 in week w"),
    Feature("n_leader_markets", *_W, "leader regions (Global, US, UK) charting the track in week w"),
    Feature("days_since_first_leader_chart", INF, 0, "anchor - first day in a leader region's top200 (NULL: never)"),
    Feature("region_level", *_W, "mean log1p(7 x streams) over the region's top200 rows in week w"),
    Feature("region_cutoff", *_W, "mean over days of log1p(7 x rank-200 streams) in the region, week w"),
    Feature("rel_to_cutoff", *_W, "log_streams - region_cutoff"),
    Feature("week_of_year", 0, 0, "ISO week of the anchor"),
    Feature("month", 0, 0, "month of the anchor"),
)
FEATURE_NAMES = [f.name for f in FEATURES]
TARGET_WINDOW = (1, 7)  # target days relative to the anchor


def leakage_audit() -> pd.DataFrame:
    """One row per feature (and the targets): the days it reads relative to the anchor."""
    rows = [
        {"column": f.name, "kind": "feature", "first_day_read": f.first, "last_day_read": f.last,
         "reads_target_week": f.last >= TARGET_WINDOW[0], "description": f.description}
        for f in FEATURES
    ]
    rows += [
        {"column": t, "kind": "target", "first_day_read": TARGET_WINDOW[0], "last_day_read": TARGET_WINDOW[1],
         "reads_target_week": True, "description": "week w+1 (anchor+1 .. anchor+7)"}
        for t in TARGETS
    ]
    return pd.DataFrame(rows)


def assert_no_leakage(features: list[str] | None = None) -> None:
    """Raise if a model feature is a target or reads any day after the anchor (the target week)."""
    declared = {f.name: f for f in FEATURES}
    for name in features or FEATURE_NAMES:
        if name in TARGETS:
            raise AssertionError(f"feature {name!r} is a target column")
        f = declared.get(name)
        if f is None:
            raise AssertionError(f"feature {name!r} has no declared read window")
        if f.last >= TARGET_WINDOW[0] or f.last > 0:
            raise AssertionError(f"feature {name!r} reads day anchor{f.last:+d}, inside the target week")


def _relation(src: str) -> str:
    """A view name (quoted) or a parenthesised subquery, usable after FROM."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", src):
        return f'"{src}"'
    return f"({src})"


def feature_steps(
    src: str,
    *,
    with_target: bool = True,
    leaders: tuple[str, ...] = DEFAULT_LEADERS,
    prefix: str = "_charts_",
) -> tuple[list[str], str, list[str]]:
    """The weekly feature pipeline over `src` (a view name or a SELECT in the lake schema).

    Returns (statements, final_select, temp_tables): run the statements in order, then
    `final_select` gives the feature table (unordered); drop `temp_tables` afterwards. Staging
    through temp tables (which DuckDB evicts to its temp_directory under memory pressure) keeps
    each step's working set alone in memory; one big query holds several hash tables and window
    buffers at once and needs more than 3 GB on 26M rows.

    Needs columns track_id, region, date (DATE), chart, rank, streams.
    with_target: add the week w+1 targets and keep only weeks whose next week lies fully
    inside the data (for training); without it every charting week is returned (for predicting).
    """
    rel = _relation(src)
    lead = ", ".join("'" + r.replace("'", "''") + "'" for r in leaders) or "NULL"
    names = ["bounds", "wk", "viral", "region_week", "week_regions", "first_seen", "w2", "track_week", "track_viral"]
    t = {n: f"{prefix}{n}" for n in names}
    daily = f"""(
        SELECT track_id, region, date, chart, "rank" AS rnk, streams,
               CAST((date - DATE '{EPOCH_MONDAY}') // 7 AS BIGINT) AS week_idx
        FROM {rel}
        WHERE track_id IS NOT NULL AND date IS NOT NULL AND region IS NOT NULL
    )"""
    top = f"(SELECT * FROM {daily} WHERE chart = 'top200' AND streams IS NOT NULL)"
    # distinct days within one ISO week, as a bitmask of weekdays: an ordinary (spillable) aggregate,
    # unlike count(DISTINCT date)
    days = "bit_count(bit_or(CAST(1 AS INTEGER) << CAST(isodow(date) - 1 AS INTEGER)))"
    target_cols = (
        """,
        first_value(w.log_streams) OVER w_next AS target_log_streams,
        coalesce(first_value(w.days_charted) OVER w_next, 0) AS target_days_charted,
        first_value(w.best_rank) OVER w_next AS target_best_rank,
        CAST(first_value(w.days_charted) OVER w_next IS NOT NULL AS INTEGER) AS charts_next"""
        if with_target else ""
    )
    target_window = (", w_next AS (PARTITION BY w.track_id, w.region ORDER BY w.week_idx "
                     "RANGE BETWEEN 1 FOLLOWING AND 1 FOLLOWING)") if with_target else ""
    target_filter = f"WHERE f.anchor + 7 <= (SELECT max_date FROM {t['bounds']})" if with_target else ""
    target_select = ", " + ", ".join(f"f.{c}" for c in TARGETS) if with_target else ""
    steps = {
        "bounds": f"SELECT max(date) AS max_date FROM {daily}",
        # one row per (track, region, ISO week) in the top200: days charted, run-rate streams, ranks
        "wk": f"""
            SELECT track_id, region, week_idx,
                   ln(1 + 7 * avg(streams)) AS log_streams,
                   {days} AS days_charted,
                   ln(1 + 7 * arg_max(streams, date)) AS log_streams_last_day,
                   ln(1 + 7 * arg_min(streams, date)) AS log_streams_first_day,
                   max(date) AS last_date, min(date) AS first_date,
                   min(rnk) AS best_rank, avg(rnk) AS mean_rank, arg_max(rnk, date) AS last_rank
            FROM {top} GROUP BY ALL""",
        "viral": f"""
            SELECT track_id, region, week_idx, {days} AS viral_days, min(rnk) AS viral_best_rank
            FROM {daily} WHERE chart = 'viral50' GROUP BY ALL""",
        "region_week": f"""
            SELECT region, week_idx, sum(s) / sum(n) AS region_level, avg(cutoff) AS region_cutoff
            FROM (SELECT region, week_idx, date, ln(1 + 7 * min(streams)) AS cutoff,
                         sum(ln(1 + 7 * streams)) AS s, count(*) AS n
                  FROM {top} GROUP BY ALL)
            GROUP BY ALL""",
        "week_regions": f"SELECT week_idx, count(DISTINCT region) AS n_regions FROM {t['region_week']} GROUP BY ALL",
        "first_seen": f"""
            SELECT track_id, min(first_date) AS first_any,
                   min(first_date) FILTER (WHERE region IN ({lead})) AS first_leader_min
            FROM {t['wk']} GROUP BY ALL""",
        # calendar-exact lags / rolling windows over week_idx (RANGE frames: a missing week is NULL)
        "w2": f"""
            SELECT w.*,
                first_value(w.log_streams) OVER w_lag1 AS lag1_log_streams,
                coalesce(first_value(w.days_charted) OVER w_lag1, 0) AS lag1_days_charted,
                first_value(w.log_streams) OVER w_lag2 AS lag2_log_streams,
                first_value(w.log_streams) OVER w_lag4 AS lag4_log_streams,
                avg(w.log_streams) OVER w_roll4 AS roll4_mean_log_streams,
                count(*) OVER w_roll4 AS weeks_charted_last4,
                max(w.log_streams) OVER w_hist AS peak_log_streams_to_date,
                count(*) OVER w_hist AS weeks_charted_to_date,
                min(w.first_date) OVER w_hist AS first_date_region{target_cols},
                CAST(DATE '{EPOCH_MONDAY}' + CAST(w.week_idx * 7 + 6 AS INTEGER) AS DATE) AS anchor
            FROM {t['wk']} w
            WINDOW
                w_lag1 AS (PARTITION BY w.track_id, w.region ORDER BY w.week_idx
                           RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING),
                w_lag2 AS (PARTITION BY w.track_id, w.region ORDER BY w.week_idx
                           RANGE BETWEEN 2 PRECEDING AND 2 PRECEDING),
                w_lag4 AS (PARTITION BY w.track_id, w.region ORDER BY w.week_idx
                           RANGE BETWEEN 4 PRECEDING AND 4 PRECEDING),
                w_roll4 AS (PARTITION BY w.track_id, w.region ORDER BY w.week_idx
                            RANGE BETWEEN 3 PRECEDING AND CURRENT ROW),
                w_hist AS (PARTITION BY w.track_id, w.region ORDER BY w.week_idx
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW){target_window}""",
        "track_week": f"""
            SELECT track_id, week_idx,
                   count(*) AS n_markets,
                   count(*) FILTER (WHERE lag1_log_streams IS NULL) AS markets_entered,
                   avg(log_streams) AS mean_log_streams_markets,
                   max(CASE WHEN region = 'Global' THEN 1 ELSE 0 END) AS in_global,
                   max(CASE WHEN region = 'Global' THEN log_streams END) AS global_log_streams,
                   max(CASE WHEN region = 'United States' THEN 1 ELSE 0 END) AS in_us,
                   count(*) FILTER (WHERE region IN ({lead})) AS n_leader_markets
            FROM {t['w2']} GROUP BY ALL""",
        "track_viral": f"SELECT track_id, week_idx, count(*) AS n_viral_markets FROM {t['viral']} GROUP BY ALL",
    }
    statements = [f"CREATE OR REPLACE TEMP TABLE {t[n]} AS {steps[n]}" for n in names]
    # the daily-grain weekly table is not read by the final join: free its memory first
    statements.insert(names.index("w2") + 1, f"DROP TABLE {t['wk']}")
    final = f"""
SELECT
    f.track_id, f.region, f.week_idx, f.anchor,
    CAST(f.log_streams AS DOUBLE) AS log_streams,
    CAST(f.days_charted AS DOUBLE) AS days_charted,
    CAST(f.log_streams_last_day AS DOUBLE) AS log_streams_last_day,
    CAST(f.anchor - f.last_date AS DOUBLE) AS last_day_gap,
    CAST(isodow(f.first_date) AS DOUBLE) AS first_day_dow,
    CAST((f.log_streams_last_day - f.log_streams_first_day) / greatest(f.last_date - f.first_date, 1) AS DOUBLE)
        AS in_week_slope,
    CAST(f.best_rank AS DOUBLE) AS best_rank,
    CAST(f.mean_rank AS DOUBLE) AS mean_rank,
    CAST(f.last_rank AS DOUBLE) AS last_rank,
    CAST(f.lag1_log_streams AS DOUBLE) AS lag1_log_streams,
    CAST(f.lag1_days_charted AS DOUBLE) AS lag1_days_charted,
    CAST(f.lag2_log_streams AS DOUBLE) AS lag2_log_streams,
    CAST(f.lag4_log_streams AS DOUBLE) AS lag4_log_streams,
    CAST(f.log_streams - f.lag1_log_streams AS DOUBLE) AS diff1_log_streams,
    CAST(f.roll4_mean_log_streams AS DOUBLE) AS roll4_mean_log_streams,
    CAST(f.weeks_charted_last4 AS DOUBLE) AS weeks_charted_last4,
    CAST(f.peak_log_streams_to_date AS DOUBLE) AS peak_log_streams_to_date,
    CAST(f.peak_log_streams_to_date - f.log_streams AS DOUBLE) AS below_peak,
    CAST(f.weeks_charted_to_date AS DOUBLE) AS weeks_charted_to_date,
    CAST(f.anchor - f.first_date_region AS DOUBLE) AS days_since_first_chart_region,
    CAST(f.anchor - fs.first_any AS DOUBLE) AS days_since_first_chart,
    CAST(coalesce(v.viral_days, 0) AS DOUBLE) AS viral_days,
    CAST(v.viral_best_rank AS DOUBLE) AS viral_best_rank,
    CAST(tw.n_markets AS DOUBLE) AS n_markets,
    CAST(coalesce(tp.n_markets, 0) AS DOUBLE) AS n_markets_lag1,
    CAST(tw.markets_entered AS DOUBLE) AS markets_entered,
    CAST(tw.markets_entered / tw.n_markets AS DOUBLE) AS share_entered,
    CAST(tw.n_markets / wr.n_regions AS DOUBLE) AS market_share,
    CAST(tw.mean_log_streams_markets AS DOUBLE) AS mean_log_streams_markets,
    CAST(coalesce(tv.n_viral_markets, 0) AS DOUBLE) AS n_viral_markets,
    CAST(tw.in_global AS DOUBLE) AS in_global,
    CAST(tw.global_log_streams AS DOUBLE) AS global_log_streams,
    CAST(tw.in_us AS DOUBLE) AS in_us,
    CAST(tw.n_leader_markets AS DOUBLE) AS n_leader_markets,
    -- the all-time first leader day is only known at the anchor if it is not after it
    CAST(CASE WHEN fs.first_leader_min <= f.anchor THEN f.anchor - fs.first_leader_min END AS DOUBLE)
        AS days_since_first_leader_chart,
    CAST(rw.region_level AS DOUBLE) AS region_level,
    CAST(rw.region_cutoff AS DOUBLE) AS region_cutoff,
    CAST(f.log_streams - rw.region_cutoff AS DOUBLE) AS rel_to_cutoff,
    CAST(weekofyear(f.anchor) AS DOUBLE) AS week_of_year,
    CAST(month(f.anchor) AS DOUBLE) AS month{target_select}
FROM {t['w2']} f
JOIN {t['first_seen']} fs ON fs.track_id = f.track_id
JOIN {t['track_week']} tw ON tw.track_id = f.track_id AND tw.week_idx = f.week_idx
LEFT JOIN {t['track_week']} tp ON tp.track_id = f.track_id AND tp.week_idx = f.week_idx - 1
LEFT JOIN {t['track_viral']} tv ON tv.track_id = f.track_id AND tv.week_idx = f.week_idx
LEFT JOIN {t['viral']} v ON v.track_id = f.track_id AND v.region = f.region AND v.week_idx = f.week_idx
JOIN {t['region_week']} rw ON rw.region = f.region AND rw.week_idx = f.week_idx
JOIN {t['week_regions']} wr ON wr.week_idx = f.week_idx
{target_filter}
"""
    return statements, final, [t[n] for n in names]


def parquet_source(lake, dataset: str) -> str | None:
    """`SELECT * FROM read_parquet([...])` over a dataset's latest snapshot files on a local lake.

    DuckDB's own Parquet reader keeps the scan inside `memory_limit`; the lake views scan through
    pyarrow datasets, whose read-ahead buffers sit outside DuckDB's accounting (about 1.4 GB more
    peak RSS on 26M chart rows). None for a non-local lake (use the view then).
    """
    from ml.lake import catalog

    if not lake.is_local:
        return None
    m = catalog.latest(lake, dataset)
    files = [lake.path(f.path).replace("'", "''") for f in m.files]
    if not files:
        return None
    return "SELECT * FROM read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"


def run_features(
    con: duckdb.DuckDBPyConnection,
    src: str,
    *,
    with_target: bool = True,
    leaders: tuple[str, ...] = DEFAULT_LEADERS,
    copy_to: str | None = None,
) -> pd.DataFrame | None:
    """Run the staged pipeline on `con`: the feature table as a DataFrame, or COPY'd to a Parquet file."""
    statements, final, temp = feature_steps(src, with_target=with_target, leaders=leaders)
    try:
        for sql in statements:
            con.execute(sql)
        if copy_to is not None:
            path = str(copy_to).replace("'", "''")
            con.execute(f"COPY ({final}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
            return None
        return con.execute(final).df()
    finally:
        for name in temp:
            con.execute(f"DROP TABLE IF EXISTS {name}")


def build_features(
    con: duckdb.DuckDBPyConnection,
    src: str | None = None,
    *,
    with_target: bool = True,
    leaders: tuple[str, ...] = DEFAULT_LEADERS,
) -> pd.DataFrame:
    """The weekly feature table as a DataFrame (default source: the lake's charts view)."""
    src = src or pick(con, "spotify_charts")
    df = run_features(con, src, with_target=with_target, leaders=leaders)
    df = df.sort_values(["anchor", "region", "track_id"], kind="stable", ignore_index=True)
    df["anchor"] = pd.to_datetime(df["anchor"])
    if with_target:
        df["charts_next"] = df["charts_next"].astype("int64")
    return df


HISTORY_COLUMNS = ("date", "region", "chart", "rank", "streams")


def features_from_history(history: pd.DataFrame, *, with_target: bool = False) -> pd.DataFrame:
    """Features from raw chart rows in the lake schema (track_id or url, date, region, chart, rank, streams).

    Runs the same SQL in a private in-memory DuckDB; returns one row per charting week.
    """
    df = pd.DataFrame(history).copy()
    missing = [c for c in HISTORY_COLUMNS if c not in df.columns]
    if "track_id" not in df.columns and "url" not in df.columns:
        missing.append("track_id (or url)")
    if missing:
        raise ValueError(f"chart history is missing column(s): {', '.join(missing)}")
    if "track_id" not in df.columns:
        df["track_id"] = df["url"].astype("string").str.extract(r"track/([A-Za-z0-9]+)", expand=False)
    df["date"] = pd.to_datetime(df["date"]).dt.date
    df["rank"] = pd.to_numeric(df["rank"], errors="coerce")
    df["streams"] = pd.to_numeric(df["streams"], errors="coerce")
    con = duckdb.connect(config={"threads": 2})
    try:
        con.register("_hist_raw", df[["track_id", *HISTORY_COLUMNS]])
        con.execute(
            "CREATE VIEW _hist AS SELECT CAST(track_id AS VARCHAR) AS track_id, CAST(region AS VARCHAR) AS region, "
            "CAST(date AS DATE) AS date, CAST(chart AS VARCHAR) AS chart, CAST(rank AS BIGINT) AS rank, "
            "CAST(streams AS BIGINT) AS streams FROM _hist_raw"
        )
        return build_features(con, "_hist", with_target=with_target)
    finally:
        con.close()


def truncation_check(
    con: duckdb.DuckDBPyConnection,
    src: str | None = None,
    anchor: str | pd.Timestamp | None = None,
    sample_mod: int = 1,
) -> pd.DataFrame:
    """Empirical leakage check: features at `anchor` from the full data vs. data cut at the anchor.

    Deletes every chart day after `anchor` (a Sunday; default: the Sunday nearest the middle of
    the data), recomputes the features and compares them, row by row, with the features of the
    same week from the full data. `sample_mod` > 1 keeps only tracks with hash % sample_mod == 0
    on both sides (cheaper on big lakes; region aggregates then cover that sample on both sides).
    Returns one row per feature: rows compared and the largest absolute difference.
    """
    src = src or pick(con, "spotify_charts")
    rel = _relation(src)
    if anchor is None:
        lo, hi = con.execute(f"SELECT min(date), max(date) FROM {rel}").fetchone()
        mid = pd.Timestamp(lo) + (pd.Timestamp(hi) - pd.Timestamp(lo)) / 2
        anchor = mid + pd.Timedelta(days=(6 - mid.dayofweek))
    anchor = pd.Timestamp(anchor).normalize()
    if anchor.dayofweek != 6:
        raise ValueError(f"anchor must be a Sunday (end of an ISO week), got {anchor.date()}")
    sample = f"hash(track_id) % {int(sample_mod)} = 0" if sample_mod > 1 else "TRUE"
    full_src = f"SELECT * FROM {rel} WHERE {sample}"
    cut_src = f"{full_src} AND date <= DATE '{anchor.date()}'"
    full = build_features(con, full_src, with_target=False)
    cut = build_features(con, cut_src, with_target=False)
    full, cut = (d[d["anchor"] == anchor].set_index(["track_id", "region"]).sort_index() for d in (full, cut))
    rows = []
    same_rows = full.index.equals(cut.index)
    for name in FEATURE_NAMES:
        if same_rows and len(full):
            a, b = full[name].to_numpy(float), cut[name].to_numpy(float)
            both_nan = np.isnan(a) & np.isnan(b)
            diff = np.where(both_nan, 0.0, np.abs(a - b))
            max_diff = float(np.nan_to_num(diff, nan=np.inf).max())
        else:
            max_diff = float("inf")
        rows.append({"column": name, "anchor": str(anchor.date()), "rows_compared": len(full),
                     "max_abs_diff_when_future_deleted": max_diff})
    return pd.DataFrame(rows)
