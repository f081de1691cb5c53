"""One served world per test session: seeded synthetic lake -> fast models -> champions -> BentoML store.

Built once (~2 min on 2 cores) by ml.serving.fixtures.make_world and shared by every serving test;
the in-process app (TestClient over the service's ASGI app) and the real `bentoml serve` tests both
load the models from that store.
"""

from __future__ import annotations

import json
import os

import pytest

ADMIN_TOKEN = "test-admin-token-0123"


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    from ml.serving.config import serving_settings
    from ml.serving.fixtures import make_world, world_env
    from ml.settings import get_settings

    root = tmp_path_factory.mktemp("served_world")
    saved = dict(os.environ)
    summary = make_world(root)
    env = {**world_env(root), "PROMETHEUS_MULTIPROC_DIR": str(root / "prometheus"),
           "MUSICML_PREDICTION_LOG_DIR": str(root / "prediction_log"), "MUSICML_ADMIN_TOKEN": ADMIN_TOKEN,
           "MUSICML_LOG_FLUSH_SECONDS": "0.2"}
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    os.environ.update(env)
    get_settings.cache_clear()
    serving_settings.cache_clear()
    yield {"root": root, "env": env, **summary}
    os.environ.clear()
    os.environ.update(saved)
    serving_settings.cache_clear()


@pytest.fixture(autouse=True)
def _world_env(request, monkeypatch):
    """Keep the world's env (MLflow, store, manifest) over the per-test isolation of tests/conftest.py."""
    if "world" in request.fixturenames:
        for k, v in request.getfixturevalue("world")["env"].items():
            monkeypatch.setenv(k, v)
        from ml.serving.config import serving_settings
        from ml.settings import get_settings

        get_settings.cache_clear()
        serving_settings.cache_clear()


@pytest.fixture(scope="session")
def tracks(world) -> list[dict]:
    """Real rows of the Spotify Tracks sample (../shared/data), as a client would post them."""
    import pandas as pd

    from tests.conftest import shared_data_dir

    path = shared_data_dir() / "spotify_tracks" / "dataset_sample_10k.csv"
    if not path.exists():  # the served world's own synthetic rows (CI always has the real sample)
        import glob

        import duckdb

        f = glob.glob(str(world["root"] / "lake" / "synthetic_spotify_tracks" / "**" / "*.parquet"), recursive=True)[0]
        df = duckdb.sql(f"SELECT * FROM '{f}' LIMIT 40").df()
    else:
        df = pd.read_csv(path, nrows=60).drop(columns=["Unnamed: 0"], errors="ignore")
    df = df.dropna(subset=["artists", "track_name"])
    return json.loads(df.head(40).to_json(orient="records"))


@pytest.fixture(scope="session")
def app_client(world):
    """The service's ASGI app in process (lifespan runs: models load, log writers start)."""
    from starlette.testclient import TestClient

    from bentos.service import MusicAPI

    with TestClient(MusicAPI.to_asgi()) as client:
        yield client
