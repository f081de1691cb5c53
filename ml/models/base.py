"""The shape every model shares: data from the lake -> train -> evaluate beside a baseline.

A model module (ml/models/<name>.py) exposes one `ModelSpec` named `SPEC`:
- `load(con)`          DataFrame of training rows from the lake (DuckDB connection with views)
- `train(df, config)`  -> TrainResult: the fitted model, test metrics for the model and
                          its baseline under the same keys, split description, plots
- the fitted model is an `mlflow.pyfunc.PythonModel` whose `predict(context, df)` takes
  rows in the source schema and returns a DataFrame; `required_columns` names the inputs.
MLflow logging and registration live in ml/registry, not in the models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlflow.pyfunc
import pandas as pd


class TrackModel(mlflow.pyfunc.PythonModel):
    """Base for our pyfunc models: validates inputs, then calls `predict_df`."""

    required_columns: tuple[str, ...] = ()

    def check_columns(self, df: pd.DataFrame) -> None:
        missing = [c for c in self.required_columns if c not in df.columns]
        if missing:
            raise ValueError(f"input is missing column(s): {', '.join(missing)}")

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:  # noqa: ARG002
        from ml.features.tracks import add_derived_columns

        df = add_derived_columns(pd.DataFrame(model_input))
        self.check_columns(df)
        return self.predict_df(df)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError


@dataclass
class TrainResult:
    model: TrackModel
    metrics: dict[str, float]
    baseline: dict[str, float]
    split: str
    n_train: int
    n_test: int
    params: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)  # file name -> matplotlib Figure
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # file name -> table (per-class report ...)
    input_example: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other comparators, e.g. {"ease": {...}}
    eval_frame: pd.DataFrame | None = None  # test rows (inputs + labels) for frozen re-evaluation by gates

    def quality_entry(self) -> dict:
        """The `musicml quality` JSON shape: metrics, baseline under the same keys, split, sizes."""
        entry: dict[str, Any] = {k: _num(v) for k, v in self.metrics.items()}
        entry["baseline"] = {k: _num(v) for k, v in self.baseline.items()}
        for name, values in self.extra.items():
            if isinstance(values, dict):
                entry[name] = {k: _num(v) for k, v in values.items()}
        entry.update(split=self.split, n_train=self.n_train, n_test=self.n_test)
        return entry


def _num(v):
    try:
        return round(float(v), 6)
    except (TypeError, ValueError):
        return v


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    load: Callable[..., pd.DataFrame]  # (con) -> training frame
    train: Callable[..., TrainResult]  # (df, config: dict | None) -> TrainResult
    key_metrics: tuple[str, ...]  # shown in `musicml train` tables, checked by gates
    datasets: tuple[str, ...] = ()  # lake datasets it reads (lineage)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    # score(model, eval_frame) -> metrics: re-scores any version on a frozen evaluation set (gates)
    score: Callable[..., dict[str, float]] | None = None

    @property
    def registered_name(self) -> str:
        return f"music-{self.name.replace('_', '-')}"
