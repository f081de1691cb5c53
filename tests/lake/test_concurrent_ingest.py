"""One writer per dataset snapshot: two real ingest processes forced to overlap.

Before the lock, two runs could interleave and leave one run's manifest over the other's
data, both exiting 0. Now the second waits for the first (or, told not to wait, fails
with a message naming the holder) and the snapshot ends as exactly one run's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import boto3
import pytest
from lake_helpers import assert_no_orphans, assert_whole, charts_csv, start_child, unique_bucket

from ml.lake.storage import Lake
from ml.settings import Settings

pytestmark = pytest.mark.slow
DS, SNAP = "spotify_charts", "2024-04"


def _wait_for(path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def _events(path) -> list[tuple[str, int, float]]:
    return [(n, int(p), float(t)) for n, p, t in (line.split() for line in path.read_text().splitlines())]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_second_ingest_waits_and_runs_do_not_interleave(backend, tmp_path, monkeypatch, request):
    if backend == "s3":
        server = request.getfixturevalue("s3_server")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("MUSICML_S3_ENDPOINT_URL", server)
        lake_uri = f"s3://{unique_bucket(boto3.client('s3', endpoint_url=server, region_name='us-east-1'))}/lake"
    else:
        lake_uri = str(tmp_path / "lake")
    events = tmp_path / "events.log"
    env = {"EVENTS": str(events), "HOLD_S": "3", "MUSICML_LAKE_LOCK_WAIT_S": "60", "MUSICML_LAKE_LEASE_TTL_S": "3"}
    a = start_child("hold", charts_csv(tmp_path / "a.csv", 1), SNAP, lake_uri, env)
    _wait_for(events, "write-start")  # A holds the snapshot (and, on S3, renews its 3 s lease)
    b = start_child("none", charts_csv(tmp_path / "b.csv", 2), SNAP, lake_uri, env)
    out_a, out_b = a.communicate(timeout=120), b.communicate(timeout=120)
    assert a.returncode == 0 and b.returncode == 0, (out_a[1][-1500:], out_b[1][-1500:])

    log = _events(events)
    starts = [t for n, p, t in log if n == "write-start"]
    commits = {p: t for n, p, t in log if n == "committed"}
    assert len(starts) == 2 and len(commits) == 2
    # exactly one writer at a time: B started writing only after A committed
    first_commit = commits[a.pid]
    assert max(starts) > first_commit and commits[b.pid] > first_commit

    s = Settings()
    lake = Lake.from_uri(lake_uri, s)
    m = assert_whole(lake, DS, SNAP)
    assert m.run_id == out_b[0].strip().split(":")[1]  # the snapshot is B's data with B's own manifest
    assert m.rows_in == 301
    assert_no_orphans(lake, DS, SNAP)


def test_second_ingest_that_may_not_wait_fails_clearly(tmp_path):
    lake_uri = str(tmp_path / "lake")
    events = tmp_path / "events.log"
    a = start_child("hold", charts_csv(tmp_path / "a.csv", 1), SNAP, lake_uri,
                    {"EVENTS": str(events), "HOLD_S": "4"})
    _wait_for(events, "write-start")
    t0 = time.monotonic()
    b = subprocess.run([sys.executable, "-m", "ml.cli", "ingest", "spotify-charts", str(charts_csv(tmp_path / "b.csv", 2)),
                        "--snapshot", SNAP, "--lake", lake_uri, "-q"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MUSICML_LAKE_LOCK_WAIT_S": "0.5"})
    assert b.returncode == 1, b.stderr
    assert "is being written by run" in b.stderr and f"pid {a.pid}" in b.stderr and "Traceback" not in b.stderr
    assert time.monotonic() - t0 < 30
    assert a.wait(timeout=60) == 0
    m = assert_whole(Lake.from_uri(lake_uri), DS, SNAP)
    assert m.rows_in == 300  # A's data, untouched by the refused run
