"""Ingest benchmark: synthetic 1M tracks and 26M chart rows through the lake.

Goal: ingestion never holds a dataset in memory — 26M chart rows with peak RSS
under 2 GiB at 1M+ rows/s on 2 cores. Each step runs in its own process so its peak RSS
is its own. Results: benchmarks/results/ingest.json. Sizes: BENCH_TRACKS, BENCH_CHART_ROWS.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TRACKS = int(os.environ.get("BENCH_TRACKS", 1_000_000))
CHART_ROWS = int(os.environ.get("BENCH_CHART_ROWS", 26_000_000))
WORK = Path(os.environ.get("BENCH_WORK", REPO / ".work" / "bench-ingest"))


def main() -> None:
    raw, lake = WORK / "synthetic", WORK / "lake"
    marker = raw / "SYNTHETIC.json"
    params_ok = marker.exists() and json.loads(marker.read_text()).get("files", {}).get("spotify_charts") == CHART_ROWS \
        and json.loads(marker.read_text()).get("files", {}).get("spotify_tracks") == TRACKS
    steps = {}
    if not params_ok:
        print(f"generating {TRACKS:,} tracks + {CHART_ROWS:,} chart rows into {raw} ...", flush=True)
        steps["generate"] = run_measured(
            "import json; from pathlib import Path; from ml.sources.synthetic import generate; "
            f"info = generate(Path({str(raw)!r}), seed=7, tracks={TRACKS}, chart_rows={CHART_ROWS}, users=2000, regions=70); "
            "print(json.dumps(info.get('files', {})))"
        )
    for dataset in ("synthetic_spotify_tracks", "synthetic_spotify_charts"):
        print(f"ingesting {dataset} ...", flush=True)
        steps[f"ingest {dataset}"] = run_measured(
            "import json; from pathlib import Path; from ml.settings import get_settings; "
            "from ml.sources import load_source; from ml.lake.ingest import ingest; from ml.lake.storage import Lake; "
            f"ds = [d for d in load_source('synthetic', Path({str(raw)!r}), get_settings()) if d.name == {dataset!r}][0]; "
            f"m = ingest(ds, Lake.from_uri({str(lake)!r}), '2024-01'); "
            "print(json.dumps({'rows_in': m.rows_in, 'accepted': m.rows_accepted, 'quarantined': m.rows_quarantined, "
            "'files': len(m.files), 'bytes': None}))"
        )
        s = steps[f"ingest {dataset}"]
        s["rows_per_s"] = round(s["result"]["rows_in"] / s["seconds"])
    charts = steps["ingest synthetic_spotify_charts"]
    report = {
        "benchmark": "ingest",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "tracks": TRACKS,
        "chart_rows": CHART_ROWS,
        "steps": steps,
        "goals": {
            "charts_peak_rss_under_2GiB": charts["peak_rss_mb"] < 2048,
            "charts_at_least_1M_rows_per_s": charts["rows_per_s"] >= 1_000_000,
        },
    }
    out = REPO / "benchmarks" / "results" / "ingest.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
