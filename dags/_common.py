"""Defaults shared by the music DAGs (owner, retries with backoff, timeouts, tags)."""

from __future__ import annotations

from datetime import timedelta

import pendulum

START = pendulum.datetime(2024, 1, 1, tz="UTC")

DEFAULT_ARGS = {
    "owner": "ml-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=30),
}


def lake_asset_name(source: str) -> str:
    return f"musicml-lake-{source}"
