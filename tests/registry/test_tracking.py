"""MLflow logging: baseline beside model, lineage, plots, registered version loadable by version."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import pytest

from ml.models.base import ModelSpec, TrackModel, TrainResult
from ml.registry.tracking import RegisteredRun, configure_mlflow, lineage, load_model, log_run, model_uri, register_run


class MeanModel(TrackModel):
    required_columns = ("energy",)

    def __init__(self, value: float):
        self.value = value

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"pred": np.full(len(df), self.value) + 0 * df["energy"].to_numpy()})


def _spec() -> ModelSpec:
    return ModelSpec(name="toy", description="toy model for tests", load=lambda con: pd.DataFrame(),
                     train=lambda df, cfg: None, key_metrics=("r2",), datasets=("spotify_tracks",))


def _result(value=0.5) -> TrainResult:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return TrainResult(model=MeanModel(value), metrics={"r2": 0.3, "rmse": 1.0}, baseline={"r2": 0.0, "rmse": 1.5},
                       split="grouped by artist", n_train=8, n_test=2, params={"alpha": 1},
                       figures={"diag.png": fig}, tables={"report.csv": pd.DataFrame({"a": [1]})},
                       input_example=pd.DataFrame({"energy": [0.1, 0.9]}))


def test_run_logs_model_and_baseline_side_by_side_and_registers(shared_data, real_lake, real_con):
    spec = _spec()
    rows = lineage(real_con, real_lake, spec.datasets)
    assert rows and rows[0]["dataset"] == "spotify_tracks" and len(rows[0]["fingerprint"]) == 64
    run = register_run(spec, log_run(spec, _result(), rows, train_seconds=1.5))
    assert run.registered_name == "music-toy" and run.version == "1"

    client = configure_mlflow()
    data = client.get_run(run.run_id).data
    assert data.metrics["r2"] == 0.3 and data.metrics["baseline_r2"] == 0.0
    assert data.tags["split"] == "grouped by artist"
    assert data.tags["lineage.spotify_tracks"].startswith("2024-01:")
    assert data.tags["synthetic_data"] == "false"
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"plots", "tables", "lineage.json", "evaluation.json"} <= artifacts
    evaluation = json.loads(mlflow.artifacts.load_text(f"runs:/{run.run_id}/evaluation.json"))
    assert evaluation["baseline"] == {"r2": 0.0, "rmse": 1.5} and evaluation["n_test"] == 2

    second = register_run(spec, log_run(spec, _result(0.7), rows))
    assert second.version == "2"
    assert model_uri("music-toy") == "models:/music-toy/2"
    assert model_uri("music-toy", alias="champion") == "models:/music-toy/2"  # no alias yet -> latest
    loaded = load_model("music-toy", version="1")
    out = loaded.predict(pd.DataFrame({"energy": [0.2]}))
    assert out["pred"].tolist() == [0.5]
    with pytest.raises(Exception, match="energy"):
        loaded.predict(pd.DataFrame({"valence": [0.2]}))
    version = client.get_model_version("music-toy", "1")
    assert json.loads(version.tags["key_metrics"]) == {"r2": 0.3}


def test_unknown_model_has_no_versions():
    configure_mlflow()
    with pytest.raises(LookupError, match="musicml train"):
        model_uri("music-nothing")


def test_registered_run_round_trips_through_xcom():
    run = RegisteredRun(model="mood", registered_name="music-mood", version="", run_id="abc", metrics={"f1": 0.5,
                        "bad": float("nan")}, baseline={"f1": 0.3}, split="grouped", synthetic=True, train_seconds=1.234,
                        peak_rss_mb=812.34, model_uri="runs:/abc/model")
    doc = run.to_xcom()
    assert "bad" not in doc["metrics"] and doc["peak_rss_mb"] == 812.3
    back = RegisteredRun.from_xcom({**doc, "beats_baseline": {"f1": True}, "version": 4})  # later steps add keys
    assert back.version == "4" and back.peak_rss_mb == 812.3 and back.metrics == {"f1": 0.5}
    assert RegisteredRun.from_xcom(back.to_xcom()) == back
