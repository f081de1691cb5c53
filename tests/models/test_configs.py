"""Typed model configs: defaults are the full config, `fast()` the quick one, a typo is an error."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ml.models import MODEL_NAMES, get_spec
from ml.models.base import ModelConfig


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_has_a_typed_config_with_a_fast_variant(name):
    cls = get_spec(name).config
    assert issubclass(cls, ModelConfig) and cls is not ModelConfig
    full, fast = cls(), cls.fast()
    assert full.variant == "full" and fast.variant == "fast" and full != fast
    assert set(cls.FAST) <= set(cls.model_fields), "FAST may only override declared fields"
    assert cls.resolve(None) == full and cls.resolve({"fast": True}) == fast and cls.resolve(fast) is fast
    # JSON-able both ways: what the DAG params and `musicml config` carry
    dumped = json.loads(json.dumps(fast.model_dump(mode="json")))
    assert cls.resolve(dumped) == fast
    params = fast.params()
    assert params["config.variant"] == "fast" and len(params) == len(cls.model_fields) + 1


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_misspelt_key_fails_loudly_naming_it(name):
    cls = get_spec(name).config
    with pytest.raises(ValidationError, match="not_a_knob"):
        cls.resolve({"not_a_knob": 1})
    with pytest.raises(ValidationError, match="not_a_knob"):
        cls.resolve({"fast": True, "not_a_knob": 1})


def test_overrides_are_typed_and_configs_immutable():
    cls = get_spec("genre").config
    cfg = cls.resolve({"fast": True, "seed": "7"})
    assert cfg.seed == 7 and cfg.variant == "custom" and cfg.max_rows == cls.fast().max_rows
    with pytest.raises(ValidationError, match="seed"):
        cls.resolve({"seed": "seven"})
    with pytest.raises(ValidationError):
        cfg.seed = 8
    with pytest.raises(TypeError, match="GenreConfig"):
        cls.resolve(get_spec("mood").config())


def test_streams_fast_variant_is_explicit_not_a_hidden_flag():
    """The spotify-2023 learning rate used to switch on a `fast` flag; it is a knob of its own now."""
    cls = get_spec("streams").config
    assert cls().s23_learning_rate == 0.03 and cls.fast().s23_learning_rate == 0.1
    assert "fast" not in cls.model_fields


def test_train_model_rejects_a_typo_before_reading_the_lake(tmp_path):
    from ml.pipeline import train_model

    with pytest.raises(ValidationError, match="seeed"):
        train_model("mood", lake_uri=str(tmp_path / "empty-lake"), config={"seeed": 1})
