"""Gate rules typed on load (a typo fails loudly) and the gate decision as a plain function."""

from __future__ import annotations

import pytest

from ml.models import get_spec
from ml.registry.gates import GATES_FILE, GateConfig
from ml.registry.promotion import Comparison, GateEvidence, beats_baseline, gate_checks


def _write(tmp_path, text: str):
    path = tmp_path / "gates.yaml"
    path.write_text(text)
    return path


def test_the_repo_gates_load_and_merge_over_the_defaults():
    gates = GateConfig.load(GATES_FILE)
    rec = gates.for_model("recommender", get_spec("recommender"))
    assert rec.sanity.max_latency_ms == 200 and rec.sanity.max_model_mb == gates.defaults.sanity.max_model_mb
    assert gates.for_model("popularity").max_regression == 0.03
    assert gates.for_model("mood").max_regression == gates.defaults.max_regression
    assert gates.for_model("genre").beat_baseline == ("coarse_top1", "fine_top5")
    assert gates.for_model("streams", get_spec("streams")).max == {"rmse": 3.0}


@pytest.mark.parametrize("text, needle", [
    ("models:\n  mood:\n    beat_basline: [macro_f1]\n", "models.mood.beat_basline"),
    ("defaults:\n  max_regresion: 0.1\n", "defaults.max_regresion"),
    ("defaults:\n  sanity: {max_latency: 10}\n", "defaults.sanity.max_latency"),
    ("models:\n  moood:\n    min: {macro_f1: 0.2}\n", "unknown model(s) moood"),
    ("models:\n  mood:\n    min: {macro_f1: high}\n", "models.mood.min.macro_f1"),
])
def test_a_typo_in_gates_yaml_fails_loudly(tmp_path, text, needle):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as err:
        GateConfig.load(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_a_rule_pointing_the_wrong_way_is_rejected(tmp_path):
    gates = GateConfig.load(_write(tmp_path, "models:\n  streams:\n    min: {rmse: 0.5}\n"))
    with pytest.raises(ValueError, match="min rmse"):
        gates.for_model("streams", get_spec("streams"))


def test_beats_baseline_uses_each_metrics_direction():
    spec = get_spec("popularity")
    out = beats_baseline(spec, {"r2": 0.6, "rmse": 12.0, "interval_width_80": 30.0, "other": 1.0},
                         {"r2": 0.3, "rmse": 18.0, "interval_width_80": 40.0})
    assert out == {"r2": True, "rmse": True, "interval_width_80": True}
    assert spec.lower_is_better("rmse") and spec.lower_is_better("mae_x") and not spec.lower_is_better("r2")


def _evidence(**kw):
    base = {"metrics": {"rmse": 1.0, "baseline_rmse": 2.0}, "model_mb": 1.0, "distinct_predictions": 50,
            "latency_ms": 3.0}
    return GateEvidence(**{**base, **kw})


def test_gate_checks_pass_and_fail_on_evidence_alone():
    spec = get_spec("streams")
    rules = GateConfig.load(GATES_FILE).for_model("streams", spec)
    checks = gate_checks(spec, rules, _evidence())
    assert [c.name for c in checks] == ["max rmse", "beats baseline on rmse", "predictions not degenerate",
                                        "single-row latency", "model size"]
    assert all(c.passed for c in checks)

    worse = Comparison("3", candidate={"rmse": 1.5}, champion={"rmse": 1.0}, compared_on="frozen set")
    failed = {c.name: c for c in gate_checks(spec, rules, _evidence(comparison=worse))}
    assert not failed["no regression on rmse"].passed and "champion v3" in failed["no regression on rmse"].detail
    within = Comparison("3", candidate={"rmse": 1.01}, champion={"rmse": 1.0}, compared_on="frozen set")
    assert all(c.passed for c in gate_checks(spec, rules, _evidence(comparison=within)))

    bad = {c.name: c.passed for c in gate_checks(spec, rules, _evidence(
        metrics={"rmse": 5.0}, model_mb=900.0, distinct_predictions=None))}
    assert bad == {"max rmse": False, "beats baseline on rmse": False, "predictions not degenerate": False,
                   "model size": False}
