"""The shape every model shares: data from the lake -> train -> evaluate beside a baseline.

A model module (ml/models/<name>.py or a package) exposes one `ModelSpec` named `SPEC`:
- `load(con)`            -> TrainingData: the training rows from the lake (DuckDB connection
                            with views) plus any side tables the model needs, by name
- `config`               its typed training config (a `ModelConfig`: defaults = the full
                            config, `fast()` = the smoke-run variant, unknown keys rejected)
- `train(data, config)`  -> TrainResult: the fitted model, test metrics for the model and
                            its baseline under the same keys, split description, plots
- the fitted model is an `mlflow.pyfunc.PythonModel` whose `predict(context, df)` takes
  rows in the source schema and returns a DataFrame; `required_columns` names the inputs.
MLflow logging and registration live in ml/registry, not in the models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import mlflow.pyfunc
import pandas as pd
from pydantic import BaseModel, ConfigDict


class ModelConfig(BaseModel):
    """Base of the per-model training configs: typed, immutable, and a typo is an error.

    A subclass declares every knob as a field whose default is the full configuration, and
    `FAST` the overrides of the quick variant (`fast()`: smoke runs, CI, `--fast`).
    `resolve` is the one way a config reaches `train`, from the CLI, the DAG params or code.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    FAST: ClassVar[dict[str, Any]] = {}

    @classmethod
    def fast(cls, **overrides: Any) -> Self:
        """The quick variant: the full config with `FAST` (then `overrides`) applied."""
        return cls(**{**cls.FAST, **overrides})

    @classmethod
    def resolve(cls, config: ModelConfig | Mapping[str, Any] | None = None, fast: bool = False) -> Self:
        """An instance as is; else overrides (a mapping, `"fast": true` picks the quick variant) on the defaults."""
        if isinstance(config, cls):
            return config
        if isinstance(config, ModelConfig):
            raise TypeError(f"{type(config).__name__} given where {cls.__name__} is expected")
        overrides = dict(config or {})
        fast = bool(overrides.pop("fast", fast))
        return cls.fast(**overrides) if fast else cls(**overrides)

    @property
    def variant(self) -> str:
        """"full" (the defaults), "fast" (the quick variant) or "custom" (anything else)."""
        if self == type(self)():
            return "full"
        return "fast" if self == type(self).fast() else "custom"

    def params(self) -> dict[str, Any]:
        """Flat `config.<field>` values for MLflow params (plus the variant)."""
        return {"config.variant": self.variant, **{f"config.{k}": v for k, v in self.model_dump().items()}}


@dataclass
class TrainingData:
    """What `ModelSpec.load` returns: the training rows, side tables by name, and where they came from."""

    frame: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    dataset: str | None = None  # the lake view `frame` was read from (real or synthetic twin)

    @classmethod
    def of(cls, data: TrainingData | pd.DataFrame) -> TrainingData:
        """Accept a bare frame too (tests, notebooks): no side tables."""
        if isinstance(data, TrainingData):
            return data
        return cls(frame=data, dataset=data.attrs.get("dataset"))

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)


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
    config: ModelConfig | None = None  # the resolved config that produced this result (logged as params)

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


# Metrics without an explicit direction in their spec: these name prefixes mean lower is better.
LOWER_IS_BETTER_PREFIXES = ("rmse", "mae", "mse", "loss", "interval_width")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    load: Callable[..., TrainingData]  # (con) -> TrainingData
    train: Callable[..., TrainResult]  # (data: TrainingData | DataFrame, config) -> TrainResult
    key_metrics: tuple[str, ...]  # shown in `musicml train` tables, checked by gates
    datasets: tuple[str, ...] = ()  # lake datasets it reads (lineage)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    # score(model, eval_frame) -> metrics: re-scores any version on a frozen evaluation set (gates)
    score: Callable[..., dict[str, float]] | None = None
    config: type[ModelConfig] = ModelConfig  # the typed training config of this model

    @property
    def registered_name(self) -> str:
        return f"music-{self.name.replace('_', '-')}"

    def lower_is_better(self, metric: str) -> bool:
        """The one place that says which way a metric points (gates, evaluate step, tables)."""
        if metric in self.higher_is_better:
            return not self.higher_is_better[metric]
        return metric.startswith(LOWER_IS_BETTER_PREFIXES)

    def better(self, metric: str, value: float | None, other: float | None) -> bool:
        """`value` strictly better than `other` on `metric` (False when either is missing)."""
        if value is None or other is None:
            return False
        return value < other if self.lower_is_better(metric) else value > other
