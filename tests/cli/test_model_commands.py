"""`musicml config` / `train` argument handling; the commands are importable functions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ml.cli import app
from ml.cli import models as model_commands

runner = CliRunner()


def test_commands_are_module_level_functions():
    for name in ("train", "predict", "quality", "config"):
        assert callable(getattr(model_commands, name))
    assert model_commands.parse_overrides(["seed=7", "leaf_grid=[3, 5]", "max_rows=null"]) == {
        "seed": 7, "leaf_grid": [3, 5], "max_rows": None}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        model_commands.parse_overrides(["seed"])


def test_config_prints_the_validated_config():
    r = runner.invoke(app, ["config", "mood", "--fast", "--set", "seed=7"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["variant"] == "custom" and doc["config"]["seed"] == 7 and doc["config"]["n_trees"] == 60


def test_a_misspelt_override_fails_before_any_training():
    r = runner.invoke(app, ["train", "mood", "genre", "--fast", "--set", "seeed=7"])
    assert r.exit_code == 2
    assert "seeed" in r.output and "training" not in r.output
    r = runner.invoke(app, ["train", "nope"])
    assert r.exit_code == 2 and "unknown model" in r.output
