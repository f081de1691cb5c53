"""Where the lake lives: a local folder or an S3 prefix, behind one pyarrow filesystem.

Layout under the lake root:
    <dataset>/snapshot=YYYY-MM/[year=YYYY/]part-00000.parquet   accepted rows
    _quarantine/<dataset>/snapshot=YYYY-MM/part-00000.parquet   rejected rows + reason
    _manifests/<dataset>/YYYY-MM.json                            the commit record
    _staging/<uuid>/...                                         in-flight writes

The manifest is written last: a snapshot exists once its manifest does, and readers
use the file list in the manifest, never a directory listing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow.fs as pafs

from ml.settings import Settings, get_settings


@dataclass
class Lake:
    uri: str
    fs: pafs.FileSystem
    root: str  # path inside fs, no trailing slash

    @classmethod
    def from_uri(cls, uri: str | None = None, settings: Settings | None = None) -> Lake:
        settings = settings or get_settings()
        uri = uri or settings.lake_uri
        if uri.startswith("s3://"):
            parsed = urlparse(uri)
            fs = pafs.S3FileSystem(
                endpoint_override=settings.s3_endpoint_url,
                region=settings.aws_region,
                allow_bucket_creation=False,
            )
            root = f"{parsed.netloc}/{parsed.path.strip('/')}".rstrip("/")
            return cls(uri=uri.rstrip("/"), fs=fs, root=root)
        if "://" in uri and not uri.startswith("file://"):
            raise ValueError(f"unsupported lake URI {uri!r}: use a local folder or s3://bucket/prefix")
        local = pafs.LocalFileSystem()
        from pathlib import Path

        path = Path(uri.removeprefix("file://")).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return cls(uri=str(path), fs=local, root=str(path))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    # ------------------------------------------------------------------ paths
    def path(self, *parts: str) -> str:
        return "/".join([self.root, *(p.strip("/") for p in parts if p)])

    def rel(self, path: str) -> str:
        return path[len(self.root) + 1 :] if path.startswith(self.root + "/") else path

    def snapshot_dir(self, dataset: str, snapshot: str) -> str:
        return self.path(dataset, f"snapshot={snapshot}")

    def quarantine_dir(self, dataset: str, snapshot: str) -> str:
        return self.path("_quarantine", dataset, f"snapshot={snapshot}")

    def manifest_path(self, dataset: str, snapshot: str) -> str:
        return self.path("_manifests", dataset, f"{snapshot}.json")

    def new_staging_dir(self) -> str:
        return self.path("_staging", uuid.uuid4().hex)

    # ------------------------------------------------------------------ io
    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def makedirs(self, path: str) -> None:
        if self.is_local:
            self.fs.create_dir(path, recursive=True)

    def write_bytes_atomic(self, path: str, data: bytes) -> None:
        """Local: temp file + rename. S3: a single PUT is already atomic."""
        parent = path.rsplit("/", 1)[0]
        self.makedirs(parent)
        if self.is_local:
            tmp = f"{path}.tmp-{uuid.uuid4().hex}"
            with self.fs.open_output_stream(tmp) as out:
                out.write(data)
            self.fs.move(tmp, path)
        else:
            with self.fs.open_output_stream(path) as out:
                out.write(data)

    def read_json(self, path: str) -> dict:
        with self.fs.open_input_stream(path) as f:
            return json.loads(f.read())

    def write_json(self, path: str, obj: dict) -> None:
        self.write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())

    def sha256(self, path: str) -> str:
        h = hashlib.sha256()
        with self.fs.open_input_stream(path) as f:
            while chunk := f.read(8 << 20):
                h.update(chunk)
        return h.hexdigest()

    def list_files(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        sel = pafs.FileSelector(path, recursive=True)
        return sorted(i.path for i in self.fs.get_file_info(sel) if i.type == pafs.FileType.File)

    def list_dirs(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        sel = pafs.FileSelector(path, recursive=False)
        return sorted(i.base_name for i in self.fs.get_file_info(sel) if i.type == pafs.FileType.Directory)

    def delete_dir(self, path: str) -> None:
        if self.exists(path):
            self.fs.delete_dir(path)

    def replace_dir(self, staged: str, final: str) -> None:
        """Move a fully written staging folder into place, replacing what was there.

        Local: two renames (old aside, new in), so readers never see a half folder.
        S3 has no rename: objects are copied key by key; the manifest written after this
        is the commit point that readers trust.
        """
        if self.is_local:
            trash = None
            if self.exists(final):
                trash = f"{final}.old-{uuid.uuid4().hex}"
                self.fs.move(final, trash)
            self.makedirs(final.rsplit("/", 1)[0])
            if self.exists(staged):
                self.fs.move(staged, final)
            if trash:
                self.fs.delete_dir(trash)
            return
        self.delete_dir(final)
        for src in self.list_files(staged):
            self.fs.move(src, final + src[len(staged) :])
        self.delete_dir(staged)
