"""The lake on S3, end to end, against a real S3-compatible HTTP server (moto server mode)."""

from __future__ import annotations

import json

import boto3
import pytest

from ml.lake import catalog
from ml.lake.ingest import ingest
from ml.lake.storage import Lake
from ml.settings import Settings, get_settings
from ml.sources import load_source


@pytest.fixture
def s3_lake(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MUSICML_S3_ENDPOINT_URL", s3_server)
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.create_bucket(Bucket="music-lake")
    yield s3, Lake.from_uri("s3://music-lake/prod", Settings())
    for obj in s3.list_objects_v2(Bucket="music-lake").get("Contents", []):
        s3.delete_object(Bucket="music-lake", Key=obj["Key"])
    s3.delete_bucket(Bucket="music-lake")


def test_ingest_query_and_reingest_on_s3(shared_data, s3_lake):
    s3, lake = s3_lake
    (ds,) = load_source("spotify-2023", None, get_settings())
    m = ingest(ds, lake, "2024-06")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="music-lake")["Contents"])
    run = f"run={m.run_id}"
    assert "prod/_manifests/spotify_2023/2024-06.json" in keys
    assert f"prod/spotify_2023/snapshot=2024-06/{run}/part-00000.parquet" in keys
    assert f"prod/_quarantine/spotify_2023/snapshot=2024-06/{run}/part-00000.parquet" in keys
    assert not [k for k in keys if "_staging" in k or "_locks" in k]  # lease released

    body = s3.get_object(Bucket="music-lake", Key="prod/_manifests/spotify_2023/2024-06.json")["Body"].read()
    doc = json.loads(body)
    assert doc["rows_in"] == 953 and doc["rows_quarantined"] == 1
    import hashlib

    obj = s3.get_object(Bucket="music-lake", Key="prod/" + doc["files"][0]["path"])["Body"].read()
    assert hashlib.sha256(obj).hexdigest() == doc["files"][0]["sha256"]

    con = catalog.connect(lake)
    assert con.execute("SELECT count(*) FROM spotify_2023").fetchone()[0] == 952
    assert con.execute("SELECT count(*) FROM quarantine_spotify_2023").fetchone()[0] == 1

    from ml.lake.commit import collect_garbage

    again = ingest(ds, lake, "2024-06")
    assert [f.sha256 for f in again.files] == [f.sha256 for f in m.files]
    assert again.fingerprint == m.fingerprint
    collect_garbage(lake, grace_s=0)
    objects = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="music-lake")["Contents"])
    data = [k for k in objects if not k.startswith(("prod/_manifests", "prod/_superseded"))]
    assert data == sorted("prod/" + f.path for f in [*again.files, *again.quarantine_files])


def test_s3_lake_via_cli(shared_data, s3_lake):
    from typer.testing import CliRunner

    from ml.cli import app

    result = CliRunner().invoke(app, ["ingest", "gtzan-features", "--lake", "s3://music-lake/cli", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_accepted"] == 1000
    ls = CliRunner().invoke(app, ["lake", "ls", "--lake", "s3://music-lake/cli"])
    assert "gtzan_features" in ls.stdout
