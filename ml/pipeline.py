"""Pipeline steps as plain functions: what the Airflow DAGs call, also callable from the CLI.

Each step takes and returns small JSON-able dicts (ids, versions, paths, metrics), so a
DAG passes only those through XCom. Steps are idempotent for a month: ingest replaces the
month's snapshot; training always makes a new run and version (MLflow keeps history), and
the gate moves aliases only when a version passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ml.settings import REPO_ROOT, get_settings

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


def ingest_source(source: str, path: str | None = None, snapshot: str | None = None,
                  lake_uri: str | None = None) -> dict:
    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake
    from ml.sources import load_source

    settings = get_settings()
    lake = Lake.from_uri(lake_uri or settings.lake_uri, settings)
    manifests = [ingest(ds, lake, snapshot) for ds in load_source(source, Path(path) if path else None, settings)]
    return {
        "source": source,
        "snapshot": manifests[0].snapshot if manifests else snapshot,
        "datasets": {m.dataset: {"rows_in": m.rows_in, "accepted": m.rows_accepted,
                                 "quarantined": m.rows_quarantined, "synthetic": m.synthetic,
                                 "fingerprint": m.fingerprint[:16]} for m in manifests},
    }


def train_model(model: str, lake_uri: str | None = None, fast: bool = False) -> dict:
    """Train + evaluate on the test split, log one MLflow run (model logged, not registered)."""
    from ml.lake.storage import Lake
    from ml.models import get_spec
    from ml.registry.tracking import train_and_log

    settings = get_settings()
    run = train_and_log(get_spec(model), Lake.from_uri(lake_uri or settings.lake_uri, settings),
                        {"fast": True} if fast else None, settings)
    return run.to_xcom()


def evaluate_model(run: dict) -> dict:
    """Compare the run with its baseline; re-score on the frozen evaluation set when there is one."""
    import mlflow

    from ml.models import get_spec
    from ml.registry.promotion import _eval_frame
    from ml.registry.tracking import configure_mlflow

    spec = get_spec(run["model"])
    client = configure_mlflow()
    from ml.registry.promotion import lower_is_better

    beats = {k: (v < run["baseline"][k]) if lower_is_better(k, spec) else (v > run["baseline"][k])
             for k, v in run["metrics"].items() if k in run["baseline"]}
    frozen_metrics: dict[str, float] = {}
    try:
        frozen_run = client.get_registered_model(spec.registered_name).tags.get("frozen_eval_run")
    except mlflow.exceptions.MlflowException:
        frozen_run = None
    if frozen_run and spec.score is not None:
        frame = _eval_frame(frozen_run)
        if frame is not None:
            model = mlflow.pyfunc.load_model(run["model_uri"])
            frozen_metrics = {f"frozen_{k}": float(v) for k, v in spec.score(model, frame).items()}
            for k, v in frozen_metrics.items():
                client.log_metric(run["run_id"], k, v)
    return {**run, "beats_baseline": beats, "frozen_metrics": frozen_metrics}


def register_model(run: dict) -> dict:
    from ml.models import get_spec
    from ml.registry.tracking import RegisteredRun, register_run

    spec = get_spec(run["model"])
    reg = RegisteredRun(model=run["model"], registered_name=spec.registered_name, version="", run_id=run["run_id"],
                        metrics=run["metrics"], baseline=run["baseline"], split=run["split"],
                        synthetic=run["synthetic"], train_seconds=run.get("train_seconds", 0.0), peak_rss_mb=0.0,
                        model_uri=run["model_uri"])
    return {**run, "version": register_run(spec, reg).version}


def gate_model(registered: dict) -> dict:
    from ml.registry.promotion import evaluate_gate

    report = evaluate_gate(registered["model"], registered["version"])
    return {"model": registered["model"], "version": registered["version"], "decision": report.decision,
            "reasons": report.reasons, "aliases_set": report.aliases_set, "compared_on": report.compared_on}
