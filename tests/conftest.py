"""Shared fixtures: where the real data lives, throwaway lakes, a local S3 server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def shared_data_dir() -> Path:
    return Path(os.environ.get("MUSICML_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the checkout. Missing in CI is a failure, never a skip."""
    path = shared_data_dir()
    if not (path / "MANIFEST.md").exists():
        if IN_CI:
            pytest.fail(f"real data not found at {path} (set MUSICML_SHARED_DATA)")
        pytest.skip(f"real data not found at {path} (set MUSICML_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """No test reads the developer's .env or writes into the repo's .lake / .mlflow."""
    from ml.settings import get_settings

    work = tmp_path_factory.mktemp("work")
    monkeypatch.setenv("MUSICML_LAKE_URI", str(work / "lake"))
    monkeypatch.setenv("MUSICML_WORK_DIR", str(work))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    monkeypatch.setenv("MUSICML_MLFLOW_ARTIFACT_ROOT", str(work / "mlflow-artifacts"))
    monkeypatch.setenv("MUSICML_SHARED_DATA", str(shared_data_dir()))
    monkeypatch.chdir(work)  # .env in the repo is not picked up
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def lake(tmp_path):
    from ml.lake.storage import Lake

    return Lake.from_uri(str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible HTTP server (moto in server mode) on a free local port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def real_lake(shared_data, tmp_path_factory):
    """A lake with the real datasets ingested once per test session (spotify tracks, 2023, hetrec, gtzan)."""
    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake
    from ml.settings import Settings
    from ml.sources import load_source

    settings = Settings(shared_data_dir=shared_data)
    lake = Lake.from_uri(str(tmp_path_factory.mktemp("real_lake")), settings)
    for source in ("spotify-tracks", "spotify-2023", "lastfm-hetrec", "gtzan-features"):
        for ds in load_source(source, None, settings):
            ingest(ds, lake, "2024-01")
    return lake


@pytest.fixture
def real_con(real_lake):
    """DuckDB connection with views over the real lake."""
    from ml.lake.catalog import connect

    con = connect(real_lake)
    yield con
    con.close()
