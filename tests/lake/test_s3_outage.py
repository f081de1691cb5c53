"""S3 outage mid-ingest: the S3 server (moto, its own process) killed, or paused with SIGSTOP.

Before: the ingest hung forever (stuck in pyarrow's S3 stream destructor during error
handling; a paused server had no client timeout) and left multipart uploads behind.
Now it exits 1 within the bound the S3 settings state, with one clear line; the
previous snapshot stays whole, and `lake gc` aborts the upload the paused server
accepted after the client had given up.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import string
import subprocess
import sys
import time

import boto3
import httpx
import pytest
from lake_helpers import HEADER, assert_whole, charts_csv, start_child

from ml.lake.storage import Lake
from ml.pipeline import ingest_source
from ml.settings import Settings, get_settings

pytestmark = pytest.mark.slow
DS, SNAP = "spotify_charts", "2024-05"
# Bounded waits for the test (defaults are 5 s / 20 s / 3 tries): the bound below follows them.
FAST = {"MUSICML_S3_CONNECT_TIMEOUT_S": "1", "MUSICML_S3_READ_TIMEOUT_S": "2", "MUSICML_S3_MAX_ATTEMPTS": "2",
        "MUSICML_S3_MULTIPART_MB": "5"}


def failure_bound_s(env: dict) -> float:
    """attempts x (connect + read) + standard-mode backoff (<= 2^attempts) + process start/exit."""
    attempts = int(env["MUSICML_S3_MAX_ATTEMPTS"])
    per_try = float(env["MUSICML_S3_CONNECT_TIMEOUT_S"]) + float(env["MUSICML_S3_READ_TIMEOUT_S"])
    return attempts * per_try + 2 ** attempts + 10


@pytest.fixture
def moto(tmp_path, monkeypatch):
    """moto in server mode as its own process (so it can be killed or paused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                             "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "MUSICML_S3_ENDPOINT_URL": url, **FAST}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket="outage")
    yield proc, s3
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


def _big_charts(path, rows: int = 100_000):
    """Poorly compressible titles: the part file exceeds the 5 MB multipart threshold."""
    rnd = random.Random(7)
    with open(path, "w") as f:
        f.write(HEADER)
        for i in range(rows):
            title = "".join(rnd.choices(string.ascii_letters, k=90))
            f.write(f"{title},{1 + i % 200},2021-02-0{1 + i % 9},A,https://open.spotify.com/track/t{i},Global,top200,"
                    f"SAME_POSITION,{i}\n")
    return path


def _run_through_outage(moto, tmp_path, outage: signal.Signals):
    proc, s3 = moto
    lake_uri = "s3://outage/lake"
    old = ingest_source("spotify-charts", charts_csv(tmp_path / "v1.csv", 1), SNAP, lake_uri).manifests[0]
    events = tmp_path / "events.log"
    child = start_child("hold", _big_charts(tmp_path / "big.csv"), SNAP, lake_uri,
                        {"EVENTS": str(events), "HOLD_S": "1.5", "CHILD_CLI": "1"})
    deadline = time.monotonic() + 60
    while not (events.exists() and "write-start" in events.read_text()):
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.05)
    proc.send_signal(outage)  # mid-ingest: the lease is held, nothing uploaded yet
    t0 = time.monotonic()
    out, err = child.communicate(timeout=120)
    elapsed = time.monotonic() - t0
    print(f"{outage.name}: ingest exited {child.returncode} {elapsed:.1f} s after the outage began "
          f"(bound {failure_bound_s(FAST):.0f} s)")
    return old, child.returncode, err, elapsed


def test_s3_server_killed_mid_ingest_fails_within_the_bound(moto, tmp_path):
    _, code, err, elapsed = _run_through_outage(moto, tmp_path, signal.SIGKILL)
    assert code == 1, err
    assert elapsed < failure_bound_s(FAST), elapsed
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err and len(lines) <= 2, err
    assert "S3 at http://127.0.0.1" in err and "did not answer" in err and "MUSICML_S3_ENDPOINT_URL" in err


def test_s3_server_paused_mid_ingest_fails_within_the_bound_and_nothing_is_lost(moto, tmp_path):
    proc, s3 = moto
    old, code, err, elapsed = _run_through_outage(moto, tmp_path, signal.SIGSTOP)
    assert code == 1, err
    assert elapsed < failure_bound_s(FAST), elapsed
    assert "Traceback" not in err and "did not answer" in err, err

    proc.send_signal(signal.SIGCONT)  # the server wakes up and serves what queued meanwhile
    time.sleep(1.0)
    lake = Lake.from_uri("s3://outage/lake", Settings())
    now = assert_whole(lake, DS, SNAP)
    assert now.to_dict() == old.to_dict()  # the previous snapshot is intact
    # an upload the paused server accepted after the client gave up: `lake gc` aborts it
    from typer.testing import CliRunner

    from ml.cli import app

    dangling = s3.list_multipart_uploads(Bucket="outage").get("Uploads", [])
    print(f"multipart uploads left by the outage before gc: {len(dangling)}")
    gc = CliRunner().invoke(app, ["lake", "gc", "--lake", "s3://outage/lake"])
    assert gc.exit_code == 0, gc.output
    assert s3.list_multipart_uploads(Bucket="outage").get("Uploads", []) == []
    again = ingest_source("spotify-charts", tmp_path / "big.csv", SNAP, "s3://outage/lake").manifests[0]
    assert assert_whole(lake, DS, SNAP).run_id == again.run_id
