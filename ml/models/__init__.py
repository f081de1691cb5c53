"""Models: one module or package per model, each exposing `SPEC` (see ml/models/base.py)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keep `import ml.models` light: DAG files import it at parse time
    from ml.models.base import ModelSpec

MODEL_NAMES = ("genre", "mood", "popularity", "audio_features", "recommender", "streams")


def get_spec(name: str) -> ModelSpec:
    name = name.replace("-", "_")
    if name not in MODEL_NAMES:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    return importlib.import_module(f"ml.models.{name}").SPEC


def resolve(names: list[str]) -> list[ModelSpec]:
    """`all` or a list of names -> specs, in the canonical order."""
    if not names or "all" in names:
        names = list(MODEL_NAMES)
    return [get_spec(n) for n in names]
