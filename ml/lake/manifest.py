"""The manifest: the commit record of one dataset snapshot, and its lineage for models."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class FileEntry:
    path: str  # relative to the lake root
    rows: int
    sha256: str


@dataclass
class Manifest:
    dataset: str
    snapshot: str
    source_uri: str
    synthetic: bool
    contract: str
    schema_version: int
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    files: list[FileEntry]
    created_at: str
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_files: list[FileEntry] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    partition_by: str | None = None
    ingest_seconds: float | None = None
    producer: str = ""
    run_id: str = ""  # the ingest run whose files this manifest commits
    data_dir: str = ""  # the run's data folder, relative to the lake root (partition base)

    def check(self) -> None:
        """Nothing lost: every row read is either accepted or quarantined, and files agree."""
        if self.rows_in != self.rows_accepted + self.rows_quarantined:
            raise AssertionError(f"{self.dataset}: rows_in {self.rows_in} != accepted + quarantined")
        if sum(f.rows for f in self.files) != self.rows_accepted:
            raise AssertionError(f"{self.dataset}: data files do not add up to rows_accepted")
        if sum(f.rows for f in self.quarantine_files) != self.rows_quarantined:
            raise AssertionError(f"{self.dataset}: quarantine files do not add up to rows_quarantined")

    @property
    def fingerprint(self) -> str:
        """One hash for the snapshot's content: what a model run records as lineage.

        Paths count relative to the run's folder, so re-ingesting the same input (a new
        run folder, the same bytes) gives the same fingerprint.
        """
        import hashlib

        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: self.relative(f.path)):
            h.update(f"{self.relative(f.path)}:{f.sha256}\n".encode())
        return h.hexdigest()

    def relative(self, path: str) -> str:
        base = (self.data_dir or f"{self.dataset}/snapshot={self.snapshot}") + "/"
        return path[len(base):] if path.startswith(base) else path

    @property
    def all_files(self) -> list[FileEntry]:
        return [*self.files, *self.quarantine_files]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        d = dict(d)
        d["files"] = [FileEntry(**f) for f in d.get("files", [])]
        d["quarantine_files"] = [FileEntry(**f) for f in d.get("quarantine_files", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})
