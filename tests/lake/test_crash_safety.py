"""Crash safety of the lake commit, locally and on S3 (moto server): SIGKILL at every step.

After each kill the snapshot is wholly the old one or wholly the new one, `verify`
passes, a re-run converges, and no orphan survives the next GC. Before this protocol a
kill between the folder swap and the manifest left the manifest disagreeing with the
data, and on S3 the old snapshot could be deleted before the new one was copied.
"""

from __future__ import annotations

import signal

import boto3
import pytest
from lake_helpers import assert_no_orphans, assert_whole, charts_csv, run_child, stored_files, unique_bucket

from ml.lake import catalog
from ml.lake.storage import Lake
from ml.pipeline import ingest_source
from ml.settings import Settings

pytestmark = pytest.mark.slow

STEPS_BEFORE_COMMIT = ["during-write", "after-write", "after-supersede"]
STEPS_AFTER_COMMIT = ["after-commit", "during-gc"]
DS, SNAP = "spotify_charts", "2024-03"


@pytest.fixture(params=["local", "s3"])
def lake_uri(request, tmp_path, monkeypatch):
    if request.param == "local":
        return str(tmp_path / "lake")
    server = request.getfixturevalue("s3_server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MUSICML_S3_ENDPOINT_URL", server)
    from ml.settings import get_settings

    get_settings.cache_clear()
    bucket = unique_bucket(boto3.client("s3", endpoint_url=server, region_name="us-east-1"))
    return f"s3://{bucket}/lake"


@pytest.mark.parametrize("step", STEPS_BEFORE_COMMIT + STEPS_AFTER_COMMIT)
def test_sigkill_at_each_commit_step_leaves_old_or_new(step, lake_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICML_LAKE_GC_GRACE_S", "0")  # GC deletes the replaced files at once
    v1, v2 = charts_csv(tmp_path / "v1.csv", 1), charts_csv(tmp_path / "v2.csv", 2)
    old = ingest_source("spotify-charts", v1, SNAP, lake_uri).manifests[0]
    lake = Lake.from_uri(lake_uri, Settings())

    child = run_child(step, v2, SNAP, lake_uri)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]

    now = assert_whole(lake, DS, SNAP)
    if step in STEPS_BEFORE_COMMIT:
        assert now.to_dict() == old.to_dict()  # wholly the old snapshot
    else:
        assert now.run_id != old.run_id and now.rows_in == 301 and now.rows_quarantined == 1  # wholly the new
    if step == "during-write":
        assert stored_files(lake) - {f.path for f in old.all_files}, "the kill should leave an orphan to collect"

    again = ingest_source("spotify-charts", v2, SNAP, lake_uri).manifests[0]  # a re-run converges
    final = assert_whole(lake, DS, SNAP)
    assert final.run_id == again.run_id and final.rows_in == 301
    assert_no_orphans(lake, DS, SNAP)


def test_readers_of_the_replaced_snapshot_keep_working_for_the_grace_period(tmp_path):
    lake_uri = str(tmp_path / "lake")
    v1, v2 = charts_csv(tmp_path / "v1.csv", 1), charts_csv(tmp_path / "v2.csv", 2)
    ingest_source("spotify-charts", v1, SNAP, lake_uri)
    lake = Lake.from_uri(lake_uri)
    con = catalog.connect(lake)  # a reader that resolved the old manifest
    ingest_source("spotify-charts", v2, SNAP, lake_uri)  # commit + GC with the default grace (1 h)
    assert con.execute(f"SELECT count(*) FROM {DS}").fetchone()[0] == 300
    con.close()
    from ml.lake.commit import collect_garbage

    kept = collect_garbage(lake)  # still inside the grace period: nothing of the old run goes
    assert kept.pending > 0 and not kept.deleted
    gone = collect_garbage(lake, grace_s=0)
    assert gone.deleted and stored_files(lake) == {f.path for f in catalog.latest(lake, DS).all_files}
