"""Where the lake lives: a local folder or an S3 prefix, and the primitives its commit protocol needs.

Layout under the lake root:
    <dataset>/snapshot=YYYY-MM/run=<run>/[year=YYYY/]part-00000.parquet   accepted rows of one ingest run
    _quarantine/<dataset>/snapshot=YYYY-MM/run=<run>/part-00000.parquet   rejected rows + reason
    _manifests/<dataset>/YYYY-MM.json                                     the commit record
    _superseded/<dataset>/YYYY-MM/<run>.json                              replaced manifests (GC grace)
    _locks/<dataset>/YYYY-MM.lock | .lease                                one writer per snapshot

Files are never overwritten: every ingest run writes under its own `run=<id>/` folder.
The manifest is the single commit point: a rename on local disk, one conditional PUT on
S3. Readers resolve a snapshot only through its manifest, so a half-written run is
invisible, and the previous snapshot stays whole until the new manifest is in place.
`ml.lake.commit` holds the protocol; this module only the storage primitives.

Every S3 request is bounded (connect/read timeouts, a fixed number of tries); cleanup
after a failure uses a one-try client, so an outage fails in a stated time instead of
hanging. Writes go through boto3 (conditional PUTs, explicit multipart abort); pyarrow's
S3 filesystem is used for reading Parquet only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from ml.settings import Settings, get_settings


class LakeError(RuntimeError):
    """The lake's storage cannot be used: unreachable, missing bucket, a path that is a file..."""


class LakeBusy(LakeError):
    """Another writer holds the snapshot."""


class CommitConflict(LakeError):
    """The snapshot changed under a writer (its lock was lost): nothing was committed."""


@dataclass(frozen=True)
class Entry:
    path: str  # full path inside the lake's filesystem (root included)
    size: int
    mtime: float  # seconds since the epoch


def new_run_id() -> str:
    """Sortable and unique: UTC time of the run plus 8 random hex digits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(run: str) -> dict:
    return {"run": run, "host": socket.gethostname(), "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds")}


def _describe_owner(doc: dict) -> str:
    if not doc:
        return "another process"
    return f"run {doc.get('run', '?')} (pid {doc.get('pid', '?')} on {doc.get('host', '?')}, since {doc.get('since', '?')})"


@dataclass
class Lake:
    uri: str
    fs: pafs.FileSystem  # for reading Parquet (pyarrow datasets, DuckDB views)
    root: str  # path inside fs, no trailing slash
    settings: Settings | None = None
    _s3: _S3 | None = None

    @classmethod
    def from_uri(cls, uri: str | None = None, settings: Settings | None = None) -> Lake:
        settings = settings or get_settings()
        uri = uri or settings.lake_uri
        if uri.startswith("s3://"):
            parsed = urlparse(uri)
            if not parsed.netloc:
                raise LakeError(f"lake URI {uri!r} names no bucket: use s3://bucket/prefix")
            s3 = _S3(parsed.netloc, parsed.path.strip("/"), settings)
            s3.check_bucket()
            root = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
            return cls(uri=uri.rstrip("/"), fs=s3.arrow_fs(), root=root, settings=settings, _s3=s3)
        if "://" in uri and not uri.startswith("file://"):
            raise LakeError(f"unsupported lake URI {uri!r}: use a local folder or s3://bucket/prefix")
        path = Path(uri.removeprefix("file://")).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise LakeError(f"lake path {path} is a file, not a folder: point MUSICML_LAKE_URI / --lake at a folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot create the lake folder {path}: {exc.strerror or exc}") from None
        if not os.access(path, os.W_OK):
            raise LakeError(f"lake folder {path} is not writable by this user")
        return cls(uri=str(path), fs=pafs.LocalFileSystem(), root=str(path), settings=settings)

    @property
    def is_local(self) -> bool:
        return self._s3 is None

    @property
    def cfg(self) -> Settings:
        return self.settings or get_settings()

    # ------------------------------------------------------------------ paths
    def path(self, *parts: str) -> str:
        return "/".join([self.root, *(p.strip("/") for p in parts if p)])

    def rel(self, path: str) -> str:
        return path[len(self.root) + 1 :] if path.startswith(self.root + "/") else path

    def snapshot_dir(self, dataset: str, snapshot: str) -> str:
        return self.path(dataset, f"snapshot={snapshot}")

    def quarantine_dir(self, dataset: str, snapshot: str) -> str:
        return self.path("_quarantine", dataset, f"snapshot={snapshot}")

    def run_dir(self, dataset: str, snapshot: str, run: str, quarantine: bool = False) -> str:
        base = self.quarantine_dir(dataset, snapshot) if quarantine else self.snapshot_dir(dataset, snapshot)
        return f"{base}/run={run}"

    def manifest_path(self, dataset: str, snapshot: str) -> str:
        return self.path("_manifests", dataset, f"{snapshot}.json")

    def superseded_dir(self, dataset: str, snapshot: str) -> str:
        return self.path("_superseded", dataset, snapshot)

    # ------------------------------------------------------------------ small objects
    def read_bytes(self, path: str) -> tuple[bytes, str] | None:
        """(content, etag) or None when absent. Local etag: sha256 of the content."""
        if self._s3:
            return self._s3.get(self._s3.key(self, path))
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise LakeError(f"{path} is a folder, expected a file") from None
        return data, hashlib.sha256(data).hexdigest()

    def read_json(self, path: str) -> dict:
        got = self.read_bytes(path)
        if got is None:
            raise FileNotFoundError(path)
        try:
            return json.loads(got[0])
        except ValueError:
            raise LakeError(f"{self.rel(path)} in lake {self.uri} is not valid JSON (damaged?)") from None

    def write_bytes(self, path: str, data: bytes) -> None:
        """Unconditional atomic write of a small object (local: temp + fsync + rename)."""
        if self._s3:
            self._s3.put(self._s3.key(self, path), data)
            return
        _atomic_local_write(Path(path), data)

    def commit_bytes(self, path: str, data: bytes, expect: str | None) -> str:
        """Write `path` only if it still has etag `expect` (None: only if absent). The commit point.

        S3: one conditional PUT (If-Match / If-None-Match). Local: the caller holds the
        snapshot's lock, so compare-then-rename cannot race; the rename is atomic.
        """
        if self._s3:
            return self._s3.put(self._s3.key(self, path), data, expect=expect, conditional=True)
        current = self.read_bytes(path)
        if (current[1] if current else None) != expect:
            raise CommitConflict(f"{self.rel(path)} changed while this run was writing: nothing committed")
        _atomic_local_write(Path(path), data)
        return hashlib.sha256(data).hexdigest()

    # ------------------------------------------------------------------ data files
    def staging_file(self, path: str, scratch: Path) -> Path:
        """Where a writer puts `path` before `publish`: the final path locally, a temp file for S3."""
        local = scratch / self.rel(path) if self._s3 else Path(path)
        local.parent.mkdir(parents=True, exist_ok=True)
        return local

    def publish(self, local: Path, path: str) -> None:
        """Make a finished file durable at `path` (local: fsync; S3: upload, then drop the temp)."""
        if self._s3:
            self._s3.upload(local, self._s3.key(self, path))
            local.unlink(missing_ok=True)
            return
        _fsync_file(local)
        _fsync_dir(local.parent)

    def list(self, prefix: str) -> list[Entry]:
        """Every file under `prefix` (recursive)."""
        if self._s3:
            return self._s3.list(self, prefix)
        base = Path(prefix)
        if not base.is_dir():
            return []
        out = []
        for p in base.rglob("*"):
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            if p.is_file():
                out.append(Entry(str(p), st.st_size, st.st_mtime))
        return sorted(out, key=lambda e: e.path)

    def exists(self, path: str) -> bool:
        if self._s3:
            return self._s3.head(self._s3.key(self, path))
        return Path(path).exists()

    def delete(self, paths: list[str], fast: bool = False) -> None:
        """Delete files (missing ones are fine). `fast`: cleanup after a failure, one try each."""
        if not paths:
            return
        if self._s3:
            self._s3.delete([self._s3.key(self, p) for p in paths], fast=fast)
            return
        parents = set()
        for p in paths:
            Path(p).unlink(missing_ok=True)
            parents.add(Path(p).parent)
        for d in sorted(parents, key=lambda d: -len(d.parts)):
            _prune_empty_dirs(d, Path(self.root))

    def sha256(self, path: str) -> str:
        if self._s3:
            return self._s3.sha256(self._s3.key(self, path))
        return sha256_file(path)

    def uploads(self, prefix: str) -> list[tuple[str, str, float]]:
        """Unfinished S3 multipart uploads under `prefix`: (path, upload id, started)."""
        return self._s3.uploads(self, prefix) if self._s3 else []

    def abort_upload(self, path: str, upload_id: str) -> None:
        if self._s3:
            self._s3.abort(self._s3.key(self, path), upload_id)

    # ------------------------------------------------------------------ one writer per snapshot
    @contextlib.contextmanager
    def lock(self, dataset: str, snapshot: str, run: str, wait_s: float | None = None) -> Iterator[SnapshotLock]:
        """Hold the (dataset, snapshot) write lock: a file lock locally, a lease object on S3.

        A second writer waits up to `wait_s` (default MUSICML_LAKE_LOCK_WAIT_S), then fails
        with LakeBusy naming the holder. A SIGKILLed holder releases a file lock at once;
        an S3 lease is taken over when it expires, or at once when its holder was a dead
        process on this host.
        """
        wait_s = self.cfg.lake_lock_wait_s if wait_s is None else wait_s
        what = f"{dataset} snapshot {snapshot}"
        if self._s3:
            lease = _Lease(self._s3, self._s3.key(self, self.path("_locks", dataset, f"{snapshot}.lease")),
                           _owner(run), self.cfg.lake_lease_ttl_s, what)
            lease.acquire(wait_s)
            try:
                yield lease
            finally:
                lease.release()
            return
        path = Path(self.path("_locks", dataset, f"{snapshot}.lock"))
        lk = _FileLock(path, _owner(run), what)
        lk.acquire(wait_s)
        try:
            yield lk
        finally:
            lk.release()

    @contextlib.contextmanager
    def try_lock(self, dataset: str, snapshot: str, run: str) -> Iterator[SnapshotLock | None]:
        """Like `lock` without waiting; yields None when the snapshot is busy."""
        stack = contextlib.ExitStack()
        try:
            held = stack.enter_context(self.lock(dataset, snapshot, run, wait_s=0))
        except LakeBusy:
            held = None
        with stack:
            yield held


class SnapshotLock:
    """What a writer holds: `check()` raises CommitConflict when the lock was lost."""

    def check(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


# ---------------------------------------------------------------------------- local disk


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_local_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _prune_empty_dirs(d: Path, root: Path) -> None:
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


class _FileLock(SnapshotLock):
    """flock(2) on a lock file: released by the kernel when the holder dies, even by SIGKILL."""

    def __init__(self, path: Path, owner: dict, what: str):
        self.path, self.owner, self.what = path, owner, what
        self.fd: int | None = None

    def acquire(self, wait_s: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    raise LakeBusy(f"{self.what} is being written by {_describe_owner(holder)}; "
                                   f"waited {wait_s:g} s (MUSICML_LAKE_LOCK_WAIT_S): retry when it has finished") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.owner).encode(), 0)
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> dict:
        try:
            return json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            return {}

    def check(self) -> None:
        if self.fd is None:
            raise CommitConflict(f"{self.what}: lock not held")

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# ---------------------------------------------------------------------------- S3


class _S3:
    """boto3 clients with bounded waits: `client` for work, `fast` (one short try) for cleanup."""

    def __init__(self, bucket: str, prefix: str, settings: Settings):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix, self.settings = bucket, prefix, settings
        self.endpoint = settings.s3_endpoint_url or "AWS S3"
        common = {"region_name": settings.aws_region, "endpoint_url": settings.s3_endpoint_url}
        self.client = boto3.client("s3", config=Config(
            connect_timeout=settings.s3_connect_timeout_s, read_timeout=settings.s3_read_timeout_s,
            retries={"max_attempts": settings.s3_max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"}, tcp_keepalive=True), **common)
        self.fast = boto3.client("s3", config=Config(
            connect_timeout=min(2.0, settings.s3_connect_timeout_s), read_timeout=min(5.0, settings.s3_read_timeout_s),
            retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}), **common)
        self.down = False  # set after a connection failure: cleanup then skips the network

    def arrow_fs(self) -> pafs.S3FileSystem:
        s = self.settings
        return pafs.S3FileSystem(
            endpoint_override=s.s3_endpoint_url, region=s.aws_region, allow_bucket_creation=False,
            connect_timeout=s.s3_connect_timeout_s, request_timeout=s.s3_read_timeout_s,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=s.s3_max_attempts),
        )

    def key(self, lake: Lake, path: str) -> str:
        return path[len(self.bucket) + 1 :] if path.startswith(self.bucket + "/") else path

    def path(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    @contextlib.contextmanager
    def errors(self, op: str, key: str = "") -> Iterator[None]:
        """botocore failures -> LakeError with what failed, where, and what to do."""
        from botocore import exceptions as bx

        where = f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"
        try:
            yield
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                bx.ConnectionClosedError, bx.ProxyConnectionError) as exc:
            self.down = True
            raise LakeError(f"S3 at {self.endpoint} did not answer ({type(exc).__name__}) during {op} of {where}; "
                            f"check that the store is up and MUSICML_S3_ENDPOINT_URL "
                            f"(waits: connect {self.settings.s3_connect_timeout_s:g} s, read "
                            f"{self.settings.s3_read_timeout_s:g} s, {self.settings.s3_max_attempts} tries)") from None
        except bx.NoCredentialsError:
            raise LakeError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        except bx.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"PreconditionFailed", "ConditionalRequestConflict", "412"}:
                raise CommitConflict(f"{where} changed during {op} (another writer?): nothing committed") from None
            if code == "NoSuchBucket":
                raise LakeError(f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}: "
                                f"create it or fix MUSICML_LAKE_URI") from None
            if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}:
                raise LakeError(f"S3 refused {op} of {where} ({code}): check the credentials and bucket policy") from None
            raise LakeError(f"S3 {op} of {where} failed: {code or exc}") from None
        except bx.BotoCoreError as exc:
            raise LakeError(f"S3 {op} of {where} failed: {exc}") from None

    def _absent(self, exc) -> bool:
        return exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}

    def check_bucket(self) -> None:
        from botocore.exceptions import ClientError

        with self.errors("access check"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if self._absent(exc) or exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                    raise LakeError(f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}: "
                                    f"create it or fix MUSICML_LAKE_URI") from None
                raise

    def get(self, key: str) -> tuple[bytes, str] | None:
        got = self.get_meta(key)
        return None if got is None else (got[0], got[1])

    def get_meta(self, key: str) -> tuple[bytes, str, float] | None:
        """(content, etag, age in seconds by the server's clock) or None."""
        from botocore.exceptions import ClientError

        with self.errors("read", key):
            try:
                r = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if self._absent(exc):
                    return None
                raise
            body = r["Body"].read()
        try:
            now = parsedate_to_datetime(r["ResponseMetadata"]["HTTPHeaders"]["date"])
        except (KeyError, TypeError, ValueError):
            now = datetime.now(UTC)
        return body, r["ETag"], (now - r["LastModified"]).total_seconds()

    def head(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self.errors("read", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
                return True
            except ClientError as exc:
                if self._absent(exc):
                    return False
                raise

    def put(self, key: str, data: bytes, expect: str | None = None, conditional: bool = False) -> str:
        kw = {}
        if conditional:
            kw = {"IfMatch": expect} if expect else {"IfNoneMatch": "*"}
        with self.errors("write", key):
            return self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **kw)["ETag"]

    def delete_conditional(self, key: str, etag: str) -> None:
        with contextlib.suppress(LakeError), self.errors("delete", key):
            self.fast.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)

    def upload(self, local: Path, key: str) -> None:
        """One PUT for small files; above s3_multipart_mb, parts, and on any failure an abort."""
        size = local.stat().st_size
        chunk = self.settings.s3_multipart_mb << 20
        if size <= chunk:
            with open(local, "rb") as f, self.errors("upload", key):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=f, ContentLength=size)
            return
        with self.errors("upload", key):
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = []
            with open(local, "rb") as f:
                n = 1
                while data := f.read(chunk):
                    with self.errors("upload", key):
                        r = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                    PartNumber=n, Body=data)
                    parts.append({"PartNumber": n, "ETag": r["ETag"]})
                    n += 1
            with self.errors("upload", key):
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                      MultipartUpload={"Parts": parts})
        except BaseException:
            self.abort(key, upload_id)
            raise

    def abort(self, key: str, upload_id: str) -> None:
        """Best effort, one short try: what an outage leaves behind, `lake gc` aborts later."""
        if self.down:
            return
        with contextlib.suppress(Exception):
            self.fast.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def list(self, lake: Lake, prefix: str) -> list[Entry]:
        key = self.key(lake, prefix).rstrip("/") + "/"
        out = []
        with self.errors("listing", key):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key):
                for o in page.get("Contents", []):
                    if o["Key"].endswith("/"):  # a directory marker, not a file
                        continue
                    out.append(Entry(self.path(o["Key"]), o["Size"], o["LastModified"].timestamp()))
        return out

    def delete(self, keys: list[str], fast: bool = False) -> None:
        if fast and self.down:
            return
        client = self.fast if fast else self.client
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            try:
                with self.errors("delete", batch[0]["Key"]):
                    client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except LakeError:
                if not fast:
                    raise
                return

    def sha256(self, key: str) -> str:
        h = hashlib.sha256()
        with self.errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            while chunk := body.read(8 << 20):
                h.update(chunk)
        return h.hexdigest()

    def uploads(self, lake: Lake, prefix: str) -> list[tuple[str, str, float]]:
        key = self.key(lake, prefix).rstrip("/") + "/"
        out = []
        with self.errors("listing uploads", key):
            for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=key):
                for u in page.get("Uploads", []):
                    out.append((self.path(u["Key"]), u["UploadId"], u["Initiated"].timestamp()))
        return out


class _Lease(SnapshotLock):
    """A lease object created with If-None-Match: *, renewed and released with If-Match.

    The body names the holder. A heartbeat thread renews it every ttl/3; a lease not
    renewed for `ttl` (by the server's clock) may be taken over, atomically, with an
    If-Match PUT on the stale ETag. A lost lease makes `check()` raise, and the
    manifest's own conditional PUT fences a writer that did not notice in time.
    """

    def __init__(self, s3: _S3, key: str, owner: dict, ttl: float, what: str):
        self.s3, self.key, self.owner, self.ttl, self.what = s3, key, owner, ttl, what
        self.etag: str | None = None
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed = time.monotonic()

    def _body(self) -> bytes:
        return json.dumps({**self.owner, "ttl_s": self.ttl}).encode()

    def acquire(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.etag = self.s3.put(self.key, self._body(), conditional=True)
                break
            except CommitConflict:
                pass
            current = self.s3.get_meta(self.key)
            if current is not None:
                body, etag, age = current
                try:
                    holder = json.loads(body)
                except ValueError:
                    holder = {}
                stale = age > float(holder.get("ttl_s", self.ttl))
                dead = holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", 0) or 0))
                if stale or dead:
                    try:
                        self.etag = self.s3.put(self.key, self._body(), expect=etag, conditional=True)
                        break
                    except CommitConflict:
                        continue
                if time.monotonic() >= deadline:
                    left = max(0.0, float(holder.get("ttl_s", self.ttl)) - age)
                    raise LakeBusy(f"{self.what} is being written by {_describe_owner(holder)}; its lease runs "
                                   f"{left:.0f} s more unless renewed; waited {wait_s:g} s (MUSICML_LAKE_LOCK_WAIT_S)")
            time.sleep(0.5)
        self._renewed = time.monotonic()
        self._thread = threading.Thread(target=self._heartbeat, name="lake-lease", daemon=True)
        self._thread.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.etag = self.s3.put(self.key, self._body(), expect=self.etag, conditional=True)
                self._renewed = time.monotonic()
            except CommitConflict:
                self.lost = "taken over by another writer"
                return
            except LakeError as exc:
                if time.monotonic() - self._renewed > self.ttl:
                    self.lost = f"not renewed for {self.ttl:g} s ({exc})"
                    return

    def check(self) -> None:
        if self.lost:
            raise CommitConflict(f"{self.what}: this writer's lease was lost ({self.lost}); nothing committed")
        if time.monotonic() - self._renewed > self.ttl:
            raise CommitConflict(f"{self.what}: lease not renewed for {self.ttl:g} s; nothing committed")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self.etag and not self.lost and not self.s3.down:
            self.s3.delete_conditional(self.key, self.etag)


@contextlib.contextmanager
def scratch_dir(lake: Lake) -> Iterator[Path]:
    """A private temp folder for files on their way to S3 (unused for local lakes)."""
    if lake.is_local:
        yield Path(lake.root)
        return
    d = Path(tempfile.mkdtemp(prefix="musicml-upload-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
