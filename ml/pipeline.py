"""Pipeline steps as plain functions: what the Airflow DAGs, the CLI, benchmarks and tests call.

Each step takes and returns small JSON-able dicts (ids, versions, paths, metrics), so a
DAG passes only those through XCom. Steps are idempotent for a month: ingest replaces the
month's snapshot; training always makes a new run and version (MLflow keeps history), and
the gate moves aliases only when a version passes.

One route for a model, whoever runs it: train -> evaluate -> register -> gate
(`music_train` runs the four steps as tasks, `musicml train` calls `train_pipeline`).
`quality_report` is the quality benchmark on the real data (`musicml quality`, bench-train).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ml.settings import REPO_ROOT, Settings, get_settings

SOURCES_FILE = REPO_ROOT / "config" / "sources.yaml"


def configured_sources() -> dict[str, str | None]:
    """{source name: path or None} from MUSICML_INGEST_SOURCES or config/sources.yaml."""
    env = os.environ.get("MUSICML_INGEST_SOURCES")
    if env:
        return {s.strip(): None for s in env.split(",") if s.strip()}
    cfg = yaml.safe_load(SOURCES_FILE.read_text()) or {}
    return {name: (v or {}).get("path") for name, v in (cfg.get("sources") or {}).items()}


def snapshot_for(logical_date) -> str:
    """The lake snapshot a run writes: the month of its logical date (YYYY-MM)."""
    return logical_date.strftime("%Y-%m")


IngestProgress = Callable[[str, int], None]  # (dataset, raw rows just processed)


@dataclass
class IngestReport:
    """What one source landed: its manifests (committed), and the XCom-sized summary."""

    source: str
    snapshot: str
    manifests: list = field(default_factory=list)

    def to_xcom(self) -> dict:
        return {
            "source": self.source,
            "snapshot": self.snapshot,
            "datasets": {m.dataset: {"rows_in": m.rows_in, "accepted": m.rows_accepted,
                                     "quarantined": m.rows_quarantined, "synthetic": m.synthetic,
                                     "fingerprint": m.fingerprint[:16]} for m in self.manifests},
        }


def ingest_datasets(datasets: list, lake, snapshot: str | None = None,
                    progress: IngestProgress | None = None) -> list:
    """Land each dataset (one committed snapshot each, GC after each); returns the manifests."""
    from ml.lake.ingest import current_snapshot, ingest, validate_snapshot

    snapshot = validate_snapshot(snapshot or current_snapshot())
    manifests = []
    for ds in datasets:
        cb = (lambda n, name=ds.name: progress(name, n)) if progress else None
        manifests.append(ingest(ds, lake, snapshot, progress=cb))
    return manifests


def ingest_source(source: str, path: str | Path | None = None, snapshot: str | None = None,
                  lake_uri: str | None = None, *, encoding: str | None = None,
                  progress: IngestProgress | None = None, settings=None) -> IngestReport:
    """Validate a source against its contracts and land it in the lake: the one ingest entry point.

    The CLI (with a progress bar), the music_ingest DAG, benchmarks and tests all call this.
    The snapshot name is checked before anything is read.
    """
    from ml.lake.ingest import current_snapshot, validate_snapshot
    from ml.lake.storage import Lake
    from ml.sources import load_source

    snapshot = validate_snapshot(snapshot or current_snapshot())
    settings = settings or get_settings()
    datasets = load_source(source, Path(path) if path else None, settings, encoding=encoding)
    lake = Lake.from_uri(lake_uri or settings.lake_uri, settings)
    return IngestReport(source, snapshot, ingest_datasets(datasets, lake, snapshot, progress))


def verify_lake(datasets: list[str] | None = None, lake_uri: str | None = None) -> dict:
    """Re-hash the lake's committed files (all, or these datasets); raises LakeError on a problem."""
    from ml.lake.commit import verify
    from ml.lake.storage import Lake, LakeError

    lake = Lake.from_uri(lake_uri or get_settings().lake_uri)
    reports = [verify(lake, d) for d in datasets] if datasets else [verify(lake)]
    problems = [str(p) for r in reports for p in r.problems]
    summary = {"snapshots": sum(r.snapshots for r in reports), "files": sum(r.files for r in reports),
               "bytes": sum(r.bytes for r in reports), "problems": problems}
    if problems:
        raise LakeError(f"lake {lake.uri} failed verification: {problems[0]}"
                        + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))
    return summary


def train_model(model: str, lake_uri: str | None = None, fast: bool = False,
                config: Mapping[str, Any] | None = None) -> dict:
    """Lake -> load -> train + evaluate on the test split -> one MLflow run (model logged, not registered).

    `config`: overrides of the model's typed config (an unknown key is a ValidationError naming it).
    """
    from ml.lake import catalog
    from ml.lake.storage import Lake
    from ml.models import get_spec
    from ml.registry.tracking import lineage, log_run

    settings = get_settings()
    spec = get_spec(model)
    cfg = spec.config.resolve(config, fast=fast)  # before touching the lake: a typo fails fast
    lake = Lake.from_uri(lake_uri or settings.lake_uri, settings)
    con = catalog.connect(lake)
    try:
        data = spec.load(con)
        rows = lineage(con, lake, spec.datasets)
    finally:
        con.close()
    started = time.perf_counter()
    result = spec.train(data, cfg)
    seconds = time.perf_counter() - started
    return log_run(spec, result, rows, train_seconds=seconds, settings=settings).to_xcom()


def evaluate_model(run: dict) -> dict:
    """Compare the run with its baseline; re-score on the frozen evaluation set when there is one."""
    import mlflow

    from ml.models import get_spec
    from ml.registry.promotion import beats_baseline, frozen_eval_set, score_on_frozen
    from ml.registry.tracking import configure_mlflow

    spec = get_spec(run["model"])
    client = configure_mlflow()
    frozen_metrics: dict[str, float] = {}
    frozen = frozen_eval_set(spec, client)
    if frozen is not None and spec.score is not None:
        model = mlflow.pyfunc.load_model(run["model_uri"])
        frozen_metrics = {f"frozen_{k}": v for k, v in score_on_frozen(spec, model, frozen).items()}
        for k, v in frozen_metrics.items():
            client.log_metric(run["run_id"], k, v)
    return {**run, "beats_baseline": beats_baseline(spec, run["metrics"], run["baseline"]),
            "frozen_metrics": frozen_metrics}


def register_model(run: dict) -> dict:
    """Register the run's model as a new version of music-<model>."""
    from ml.models import get_spec
    from ml.registry.tracking import RegisteredRun, register_run

    registered = register_run(get_spec(run["model"]), RegisteredRun.from_xcom(run))
    return {**run, "version": registered.version}


def gate_model(registered: dict) -> dict:
    from ml.registry.promotion import evaluate_gate

    report = evaluate_gate(registered["model"], registered["version"])
    return {"model": registered["model"], "version": registered["version"], "decision": report.decision,
            "reasons": report.reasons, "aliases_set": report.aliases_set, "compared_on": report.compared_on}


def train_pipeline(model: str, lake_uri: str | None = None, fast: bool = False,
                   config: Mapping[str, Any] | None = None) -> dict:
    """train -> evaluate -> register -> gate for one model, in-process: the registered run plus the gate result."""
    registered = register_model(evaluate_model(train_model(model, lake_uri, fast, config)))
    gate = gate_model(registered)
    return {**registered, "gate": {k: v for k, v in gate.items() if k not in ("model", "version")}}


# --------------------------------------------------------------------------------- quality

QUALITY_SOURCES = ("spotify-tracks", "spotify-2023", "lastfm-hetrec", "gtzan-features")


def quality_report(data_dir: Path | None = None, models: list[str] | None = None, out_path: Path | None = None,
                   log: Callable[[str], None] = lambda _msg: None) -> dict:
    """Train and evaluate every model's full config on the REAL data (honest splits); nothing is registered.

    Ingests the real datasets into a temporary lake and returns {model: {metric: value,
    "baseline": {...}, "split": .., "n_train": .., "n_test": .., "train_seconds": ..}}. With
    `out_path`, the JSON is rewritten after each model (partial results survive a crash).
    Real data has no daily charts: the streams forecaster is measured on seeded synthetic
    charts (labelled so in the lake), its spotify2023_r2 on the real file.
    """
    from ml.lake import catalog
    from ml.lake.storage import Lake
    from ml.models import resolve
    from ml.sources import load_source

    settings = Settings(shared_data_dir=data_dir) if data_dir else get_settings()
    specs = resolve(models or ["all"])
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="musicml-quality-") as tmp:
        datasets = [ds for source in QUALITY_SOURCES for ds in load_source(source, None, settings)]
        if any(spec.name == "streams" for spec in specs):
            from ml.sources.synthetic import generate

            syn = Path(tmp) / "synthetic"
            generate(syn, seed=2024, tracks=5_000, chart_rows=1_000_000, users=200, regions=20)
            datasets += [d for d in load_source("synthetic", syn, settings) if d.name == "synthetic_spotify_charts"]
        lake = Lake.from_uri(str(Path(tmp) / "lake"), settings)
        ingest_datasets(datasets, lake, "2000-01")
        for spec in specs:
            log(f"quality: {spec.name} ...")
            con = catalog.connect(lake)
            try:
                data = spec.load(con)
            finally:
                con.close()
            t0 = time.perf_counter()
            entry = spec.train(data, spec.config()).quality_entry()
            entry["train_seconds"] = round(time.perf_counter() - t0, 1)
            report[spec.name] = entry
            if out_path is not None:
                Path(out_path).write_text(json.dumps(report, indent=2) + "\n")
    return report
