"""Shared by the crash-safety tests: small chart CSVs, child ingests, lake state checks."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from ml.lake import catalog
from ml.lake.commit import collect_garbage, verify

HEADER = "title,rank,date,artist,url,region,chart,trend,streams\n"
CRASH = Path(__file__).with_name("crash_ingest.py")


def charts_csv(path: Path, version: int, rows: int = 300) -> Path:
    """Charts over two years; `version` changes streams and adds a quarantined row from v2 on."""
    lines = [HEADER]
    for i in range(rows):
        year = 2020 + i % 2
        lines.append(f"Song {i},{1 + i % 200},{year}-0{1 + i % 9}-1{i % 9},Artist {i % 7},"
                     f"https://open.spotify.com/track/t{i:05d},Global,top200,SAME_POSITION,{1000 * version + i}\n")
    if version >= 2:
        lines.append("Broken,1.5,2021-01-01,A,https://open.spotify.com/track/x,Global,top200,SAME_POSITION,5\n")
    path.write_text("".join(lines))
    return path


def run_child(step: str, csv: Path, snapshot: str, lake_uri: str, env: dict | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CRASH), step, "spotify-charts", str(csv), snapshot, lake_uri],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def start_child(step: str, csv: Path, snapshot: str, lake_uri: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CRASH), step, "spotify-charts", str(csv), snapshot, lake_uri],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def stored_files(lake) -> set[str]:
    """Every data and quarantine file in the lake (lake-relative)."""
    out = set()
    for e in lake.list(lake.root):
        rel = lake.rel(e.path)
        if not rel.startswith(("_manifests/", "_superseded/", "_locks/")):
            out.add(rel)
    return out


def assert_whole(lake, dataset: str, snapshot: str):
    """The snapshot is one committed manifest whose files all verify and whose rows read back."""
    m = catalog.latest(lake, dataset, snapshot)
    report = verify(lake, dataset, snapshot)
    assert report.ok, [str(p) for p in report.problems]
    con = catalog.connect(lake)
    try:
        n = con.execute(f'SELECT count(*) FROM "{dataset}"').fetchone()[0]
    finally:
        con.close()
    assert n == m.rows_accepted
    return m


def assert_no_orphans(lake, dataset: str, snapshot: str) -> None:
    """After GC (no grace) only the committed manifest's files remain; no S3 upload is left."""
    collect_garbage(lake, grace_s=0)
    m = catalog.latest(lake, dataset, snapshot)
    assert stored_files(lake) == {f.path for f in m.all_files}
    assert not [e for e in lake.list(lake.root) if ".tmp-" in e.path]
    assert lake.uploads(lake.root) == []


def unique_bucket(s3) -> str:
    name = f"lake-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name
