"""The promotion gates' rules, typed: config/gates.yaml validated on load.

A misspelt key (`beat_basline`, `max_regresion`, a model name that does not exist) is an
error naming the key and the file, never a check that silently disappears. `for_model`
merges a model's section over `defaults` (the sanity budgets key by key) and, given the
model's spec, rejects rules that point the wrong way (a floor on a lower-is-better metric).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ml.settings import REPO_ROOT

GATES_FILE = REPO_ROOT / "config" / "gates.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SanityGates(_Strict):
    """Budgets every version must meet, whatever its metrics."""

    max_model_mb: float = Field(300.0, gt=0)
    max_latency_ms: float = Field(100.0, gt=0)  # warm single-row predict, median of 20
    min_distinct_predictions: int = Field(2, ge=1)  # in the most varied output column


class ModelGates(_Strict):
    """The checks of one model (or the defaults every model starts from)."""

    min: dict[str, float] = {}  # absolute floors (higher-is-better metrics)
    max: dict[str, float] = {}  # absolute ceilings (lower-is-better metrics)
    beat_baseline: tuple[str, ...] = ()  # must be better than the baseline on the same rows
    compare: tuple[str, ...] = ()  # vs the champion on the frozen evaluation set
    max_regression: float = Field(0.02, ge=0)  # absolute margin for `compare`
    sanity: SanityGates = SanityGates()


class GateConfig(_Strict):
    defaults: ModelGates = ModelGates()
    models: dict[str, ModelGates] = {}

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: dict[str, ModelGates]) -> dict[str, ModelGates]:
        from ml.models import MODEL_NAMES

        unknown = sorted(set(models) - set(MODEL_NAMES))
        if unknown:
            raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(MODEL_NAMES)}")
        return models

    @classmethod
    def load(cls, path: Path | str = GATES_FILE) -> GateConfig:
        path = Path(path)
        raw = yaml.safe_load(path.read_text()) or {}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{path}: {problems}") from None

    def for_model(self, model: str, spec=None) -> ModelGates:
        """The model's section over the defaults; with its `ModelSpec`, directions are checked too."""
        override = self.models.get(model)
        gates = self.defaults
        if override is not None:
            merged = {**self.defaults.model_dump(), **override.model_dump(exclude_unset=True)}
            if "sanity" in override.model_fields_set:
                merged["sanity"] = {**self.defaults.sanity.model_dump(), **override.sanity.model_dump(exclude_unset=True)}
            gates = ModelGates.model_validate(merged)
        if spec is not None:
            wrong = [f"min {k} (lower is better: use max)" for k in gates.min if spec.lower_is_better(k)]
            wrong += [f"max {k} (higher is better: use min)" for k in gates.max if not spec.lower_is_better(k)]
            if wrong:
                raise ValueError(f"gates for {model}: {'; '.join(wrong)}")
        return gates


def load_gates(path: Path | str = GATES_FILE) -> GateConfig:
    return GateConfig.load(path)
