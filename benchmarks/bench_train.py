"""Training benchmark on the real data: per-model wall time and peak RSS, one process per model.

Each model runs `musicml quality --model <name>` in its own process (so its peak RSS is
its own); the per-model quality entries are merged into benchmarks/results/quality.json and
times + memory go to benchmarks/results/train.json. Goal (issue 3): the four track models
train in under 15 minutes in total on 2 cores; the recommender in under 5 minutes.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = os.environ.get("BENCH_MODELS", "genre,mood,popularity,audio_features,recommender,streams").split(",")


def main() -> None:
    data = os.environ.get("MUSICML_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    results, quality = {}, {}
    for model in MODELS:
        out = Path(tempfile.mkdtemp()) / "q.json"
        print(f"training {model} ...", flush=True)
        m = run_measured(
            "import json, sys; from typer.testing import CliRunner; from ml.cli import app; "
            f"r = CliRunner().invoke(app, ['quality', '--data', {data!r}, '--out', {str(out)!r}, '--model', {model!r}]); "
            "sys.stderr.write(r.output); print(json.dumps({'exit': r.exit_code}))"
        )
        entry = json.loads(out.read_text())[model] if out.exists() else {}
        quality[model] = entry
        results[model] = {"wall_seconds_incl_ingest": m["seconds"], "train_seconds": entry.get("train_seconds"),
                          "peak_rss_mb": m["peak_rss_mb"], "exit": m["result"]["exit"]}
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
