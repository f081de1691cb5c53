"""Every `musicml` command answers infrastructure failures and bad input with one or two
readable lines (exit 1 / exit 2); `--debug` shows the traceback. Each case below was a
full traceback before the boundary existed."""

from __future__ import annotations

import socket
import time

import boto3
import pytest
from typer.testing import CliRunner

from ml.cli import app
from ml.settings import Settings, get_settings


def run(*args):
    return CliRunner().invoke(app, list(args))


def one_or_two_lines(output: str) -> list[str]:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert 1 <= len(lines) <= 2 and "Traceback" not in output, output
    return lines


def test_lake_path_that_is_a_file(tmp_path):
    f = tmp_path / "lake"
    f.write_text("not a folder")
    r = run("lake", "ls", "--lake", str(f))
    assert r.exit_code == 1
    assert "is a file, not a folder" in one_or_two_lines(r.output)[0]


def test_bad_env_value_names_the_variable_not_its_value(monkeypatch):
    monkeypatch.setenv("MUSICML_S3_READ_TIMEOUT_S", "soon-ish")
    get_settings.cache_clear()
    r = run("lake", "ls")
    assert r.exit_code == 1
    line = one_or_two_lines(r.output)[0]
    assert "S3_READ_TIMEOUT_S" in line and "soon-ish" not in line


def test_missing_s3_bucket(s3_server, monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "MUSICML_S3_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    r = run("lake", "ls", "--lake", "s3://no-such-bucket/lake")
    assert r.exit_code == 1
    assert "bucket 'no-such-bucket' does not exist" in one_or_two_lines(r.output)[0]


def test_unreachable_s3_endpoint_fails_fast(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "MUSICML_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                 "MUSICML_S3_MAX_ATTEMPTS": "2", "MUSICML_S3_CONNECT_TIMEOUT_S": "1"}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    t0 = time.monotonic()
    r = run("lake", "ls", "--lake", "s3://music/lake")
    assert r.exit_code == 1 and time.monotonic() - t0 < 15
    assert "did not answer" in one_or_two_lines(r.output)[0]


def test_bad_input_is_exit_2_and_debug_shows_the_traceback(tmp_path):
    r = run("predict", "no-such-model", "--input", "x.csv", "--output", "y.csv")
    assert r.exit_code == 2
    r = run("lake", "verify", "--dataset", "nothing", "--lake", str(tmp_path / "lake"))
    assert r.exit_code == 2 and "not in the lake" in one_or_two_lines(r.output)[0]
    f = tmp_path / "lake-file"
    f.write_text("")
    dbg = run("lake", "ls", "--lake", str(f), "--debug")
    assert dbg.exit_code == 1 and "Traceback" in dbg.output and "is a file, not a folder" in dbg.output


def test_damaged_lake_file_is_found_by_verify_and_reads_fail_readably(shared_data, tmp_path):
    lake = str(tmp_path / "lake")
    assert run("ingest", "spotify-2023", "--lake", lake, "--snapshot", "2024-01", "-q").exit_code == 0
    assert run("lake", "verify", "--lake", lake).exit_code == 0
    from ml.lake import catalog
    from ml.lake.storage import Lake

    m = catalog.latest(Lake.from_uri(lake), "spotify_2023")
    part = tmp_path / "lake" / m.files[0].path
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    r = run("lake", "verify", "--dataset", "spotify_2023", "--lake", lake)
    assert r.exit_code == 1 and "sha256" in r.output and m.files[0].path in r.output
    part.unlink()
    q = run("lake", "sql", "select count(*) from spotify_2023", "--lake", lake)
    assert q.exit_code in (1, 2) and "Traceback" not in q.output and "error" in q.output


def test_postgres_and_redis_waits_are_bounded():
    """Our URLs and client options carry timeouts: a silent server fails in seconds."""
    import psycopg2
    import redis

    s = Settings(postgres_connect_timeout_s=2, redis_socket_timeout_s=2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(s.with_postgres_timeout(f"postgresql://postgres@127.0.0.1:{port}/postgres"))
        assert time.monotonic() - t0 < 10
        t0 = time.monotonic()
        with pytest.raises((redis.TimeoutError, redis.ConnectionError)):
            s.redis_client(f"redis://127.0.0.1:{port}/0").ping()
        assert time.monotonic() - t0 < 10
    env = __import__("ml.airflow_env", fromlist=["x"]).airflow_env(
        sql_alchemy_conn="postgresql+psycopg2://u@db:5432/airflow")
    assert "connect_timeout=" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SOCKET_TIMEOUT"]
    assert boto3  # the S3 client's waits are covered in tests/lake/test_s3_outage.py
