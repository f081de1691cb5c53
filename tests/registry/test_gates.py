"""Promotion gates: a shuffled-label model is rejected and the champion stays; a good one becomes challenger."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.models import get_spec
from ml.registry.promotion import CHALLENGER, CHAMPION, evaluate_gate, promote, rollback, status
from ml.registry.tracking import configure_mlflow, lineage, log_run, register_run

pytestmark = pytest.mark.slow


def _register(spec, df, real_con, real_lake):
    result = spec.train(df, spec.config.fast())
    return register_run(spec, log_run(spec, result, lineage(real_con, real_lake, spec.datasets)))


def _alias(client, name, alias):
    return str(client.get_model_version_by_alias(name, alias).version)


def test_gates_reject_shuffled_labels_and_keep_the_champion(real_lake, real_con):
    spec = get_spec("mood")
    client = configure_mlflow()
    df = spec.load(real_con).frame

    v1 = _register(spec, df, real_con, real_lake)
    first = evaluate_gate("mood", v1.version)
    assert first.decision == "passed", first.reasons
    assert set(first.aliases_set) == {CHALLENGER, CHAMPION}
    assert client.get_registered_model(spec.registered_name).tags["frozen_eval_run"] == v1.run_id

    shuffled = df.copy()
    labelled = shuffled["mood_label"].notna()
    shuffled.loc[labelled, "mood_label"] = np.random.default_rng(0).permutation(
        shuffled.loc[labelled, "mood_label"].to_numpy())
    v2 = _register(spec, shuffled, real_con, real_lake)
    worse = evaluate_gate("mood", v2.version)
    assert worse.decision == "rejected"
    assert worse.aliases_set == []
    assert any("regression" in r or "baseline" in r or "min" in r for r in worse.reasons)
    assert "frozen evaluation set" in worse.compared_on
    assert _alias(client, spec.registered_name, CHAMPION) == v1.version
    assert _alias(client, spec.registered_name, CHALLENGER) == v1.version
    tags = client.get_model_version(spec.registered_name, v2.version).tags
    assert tags["gate.decision"] == "rejected" and json.loads(tags["gate.reasons"])

    v3 = _register(spec, df, real_con, real_lake)
    better = evaluate_gate("mood", v3.version)
    assert better.decision == "passed", better.reasons
    assert better.aliases_set == [CHALLENGER]
    assert _alias(client, spec.registered_name, CHALLENGER) == v3.version
    assert _alias(client, spec.registered_name, CHAMPION) == v1.version

    assert promote("mood")["champion"] == v3.version
    assert _alias(client, spec.registered_name, CHAMPION) == v3.version
    assert rollback("mood")["champion"] == v1.version
    row = next(r for r in status(["mood"]) if r["model"] == "mood")
    assert row["champion"] == v1.version and row["versions"] == 3
