"""`musicml train` takes the DAG's route: train -> evaluate -> register -> gate, with the typed config logged."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ml.cli import app

pytestmark = pytest.mark.slow


def test_cli_train_registers_gates_and_logs_the_config():
    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake
    from ml.registry.promotion import status
    from ml.registry.tracking import configure_mlflow
    from ml.settings import get_settings
    from ml.sources import load_source
    from ml.sources.synthetic import generate

    settings = get_settings()
    generate(settings.work_dir / "syn", seed=5, tracks=1_500, chart_rows=5_000, users=120, regions=2)
    lake = Lake.from_uri(settings.lake_uri, settings)
    for ds in load_source("synthetic", settings.work_dir / "syn", settings):
        ingest(ds, lake, "2024-01")

    r = CliRunner().invoke(app, ["train", "mood", "--fast", "--set", "n_trees=30"])
    assert r.exit_code == 0, r.output
    assert "Gates" in r.output and "SYNTHETIC" in r.output
    row = next(s for s in status(["mood"]))
    assert row["versions"] == 1 and row["latest_gate"] in {"passed", "rejected"}
    if row["latest_gate"] == "passed":
        assert row["champion"] == row["challenger"] == "1"
    client = configure_mlflow()
    mv = client.get_model_version("music-mood", "1")
    params = client.get_run(mv.run_id).data.params
    assert params["config.variant"] == "custom" and params["config.n_trees"] == "30" and params["config.cv_folds"] == "3"
    assert "peak_rss_mb" in client.get_run(mv.run_id).data.metrics
