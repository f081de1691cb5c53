"""End to end in-process: music_ingest -> music_train on a small synthetic dataset (SQLite Airflow + MLflow)."""

from __future__ import annotations

import pytest

from ml.models import MODEL_NAMES
from ml.settings import REPO_ROOT, get_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def test_ingest_then_train_registers_versions_and_sets_aliases(migrated_airflow, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from ml.registry.promotion import status
    from ml.sources.synthetic import generate

    settings = get_settings()
    monkeypatch.setenv("MUSICML_INGEST_SOURCES", "synthetic")
    generate(settings.work_dir / "synthetic", seed=11, tracks=3_000, chart_rows=60_000, users=300, regions=4)

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    ingest_run = bag.dags["music_ingest"].test()
    assert str(ingest_run.state) == "success"

    train_run = bag.dags["music_train"].test(run_conf={"fast": True, "models": list(MODEL_NAMES)})
    assert str(train_run.state) == "success"

    rows = {r["model"]: r for r in status()}
    for model in MODEL_NAMES:
        row = rows[model]
        assert row["versions"] == 1, model
        assert row["latest_gate"] in {"passed", "rejected"}, model
        if row["latest_gate"] == "passed":  # the first passing version becomes champion and challenger
            assert row["champion"] == row["challenger"] == "1", model
        else:
            assert row["champion"] is None and row["latest_reasons"], model
    assert any(r["champion"] for r in rows.values()), "at least one model should pass its gate on synthetic data"
