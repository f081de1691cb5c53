"""Every model trains on a slice, registers in a throwaway MLflow, loads back by version and predicts."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.models import MODEL_NAMES, get_spec
from ml.registry.tracking import lineage, load_model, log_run, register_run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", [m for m in MODEL_NAMES if m != "streams"])
def test_train_register_load_predict(name, real_lake, real_con):
    spec = get_spec(name)
    data = spec.load(real_con)
    result = spec.train(data, spec.config.fast())
    assert result.config == spec.config.fast()
    assert set(result.baseline) & set(result.metrics), "baseline must share metric keys with the model"
    assert result.n_train > 0 and result.n_test > 0
    assert result.input_example is not None and len(result.input_example) > 0
    run = register_run(spec, log_run(spec, result, lineage(real_con, real_lake, spec.datasets)))
    assert run.version == "1" and run.registered_name == spec.registered_name

    loaded = load_model(spec.registered_name, version=run.version)
    pred = pd.DataFrame(loaded.predict(result.input_example))
    assert len(pred) > 0
    direct = pd.DataFrame(result.model.predict(None, result.input_example))
    assert list(pred.columns) == list(direct.columns) and len(pred) == len(direct)
