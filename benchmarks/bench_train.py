"""Training benchmark on the real data: per-model wall time and peak RSS, one process per model.

Each model runs `ml.pipeline.quality_report(models=[name])` (what `musicml quality --model
<name>` calls) in its own process, so its peak RSS is its own; the per-model quality entries
are merged into benchmarks/results/quality.json and
times + memory go to benchmarks/results/train.json. Goal: the four track models
train in under 15 minutes in total on 2 cores; the recommender in under 5 minutes.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import measure_call  # noqa: E402

from ml.pipeline import quality_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = os.environ.get("BENCH_MODELS", "genre,mood,popularity,audio_features,recommender,streams").split(",")


def main() -> None:
    data = Path(os.environ.get("MUSICML_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    results, quality = {}, {}
    for model in MODELS:
        print(f"training {model} ...", flush=True)
        m = measure_call(quality_report, data_dir=data, models=[model])
        entry = m["result"][model]
        quality[model] = entry
        results[model] = {"wall_seconds_incl_ingest": m["seconds"], "train_seconds": entry.get("train_seconds"),
                          "peak_rss_mb": m["peak_rss_mb"]}
    track_models = [m for m in ("genre", "mood", "popularity", "audio_features") if m in results]
    report = {
        "benchmark": "train (real data, full configs)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "models": results,
        "track_models_total_train_seconds": round(sum(results[m]["train_seconds"] or 0 for m in track_models), 1),
    }
    (REPO / "benchmarks" / "results" / "train.json").write_text(json.dumps(report, indent=2) + "\n")
    (REPO / "benchmarks" / "results" / "quality.json").write_text(json.dumps(quality, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
