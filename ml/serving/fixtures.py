"""A small served world for tests and benchmarks: seeded synthetic lake -> fast models -> champions -> store.

`make_world(root)` generates a small synthetic dataset, ingests it, trains every model with its fast
config, registers each in a throwaway MLflow (SQLite under `root`), sets `champion` on it (the
gates are tested elsewhere; serving needs a version behind the alias), imports the champions into a
BentoML model store under `root/bentoml` and writes the serving manifest. It is what
tests/serving/conftest.py runs once per session and what `make bench-serve` runs when no project
bento exists. Everything stays under `root`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ml.serving.config import SERVED_MODELS

SIZES = {"tracks": 3_000, "chart_rows": 60_000, "users": 300, "regions": 4}


def world_env(root: Path) -> dict[str, str]:
    root = Path(root)
    return {
        "MUSICML_WORK_DIR": str(root / "work"),
        "MUSICML_LAKE_URI": str(root / "lake"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MUSICML_MLFLOW_ARTIFACT_ROOT": str(root / "mlartifacts"),
        "BENTOML_HOME": str(root / "bentoml"),
        "MUSICML_SERVING_MANIFEST": str(root / "serving_manifest.json"),
    }


def make_world(root: Path, seed: int = 11, models: tuple[str, ...] = SERVED_MODELS, quiet: bool = True) -> dict:
    """Build (or reuse, when `root/world.json` exists) the served world; returns its summary."""
    root = Path(root)
    done = root / "world.json"
    if done.exists():
        return json.loads(done.read_text())
    env = world_env(root)
    os.environ.update(env)
    from ml.settings import get_settings

    get_settings.cache_clear()
    from ml.serving.config import serving_settings

    serving_settings.cache_clear()
    t0 = time.perf_counter()
    from ml.lake.storage import Lake
    from ml.models import get_spec
    from ml.pipeline import register_model, train_model
    from ml.registry.tracking import configure_mlflow
    from ml.serving.store import import_alias, write_manifest
    from ml.sources import load_source
    from ml.sources.synthetic import generate

    settings = get_settings()
    generate(settings.work_dir / "synthetic", seed=seed, **SIZES)
    lake = Lake.from_uri(settings.lake_uri, settings)
    from ml.lake.ingest import ingest

    for ds in load_source("synthetic", None, settings):
        ingest(ds, lake, "2024-01")
    client = configure_mlflow(settings)
    trained = {}
    for name in models:
        t = time.perf_counter()
        spec = get_spec(name)
        version = register_model(train_model(name, settings.lake_uri, fast=True))["version"]
        client.set_registered_model_alias(spec.registered_name, "champion", version)
        trained[name] = {"version": version, "seconds": round(time.perf_counter() - t, 1)}
        if not quiet:
            print(f"trained {name} v{version} in {trained[name]['seconds']} s", flush=True)
    entries, skipped = import_alias("champion", models)
    write_manifest(entries, "champion", Path(env["MUSICML_SERVING_MANIFEST"]))
    summary = {"env": env, "trained": trained, "skipped": skipped, "seconds": round(time.perf_counter() - t0, 1)}
    done.write_text(json.dumps(summary, indent=2))
    return summary
