"""The commit protocol of a lake snapshot, its garbage collector and its verifier.

A write of (dataset, snapshot) goes through named steps; a crash (even SIGKILL) at any
of them leaves the snapshot wholly old or wholly new:

1. `lock`      one writer per snapshot (file lock / S3 lease); the current manifest is read.
2. `write`     part files land under `run=<id>/`, a folder no manifest names yet: invisible.
3. `supersede` the current manifest's file list is recorded in `_superseded/` (for the GC grace).
4. `commit`    the new manifest replaces the old in one atomic step (rename / conditional PUT).
5. `gc`        files no committed manifest names are deleted: at once when never committed
               (a crashed run's orphans), after the grace period when replaced (readers
               that resolved the old manifest keep working meanwhile).

`verify` re-hashes every file a committed manifest names and compares with its sha256.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ml.lake.manifest import Manifest
from ml.lake.storage import Lake, LakeError, SnapshotLock, new_run_id, scratch_dir

SNAPSHOT_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_MANIFEST_RE = re.compile(r"(\d{4}-\d{2})\.json")
_TMP_MANIFEST_RE = re.compile(r"\.(\d{4}-\d{2})\.json\.tmp-[0-9a-f]+")


@dataclass
class SnapshotWrite:
    """One run's write of one (dataset, snapshot): where its files go and what it replaces."""

    lake: Lake
    dataset: str
    snapshot: str
    run: str
    lock: SnapshotLock
    scratch: Path
    base: Manifest | None = None  # the committed manifest this run replaces
    base_etag: str | None = None
    published: list[str] = field(default_factory=list)
    committed: bool = False

    def data_dir(self, quarantine: bool = False) -> str:
        return self.lake.run_dir(self.dataset, self.snapshot, self.run, quarantine)

    def discard(self) -> None:
        """After a failure: delete this run's files (one quick try; `lake gc` finishes the job)."""
        if not self.committed:
            with contextlib.suppress(Exception):
                self.lake.delete(self.published, fast=True)


@contextlib.contextmanager
def open_snapshot(lake: Lake, dataset: str, snapshot: str) -> Iterator[SnapshotWrite]:
    """Step 1 (`lock`): hold the snapshot for one run; on failure its files are discarded."""
    run = new_run_id()
    with lake.lock(dataset, snapshot, run) as held, scratch_dir(lake) as scratch:
        w = SnapshotWrite(lake, dataset, snapshot, run, held, scratch)
        current = lake.read_bytes(lake.manifest_path(dataset, snapshot))
        if current is not None:
            w.base_etag = current[1]
            with contextlib.suppress(ValueError, TypeError, KeyError):
                w.base = Manifest.from_dict(json.loads(current[0]))
        try:
            yield w
        except BaseException:
            w.discard()
            raise


def record_superseded(w: SnapshotWrite) -> None:
    """Step 3 (`supersede`): the replaced manifest's files wait out the GC grace period."""
    if w.base is None:
        return
    doc = {"superseded_at": datetime.now(UTC).isoformat(timespec="seconds"), "by_run": w.run,
           "run": w.base.run_id, "files": [f.path for f in w.base.all_files]}
    name = w.base.run_id or f"legacy-{(w.base_etag or 'x').strip(chr(34))[:16]}"
    w.lake.write_bytes(f"{w.lake.superseded_dir(w.dataset, w.snapshot)}/{name}.json", json.dumps(doc).encode())


def commit_manifest(w: SnapshotWrite, manifest: Manifest) -> None:
    """Step 4 (`commit`): the single atomic commit point of the snapshot."""
    manifest.check()
    w.lock.check()
    record_superseded(w)
    data = (json.dumps(manifest.to_dict(), indent=2) + "\n").encode()
    w.lake.commit_bytes(w.lake.manifest_path(w.dataset, w.snapshot), data, expect=w.base_etag)
    w.committed = True


# ---------------------------------------------------------------------------- garbage collection


@dataclass
class GcReport:
    deleted: list[str] = field(default_factory=list)  # lake-relative paths
    bytes_freed: int = 0
    pending: int = 0  # replaced files still inside the grace period
    aborted_uploads: int = 0
    busy: list[str] = field(default_factory=list)  # snapshots skipped: a writer holds them

    def merge(self, other: GcReport) -> None:
        self.deleted += other.deleted
        self.bytes_freed += other.bytes_freed
        self.pending += other.pending
        self.aborted_uploads += other.aborted_uploads
        self.busy += other.busy


def _group_of(rel: str) -> tuple[str, str] | None:
    """(dataset, snapshot) a lake file belongs to, or None for files GC must leave alone."""
    parts = rel.split("/")
    if len(parts) < 3:
        return None
    top = parts[0]
    if top == "_manifests":
        m = _MANIFEST_RE.fullmatch(parts[2]) or _TMP_MANIFEST_RE.fullmatch(parts[2])
        return (parts[1], m.group(1)) if m and len(parts) == 3 else None
    if top == "_superseded":
        return (parts[1], parts[2])
    if top == "_quarantine" and len(parts) >= 4 and parts[2].startswith("snapshot="):
        return (parts[1], parts[2][len("snapshot="):].split(".old-")[0])
    if top.startswith(("_", ".")):
        return None
    if parts[1].startswith("snapshot="):
        return (top, parts[1][len("snapshot="):].split(".old-")[0])
    return None


def _age_s(iso: str, now: float) -> float:
    try:
        return now - datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return float("inf")


def _collect_group(lake: Lake, dataset: str, snapshot: str, grace_s: float, now: float) -> GcReport:
    """GC of one snapshot; the caller holds its lock, so no writer is mid-run here."""
    report = GcReport()
    keep: set[str] = set()
    current = lake.read_bytes(lake.manifest_path(dataset, snapshot))
    if current is not None:
        m = Manifest.from_dict(json.loads(current[0]))
        keep |= {lake.path(f.path) for f in m.all_files}
    drop: list[str] = []
    for rec in lake.list(lake.superseded_dir(dataset, snapshot)):
        got = lake.read_bytes(rec.path)
        try:
            doc = json.loads(got[0]) if got else {}
        except ValueError:
            doc = {}
        if _age_s(doc.get("superseded_at", ""), now) <= grace_s:
            files = {lake.path(p) for p in doc.get("files", [])}
            report.pending += len(files - keep)
            keep |= files
        else:
            drop.append(rec.path)
    candidates = [
        e for prefix in (lake.path(dataset), lake.path("_quarantine", dataset), lake.path("_manifests", dataset))
        for e in lake.list(prefix) if _group_of(lake.rel(e.path)) == (dataset, snapshot)
    ]
    for e in candidates:
        if lake.rel(e.path).startswith("_manifests/"):
            if _TMP_MANIFEST_RE.fullmatch(e.path.rsplit("/", 1)[1]):
                drop.append(e.path)  # a manifest write that never got renamed
            continue
        if e.path not in keep:
            drop.append(e.path)
            report.bytes_freed += e.size
    _delete_step(lake, drop)
    report.deleted += [lake.rel(p) for p in drop]
    for prefix in (lake.snapshot_dir(dataset, snapshot), lake.quarantine_dir(dataset, snapshot)):
        for path, upload_id, _ in lake.uploads(prefix):
            lake.abort_upload(path, upload_id)
            report.aborted_uploads += 1
    return report


def _delete_step(lake: Lake, paths: list[str]) -> None:
    """GC's deletions, in batches (a crash between two leaves only fewer orphans)."""
    for i in range(0, len(paths), 500):
        lake.delete(paths[i : i + 500])


def collect_garbage(lake: Lake, grace_s: float | None = None, dataset: str | None = None,
                    snapshot: str | None = None, held: bool = False) -> GcReport:
    """Step 5 (`gc`): delete what no committed manifest needs. Busy snapshots are skipped.

    `held`: the caller already holds (dataset, snapshot)'s lock (GC right after an ingest).
    """
    grace_s = lake.cfg.lake_gc_grace_s if grace_s is None else grace_s
    now = time.time()
    report = GcReport()
    if held:
        assert dataset and snapshot
        return _collect_group(lake, dataset, snapshot, grace_s, now)
    groups: set[tuple[str, str]] = set()
    for prefix in ([lake.path(dataset), lake.path("_quarantine", dataset), lake.path("_manifests", dataset),
                    lake.path("_superseded", dataset)] if dataset else [lake.root]):
        for e in lake.list(prefix):
            rel = lake.rel(e.path)
            g = _group_of(rel)
            if g and (snapshot is None or g[1] == snapshot) and (dataset is None or g[0] == dataset):
                groups.add(g)
            elif rel.startswith("_staging/") and now - e.mtime > grace_s:  # left by the old protocol
                lake.delete([e.path])
                report.deleted.append(rel)
                report.bytes_freed += e.size
    run = new_run_id()
    for ds, snap in sorted(groups):
        with lake.try_lock(ds, snap, f"gc-{run}") as held_lock:
            if held_lock is None:
                report.busy.append(f"{ds}/{snap}")
                continue
            report.merge(_collect_group(lake, ds, snap, grace_s, now))
    # uploads under no snapshot folder we know (or from an old protocol): abort once stale
    if not dataset:
        for path, upload_id, started in lake.uploads(lake.root):
            if now - started > grace_s and _group_of(lake.rel(path)) is None:
                lake.abort_upload(path, upload_id)
                report.aborted_uploads += 1
    return report


# ---------------------------------------------------------------------------- verification


@dataclass
class Problem:
    dataset: str
    snapshot: str
    path: str
    what: str

    def __str__(self) -> str:
        return f"{self.dataset} {self.snapshot}: {self.path}: {self.what}"


@dataclass
class VerifyReport:
    snapshots: int = 0
    files: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(lake: Lake, dataset: str | None = None, snapshot: str | None = None) -> VerifyReport:
    """Re-hash every file that committed manifests name; report missing or changed files."""
    from ml.lake.catalog import manifests

    report = VerifyReport()
    sizes = {}
    found = [m for m in manifests(lake, dataset) if snapshot is None or m.snapshot == snapshot]
    if dataset and not found:
        raise LookupError(f"dataset {dataset!r}{' snapshot ' + snapshot if snapshot else ''} is not in the lake "
                          f"at {lake.uri}")
    for m in found:
        report.snapshots += 1
        try:
            m.check()
        except AssertionError as exc:
            report.problems.append(Problem(m.dataset, m.snapshot, "manifest", str(exc)))
        prefixes = {lake.path(f.path).rsplit("/", 1)[0] for f in m.all_files}
        for prefix in prefixes:
            if prefix not in sizes:
                sizes[prefix] = {e.path: e.size for e in lake.list(prefix)}
        for f in m.all_files:
            full = lake.path(f.path)
            report.files += 1
            size = sizes.get(full.rsplit("/", 1)[0], {}).get(full)
            if size is None:
                report.problems.append(Problem(m.dataset, m.snapshot, f.path, "missing"))
                continue
            report.bytes += size
            try:
                digest = lake.sha256(full)
            except (OSError, LakeError) as exc:
                report.problems.append(Problem(m.dataset, m.snapshot, f.path, f"unreadable: {exc}"))
                continue
            if digest != f.sha256:
                report.problems.append(Problem(m.dataset, m.snapshot, f.path,
                                               f"sha256 {digest[:12]}… differs from the manifest's {f.sha256[:12]}…"))
    return report
