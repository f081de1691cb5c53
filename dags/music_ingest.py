"""music_ingest: monthly, pull every configured source into the lake snapshot of the month.

Per-source tasks run in parallel and are independent: a failing source does not stop the
others from landing. Each success updates that source's Asset (which schedules
music_train). Each ingest commits atomically and garbage-collects its snapshot; then
`verify` re-hashes every file of what landed against its manifest. The final `report`
task lists what landed and fails the run if any source failed or verification found
damage, so on-call sees it. All logic lives in ml.pipeline.
"""

from __future__ import annotations

from datetime import timedelta

from _common import DEFAULT_ARGS, START, lake_asset_name
from airflow.sdk import Asset, TriggerRule, dag, get_current_context, task

from ml.pipeline import configured_sources

SOURCES = configured_sources()


@dag(
    dag_id="music_ingest",
    schedule="@monthly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(minutes=60)},
    tags=["music", "ingest", "lake"],
    doc_md=__doc__,
)
def music_ingest():
    results = []
    for source, path in SOURCES.items():

        @task(task_id=f"ingest_{source.replace('-', '_')}", outlets=[Asset(lake_asset_name(source))])
        def ingest_one(source: str = source, path: str | None = path) -> dict:
            from ml.pipeline import ingest_source, snapshot_for

            ctx = get_current_context()
            return ingest_source(source, path, snapshot_for(ctx["logical_date"])).to_xcom()

        results.append(ingest_one())

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def verify(landed: list) -> dict:
        """sha256 of every file of the datasets that landed, against their manifests."""
        from ml.pipeline import verify_lake

        names = sorted({name for r in landed if r for name in r["datasets"]})
        return verify_lake(names) if names else {"snapshots": 0, "files": 0, "bytes": 0, "problems": []}

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(landed: list, verified: dict | None = None) -> dict:
        landed = [r for r in landed if r]
        ok = {r["source"] for r in landed}
        failed = sorted(set(SOURCES) - ok)
        for r in landed:
            for name, d in r["datasets"].items():
                print(f"{r['source']:>16} -> {name}: {d['accepted']:,} accepted, {d['quarantined']:,} quarantined"
                      + (" (SYNTHETIC)" if d["synthetic"] else ""))
        if verified is None:
            raise RuntimeError("lake verification failed: see the verify task's log")
        print(f"verified {verified['files']} files of {verified['snapshots']} snapshots")
        if failed:
            raise RuntimeError(f"sources failed this month: {', '.join(failed)} (the others landed)")
        return {"landed": sorted(ok), "verified_files": verified["files"]}

    report(results, verify(results))


music_ingest()
