"""Benchmark: weekly streams features over 26M synthetic chart rows, out-of-core in DuckDB.

    .venv/bin/python benchmarks/bench_streams_features.py [--work DIR] [--rows 26000000]
        [--tracks 1000000] [--regions 69] [--memory-limit 3GB] [--out benchmarks/results/streams_features.json]

Phases, each in its own child process so its peak RSS is its own:
1. generate  ml.sources.synthetic.generate(...) -> WORK/synthetic (skipped when a matching run is there)
2. ingest    the charts dataset only, through the lake contract -> WORK/lake (skipped when already there)
3. features  ml.features.charts.run_features (the same staged SQL `load` runs) with DuckDB
             memory_limit + temp_directory, reading the lake's Parquet files with DuckDB's own
             reader (`parquet_source`), COPY to WORK/streams_features.parquet
3b. features_lake_view  the same over the lake view (pyarrow dataset scan), for comparison:
             its read-ahead buffers are outside DuckDB's memory_limit
4. fetch     the weekly feature table into pandas (what a training run holds in memory)

Peak RSS: the child's resource.getrusage(RUSAGE_SELF).ru_maxrss (whole process life), plus a
psutil poll (every 50 ms) as a cross-check. Goal: features phase under 4 GiB.
Defaults mimic the real Kaggle file: 26M rows, 69 regions (the generator maximum; about 4 years of days).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3


class RssPoller:
    """Largest RSS seen by polling this process every `interval` seconds."""

    def __init__(self, interval: float = 0.05):
        import psutil

        self.proc, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _maxrss_bytes() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def phase_generate(a) -> dict:
    from ml.sources.synthetic import generate, read_marker

    out = Path(a.work) / "synthetic"
    marker = read_marker(out)
    want = {"chart_rows": a.rows, "tracks": a.tracks, "regions": a.regions}
    if marker and all(marker["params"].get(k) == v for k, v in want.items()):
        return {"skipped": True, "reason": "matching synthetic run already in the work dir"}
    info = generate(out, seed=a.seed, tracks=a.tracks, users=100, chart_rows=a.rows, regions=a.regions,
                    chunk_rows=1_000_000)
    return {"chart_rows": info["files"]["spotify_charts"], "chart_parts": len(info["parts"]["spotify_charts"])}


def _lake(a):
    from ml.lake.storage import Lake

    return Lake.from_uri(str(Path(a.work) / "lake"))


def phase_ingest(a) -> dict:
    from ml.lake import catalog
    from ml.lake.ingest import ingest
    from ml.settings import get_settings
    from ml.sources import load_source

    lake = _lake(a)
    try:
        m = catalog.latest(lake, "synthetic_spotify_charts")
        if m.rows_in == a.rows:
            return {"skipped": True, "rows_accepted": m.rows_accepted, **_chart_span(lake)}
    except LookupError:
        pass
    [ds] = [d for d in load_source("synthetic", Path(a.work) / "synthetic", get_settings())
            if d.name == "synthetic_spotify_charts"]
    m = ingest(ds, lake, "2024-01")
    return {"rows_in": m.rows_in, "rows_accepted": m.rows_accepted, "rows_quarantined": m.rows_quarantined,
            "files": len(m.files), **_chart_span(lake)}


def _chart_span(lake) -> dict:
    import duckdb

    from ml.features.charts import parquet_source

    src = parquet_source(lake, "synthetic_spotify_charts")
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    lo, hi, regions = con.execute(f"SELECT min(date), max(date), count(DISTINCT region) FROM ({src})").fetchone()
    con.close()
    return {"first_date": str(lo), "last_date": str(hi), "regions": regions}


def _features(a, source: str) -> dict:
    import duckdb

    from ml.features.charts import parquet_source, run_features
    from ml.lake.catalog import connect

    tmp = Path(a.work) / "duckdb_tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    out = Path(a.work) / "streams_features.parquet"
    lake = _lake(a)
    if source == "parquet":  # DuckDB only: no pyarrow scans in this process
        con = duckdb.connect(config={"threads": 2})
        src = parquet_source(lake, "synthetic_spotify_charts")
    else:
        con = connect(lake, threads=2)
        src = "synthetic_spotify_charts"
    con.execute(f"SET memory_limit = '{a.memory_limit}'")
    con.execute(f"SET temp_directory = '{tmp}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    run_features(con, src, with_target=True, copy_to=str(out))
    seconds = time.perf_counter() - t0
    n_out = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    con.close()
    return {"source": "DuckDB read_parquet over the manifest files" if source == "parquet"
            else "lake view (pyarrow dataset registered in DuckDB)",
            "feature_rows": n_out, "feature_file_mb": round(out.stat().st_size / 2**20, 1),
            "query_seconds": round(seconds, 1)}


def phase_features(a) -> dict:
    return _features(a, "parquet")


def phase_features_lake_view(a) -> dict:
    return _features(a, "view")


def phase_fetch(a) -> dict:
    import pandas as pd

    path = Path(a.work) / "streams_features.parquet"
    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    return {"rows": len(df), "columns": df.shape[1], "pandas_mb": round(df.memory_usage(deep=True).sum() / 2**20, 1),
            "read_seconds": round(time.perf_counter() - t0, 1)}


PHASES = {"generate": phase_generate, "ingest": phase_ingest, "features": phase_features,
          "features_lake_view": phase_features_lake_view, "fetch": phase_fetch}


def run_child(a) -> None:
    t0 = time.perf_counter()
    with RssPoller() as poll:
        info = PHASES[a.phase](a)
    info.update(wall_seconds=round(time.perf_counter() - t0, 1), peak_rss_bytes=_maxrss_bytes(),
                peak_rss_polled_bytes=poll.peak)
    info["peak_rss_gib"] = round(info["peak_rss_bytes"] / GIB, 3)
    print("RESULT " + json.dumps(info, default=str), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=None, help="scratch dir for data, lake, spill (default: WORK_DIR/bench_streams)")
    p.add_argument("--rows", type=int, default=26_000_000)
    p.add_argument("--tracks", type=int, default=1_000_000)
    p.add_argument("--regions", type=int, default=69)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--memory-limit", default="3GB")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "streams_features.json"))
    p.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.work is None:
        from ml.settings import get_settings

        a.work = str(get_settings().work_dir / "bench_streams")
    if a.phase:
        run_child(a)
        return

    Path(a.work).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MUSICML_WORK_DIR": a.work, "PYTHONPATH": str(REPO)}
    report = {
        "benchmark": "streams_features", "rows": a.rows, "tracks": a.tracks, "regions": a.regions,
        "duckdb_memory_limit": a.memory_limit, "duckdb_threads": 2, "rss_goal_gib": 4,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "phases": {},
    }
    out = Path(a.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    if (previous.get("rows"), previous.get("tracks"), previous.get("regions")) != (a.rows, a.tracks, a.regions):
        previous = {}
    for phase in ("generate", "ingest", "features", "features_lake_view", "fetch"):
        print(f"[bench] {phase} ...", flush=True)
        cmd = [sys.executable, __file__, "--phase", phase, "--work", a.work, "--rows", str(a.rows), "--tracks",
               str(a.tracks), "--regions", str(a.regions), "--seed", str(a.seed), "--memory-limit", a.memory_limit]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        result = next((json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")), None)
        if proc.returncode != 0 or result is None:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"phase {phase} failed (exit {proc.returncode})")
        old = previous.get("phases", {}).get(phase, {})
        if result.get("skipped") and old and not old.get("skipped"):  # keep the measured run of that phase
            result = {**old, "from_previous_run": True}
        report["phases"][phase] = result
        print(f"[bench] {phase}: {json.dumps(result)}", flush=True)

    feat = report["phases"]["features"]
    report["features_wall_seconds"] = feat["wall_seconds"]
    report["features_peak_rss_gib"] = feat["peak_rss_gib"]
    report["features_under_goal"] = feat["peak_rss_bytes"] < 4 * GIB
    report["features_lake_view_wall_seconds"] = report["phases"]["features_lake_view"]["wall_seconds"]
    report["features_lake_view_peak_rss_gib"] = report["phases"]["features_lake_view"]["peak_rss_gib"]
    report["fetch_peak_rss_gib"] = report["phases"]["fetch"]["peak_rss_gib"]
    report["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"[bench] wrote {out}: features {feat['wall_seconds']} s, peak RSS {feat['peak_rss_gib']} GiB")


if __name__ == "__main__":
    main()
