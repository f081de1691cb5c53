"""music_ingest: monthly, pull every configured source into the lake snapshot of the month.

Per-source tasks run in parallel and are independent: a failing source does not stop the
others from landing. Each success updates that source's Asset (which schedules
music_train); the final `report` task lists what landed and fails the run if any source
failed, so on-call sees it. All logic lives in ml.pipeline.
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
            return ingest_source(source, path, snapshot_for(ctx["logical_date"]))

        results.append(ingest_one())

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(landed: list) -> dict:
        landed = [r for r in landed if r]
        ok = {r["source"] for r in landed}
        failed = sorted(set(SOURCES) - ok)
        for r in landed:
            for name, d in r["datasets"].items():
                print(f"{r['source']:>16} -> {name}: {d['accepted']:,} accepted, {d['quarantined']:,} quarantined"
                      + (" (SYNTHETIC)" if d["synthetic"] else ""))
        if failed:
            raise RuntimeError(f"sources failed this month: {', '.join(failed)} (the others landed)")
        return {"landed": sorted(ok)}

    report(results)


music_ingest()
