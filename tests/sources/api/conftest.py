"""Fixtures for the API connector tests: the recorded responses, a replay server, fast options.

`shared_data` (tests/conftest.py) locates the shared data folder; the responses are read
from there and never copied into the repo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_replay import FixtureIndex, ReplayServer

from ml.sources.api.http import HttpOptions, RetryPolicy


@pytest.fixture(scope="session")
def fixtures_dir(shared_data: Path) -> Path:
    """The recorded API responses (MANIFEST.md sections 8-10): a skip locally when absent, a failure in CI."""
    path = shared_data / "fixtures"
    missing = [p for p in ("spotify_webapi", "lastfm_ws2_xml", "musicbrainz_ws2_xml") if not (path / p).is_dir()]
    if missing:
        reason = f"recorded API responses missing under {path}: {', '.join(missing)}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def fixture_index(fixtures_dir: Path) -> FixtureIndex:
    return FixtureIndex(fixtures_dir)


@pytest.fixture
def server(fixture_index: FixtureIndex) -> Iterator[ReplayServer]:
    """A fresh replay server per test (empty request log and scripts)."""
    replay = ReplayServer(fixture_index)
    replay.start()
    try:
        yield replay
    finally:
        replay.stop()


@pytest.fixture
def fast() -> HttpOptions:
    """Short timeouts and near-zero backoff so retry tests stay fast."""
    return HttpOptions(
        connect_timeout=1.0,
        read_timeout=2.0,
        retry=RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05, max_retry_after=3.0),
        min_interval=0.0,
    )
