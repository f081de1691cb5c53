"""Promotion gates on MLflow aliases: champion / challenger, promote, rollback.

A gate decides on one registered version with the thresholds of config/gates.yaml:
absolute floors/ceilings, "beats its baseline", no regression beyond a margin against
the champion *on the same frozen evaluation set*, and sanity checks (non-degenerate
predictions, model size, warm single-row latency). Passing moves `challenger` (and
`champion` if there is none); failing moves nothing. The decision and every reason are
written to the version's tags and logged as `gate_report.json` on its run.

The frozen evaluation set of a model is the test frame of its first champion, named by
the registered-model tag `frozen_eval_run`. Splits are stable per group (hash-based), so
those rows never enter a later version's training data.

The decision itself is a plain function (`gate_checks`: rules + evidence -> checks);
`evaluate_gate` gathers the evidence from MLflow and records the outcome. The rules come
typed from ml/registry/gates.py; which way a metric points comes from its ModelSpec.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from ml.models import get_spec
from ml.models.base import ModelSpec
from ml.registry.gates import GateConfig, ModelGates
from ml.registry.tracking import configure_mlflow, require_complete

CHAMPION, CHALLENGER = "champion", "challenger"
FROZEN_EVAL_TAG = "frozen_eval_run"  # registered-model tag: the run whose test rows are the frozen set


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class GateReport:
    model: str
    version: str
    decision: str  # "passed" | "rejected"
    checks: list[Check] = field(default_factory=list)
    aliases_set: list[str] = field(default_factory=list)
    champion_version: str | None = None
    compared_on: str = ""
    checked_at: str = ""

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["reasons"] = self.reasons
        return d


def _alias_version(client, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _run_metrics(client, run_id: str) -> dict[str, float]:
    return dict(client.get_run(run_id).data.metrics)


def eval_frame(run_id: str) -> pd.DataFrame | None:
    """The test rows (inputs + labels) a run logged for frozen re-evaluation, if it logged them."""
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="eval/eval_frame.parquet")
    except (MlflowException, OSError):
        return None
    return pd.read_parquet(path)


@dataclass
class FrozenSet:
    """A model's frozen evaluation set: the test rows of the run named by its registered-model tag."""

    run_id: str
    frame: pd.DataFrame

    @property
    def description(self) -> str:
        return f"frozen evaluation set of run {self.run_id} ({len(self.frame)} rows)"


def frozen_eval_set(spec: ModelSpec, client=None) -> FrozenSet | None:
    """The frozen evaluation set of `spec`'s registered model, or None (no champion yet, or no frame logged)."""
    client = client or configure_mlflow()
    try:
        run_id = client.get_registered_model(spec.registered_name).tags.get(FROZEN_EVAL_TAG)
    except MlflowException:
        return None
    frame = eval_frame(run_id) if run_id else None
    return FrozenSet(run_id, frame) if frame is not None else None


def score_on_frozen(spec: ModelSpec, model, frozen: FrozenSet) -> dict[str, float]:
    """Re-score any loaded version on the frozen set with the model's own scorer ({} when it has none)."""
    if spec.score is None:
        return {}
    return {k: float(v) for k, v in spec.score(model, frozen.frame).items()}


def beats_baseline(spec: ModelSpec, metrics: dict[str, float], baseline: dict[str, float]) -> dict[str, bool]:
    """Per metric the model and its baseline share: is the model better (in that metric's direction)?"""
    return {k: spec.better(k, v, baseline[k]) for k, v in metrics.items() if k in baseline}


def _input_example(model_uri: str) -> pd.DataFrame | None:
    """The input example stored with the model: the sanity sample when no evaluation frame was logged."""
    from mlflow.models import Model

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            example = Model.load(local).load_input_example(local)
    except (MlflowException, OSError, ValueError):
        return None
    return pd.DataFrame(example) if example is not None else None


def _model_size_mb(model_uri: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        return sum(f.stat().st_size for f in local.rglob("*") if f.is_file()) / 2**20


def _latency_ms(model, row: pd.DataFrame, repeats: int = 20) -> float:
    model.predict(row)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.predict(row)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _distinct_predictions(pred: pd.DataFrame) -> int:
    pred = pd.DataFrame(pred)
    best = 0
    for col in pred.columns:
        try:
            best = max(best, pred[col].astype(str).nunique())
        except TypeError:
            continue
    return best


@dataclass
class Comparison:
    """Candidate vs champion metrics on the same rows (the frozen set, else their logged test metrics)."""

    champion_version: str
    candidate: dict[str, float]
    champion: dict[str, float]
    compared_on: str


@dataclass
class GateEvidence:
    """What a gate decides on; gathered from MLflow by `evaluate_gate`, or built directly in tests."""

    metrics: dict[str, float]  # the version's logged metrics, incl. baseline_<metric>
    model_mb: float
    comparison: Comparison | None = None  # None: no champion yet (or the candidate is the champion)
    distinct_predictions: int | None = None  # None: no evaluation frame or input example to predict on
    latency_ms: float | None = None


def gate_checks(spec: ModelSpec, gates: ModelGates, evidence: GateEvidence) -> list[Check]:
    """The gate's decision as a plain function: every check, passed or not, in report order."""
    checks: list[Check] = []
    metrics = evidence.metrics
    for k, floor in gates.min.items():
        v = metrics.get(k)
        checks.append(Check(f"min {k}", v is not None and v >= floor, f"{_f(v)} (floor {floor})"))
    for k, ceiling in gates.max.items():
        v = metrics.get(k)
        checks.append(Check(f"max {k}", v is not None and v <= ceiling, f"{_f(v)} (ceiling {ceiling})"))
    for k in gates.beat_baseline:
        v, b = metrics.get(k), metrics.get(f"baseline_{k}")
        checks.append(Check(f"beats baseline on {k}", spec.better(k, v, b), f"{_f(v)} vs baseline {_f(b)}"))
    cmp = evidence.comparison
    if cmp is not None:
        margin = gates.max_regression
        for k in gates.compare:
            c, h = cmp.candidate.get(k), cmp.champion.get(k)
            if c is None or h is None:
                checks.append(Check(f"no regression on {k}", False, f"metric missing (candidate {_f(c)}, champion {_f(h)})"))
                continue
            ok = (c <= h + margin) if spec.lower_is_better(k) else (c >= h - margin)
            checks.append(Check(f"no regression on {k}", ok,
                                f"{_f(c)} vs champion v{cmp.champion_version} {_f(h)} (margin {margin})"))
    sanity = gates.sanity
    if evidence.distinct_predictions is not None:
        floor = sanity.min_distinct_predictions
        checks.append(Check("predictions not degenerate", evidence.distinct_predictions >= floor,
                            f"{evidence.distinct_predictions} distinct values in the most varied output column "
                            f"(need {floor})"))
        budget = sanity.max_latency_ms
        latency = evidence.latency_ms if evidence.latency_ms is not None else float("inf")
        checks.append(Check("single-row latency", latency <= budget, f"{latency:.1f} ms median (budget {budget} ms)"))
    else:
        checks.append(Check("predictions not degenerate", False, "no evaluation frame or input example logged"))
    checks.append(Check("model size", evidence.model_mb <= sanity.max_model_mb,
                        f"{evidence.model_mb:.1f} MB (budget {sanity.max_model_mb} MB)"))
    return checks


def evaluate_gate(model: str, version: str, gates: GateConfig | None = None, apply: bool = True) -> GateReport:
    """Check one version against the gates; on pass move aliases (when `apply`)."""
    spec = get_spec(model)
    rules = (gates or GateConfig.load()).for_model(spec.name, spec)
    client = configure_mlflow()
    name = spec.registered_name
    require_complete(name, version, client)  # a half-registered version never moves an alias
    mv = client.get_model_version(name, version)
    run_id = mv.run_id or mv.tags.get("run_id")
    metrics = _run_metrics(client, run_id)
    report = GateReport(model=spec.name, version=str(version), decision="rejected",
                        checked_at=datetime.now(UTC).isoformat(timespec="seconds"))

    candidate = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    champion_version = _alias_version(client, name, CHAMPION)
    report.champion_version = champion_version
    frozen = frozen_eval_set(spec, client)
    own_frame = eval_frame(run_id)

    comparison = None
    if champion_version and champion_version != str(version):
        if frozen is not None and spec.score is not None:
            champion = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")
            comparison = Comparison(champion_version, score_on_frozen(spec, candidate, frozen),
                                    score_on_frozen(spec, champion, frozen), frozen.description)
        else:
            champ_run = client.get_model_version(name, champion_version).run_id
            comparison = Comparison(champion_version, metrics, _run_metrics(client, champ_run),
                                    "logged test metrics (no frozen evaluation set or scorer for this model)")
        report.compared_on = comparison.compared_on
    else:
        report.compared_on = "no champion yet"

    evidence = GateEvidence(metrics=metrics, model_mb=_model_size_mb(mv.source), comparison=comparison)
    sample = own_frame if own_frame is not None else (frozen.frame if frozen is not None else None)
    if sample is None:
        sample = _input_example(mv.source)
    if sample is not None and len(sample):
        evidence.distinct_predictions = _distinct_predictions(candidate.predict(sample.head(500)))
        evidence.latency_ms = _latency_ms(candidate, sample.head(1))
    report.checks = gate_checks(spec, rules, evidence)

    report.decision = "passed" if all(c.passed for c in report.checks) else "rejected"
    if apply:
        _record(client, spec, report, run_id, own_frame is not None)
    return report


def _record(client, spec: ModelSpec, report: GateReport, run_id: str, has_frame: bool) -> None:
    name, version = spec.registered_name, report.version
    if report.decision == "passed":
        client.set_registered_model_alias(name, CHALLENGER, version)
        report.aliases_set.append(CHALLENGER)
        if report.champion_version is None:
            client.set_registered_model_alias(name, CHAMPION, version)
            report.aliases_set.append(CHAMPION)
            if has_frame:
                client.set_registered_model_tag(name, FROZEN_EVAL_TAG, run_id)
    client.set_model_version_tag(name, version, "gate.decision", report.decision)
    client.set_model_version_tag(name, version, "gate.reasons", json.dumps(report.reasons)[:4900])
    client.set_model_version_tag(name, version, "gate.checked_at", report.checked_at)
    client.set_model_version_tag(name, version, "gate.compared_on", report.compared_on[:4900])
    client.log_dict(run_id, report.to_dict(), f"gate_report_v{version}.json")


def promote(model: str) -> dict:
    """challenger -> champion; the replaced champion is remembered for rollback."""
    spec = get_spec(model)
    client = configure_mlflow()
    name = spec.registered_name
    challenger = _alias_version(client, name, CHALLENGER)
    if challenger is None:
        raise LookupError(f"{name} has no challenger: a version must pass its gate first (`musicml registry gate`)")
    previous = _alias_version(client, name, CHAMPION)
    if previous == challenger:
        return {"model": spec.name, "champion": challenger, "previous_champion": previous, "changed": False}
    history = json.loads(client.get_registered_model(name).tags.get("champion_history", "[]"))
    if previous:
        history.append(previous)
    client.set_registered_model_alias(name, CHAMPION, challenger)
    client.set_registered_model_tag(name, "champion_history", json.dumps(history[-20:]))
    client.set_model_version_tag(name, challenger, "promoted_at", datetime.now(UTC).isoformat(timespec="seconds"))
    if previous:
        client.set_model_version_tag(name, previous, "replaced_by", challenger)
    return {"model": spec.name, "champion": challenger, "previous_champion": previous, "changed": True}


def rollback(model: str) -> dict:
    """champion -> the previous champion (from the recorded history)."""
    spec = get_spec(model)
    client = configure_mlflow()
    name = spec.registered_name
    history = json.loads(client.get_registered_model(name).tags.get("champion_history", "[]"))
    if not history:
        raise LookupError(f"{name} has no previous champion to roll back to")
    current = _alias_version(client, name, CHAMPION)
    target = history.pop()
    client.set_registered_model_alias(name, CHAMPION, target)
    client.set_registered_model_tag(name, "champion_history", json.dumps(history))
    if current:
        client.set_model_version_tag(name, current, "rolled_back_at", datetime.now(UTC).isoformat(timespec="seconds"))
    return {"model": spec.name, "champion": target, "rolled_back_from": current}


def status(models: list[str] | None = None) -> list[dict]:
    """Per registered model: aliases, latest version and its gate decision with reasons."""
    from ml.models import MODEL_NAMES

    client = configure_mlflow()
    rows = []
    for m in models or list(MODEL_NAMES):
        spec = get_spec(m)
        versions = client.search_model_versions(f"name='{spec.registered_name}'")
        if not versions:
            rows.append({"model": spec.name, "registered_name": spec.registered_name, "versions": 0})
            continue
        latest = max(versions, key=lambda v: int(v.version))
        rows.append({
            "model": spec.name,
            "registered_name": spec.registered_name,
            "versions": len(versions),
            "champion": _alias_version(client, spec.registered_name, CHAMPION),
            "challenger": _alias_version(client, spec.registered_name, CHALLENGER),
            "latest": str(latest.version),
            "latest_gate": latest.tags.get("gate.decision", "not gated"),
            "latest_reasons": json.loads(latest.tags.get("gate.reasons", "[]")),
            "latest_key_metrics": json.loads(latest.tags.get("key_metrics", "{}")),
        })
    return rows


def _f(v) -> str:
    return "missing" if v is None else f"{v:.4f}"
