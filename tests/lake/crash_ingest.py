"""Child process for the fault-injection tests: one real ingest, SIGKILLed at a named step.

    python tests/lake/crash_ingest.py STEP SOURCE PATH SNAPSHOT LAKE_URI

STEP is one of the steps of `ml.lake.commit` (or `none`):
  during-write   after the first part file is published, before the others
  after-write    every file written, nothing committed
  after-supersede  the replaced manifest recorded for GC, the new one not yet committed
  after-commit   the manifest committed, garbage collection not started
  during-gc      after the first deletion of garbage collection
  hold           no crash: sleep HOLD_S seconds inside the write step (holds the lock; for overlap tests)
With CHILD_CLI=1 the ingest runs through `musicml ingest` (its error boundary, exit codes).
Timestamps of the write start and the commit go to $EVENTS (one line each) when set.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def event(name: str) -> None:
    if os.environ.get("EVENTS"):
        with open(os.environ["EVENTS"], "a") as f:
            f.write(f"{name} {os.getpid()} {time.time():.6f}\n")


def main() -> None:
    step, source, path, snapshot, lake_uri = sys.argv[1:6]
    from ml.lake import commit, ingest, storage

    write, commit_manifest, publish, delete_step, commit_bytes = (
        ingest.write_snapshot, commit.commit_manifest, storage.Lake.publish, commit._delete_step,
        storage.Lake.commit_bytes)

    def write_snapshot(*a, **kw):
        event("write-start")
        if step == "hold":
            time.sleep(float(os.environ.get("HOLD_S", "3")))
        m = write(*a, **kw)
        if step == "after-write":
            die()
        return m

    def committed(w, m):
        commit_manifest(w, m)
        event("committed")
        if step == "after-commit":
            die()

    def published(self, local, p):
        publish(self, local, p)
        if step == "during-write":
            die()

    def gc_delete(lake, paths):
        if step == "during-gc" and paths:
            lake.delete(paths[:1])
            die()
        delete_step(lake, paths)

    def cond_write(self, p, data, expect):
        if step == "after-supersede":
            die()
        return commit_bytes(self, p, data, expect)

    ingest.write_snapshot = write_snapshot
    commit.commit_manifest = committed
    storage.Lake.publish = published
    commit._delete_step = gc_delete
    storage.Lake.commit_bytes = cond_write

    if os.environ.get("CHILD_CLI"):  # through the real `musicml ingest` and its error boundary
        from ml.cli import main as cli

        sys.argv = ["musicml", "ingest", source, path, "--snapshot", snapshot, "--lake", lake_uri, "-q"]
        cli()
        return
    from ml.pipeline import ingest_source

    report = ingest_source(source, path, snapshot, lake_uri)
    print(";".join(f"{m.dataset}:{m.run_id}" for m in report.manifests), flush=True)


if __name__ == "__main__":
    main()
