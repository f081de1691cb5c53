"""DAG integrity: imports cleanly, schedules, owners, retries, stable task ids, no cycles."""

from __future__ import annotations

from ml.models import MODEL_NAMES


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"music_ingest", "music_train"} <= set(dagbag.dags)


def test_every_dag_has_schedule_tags_owner_and_retries(dagbag):
    for dag_id in ("music_ingest", "music_train"):
        dag = dagbag.dags[dag_id]
        assert dag.timetable is not None and dag.timetable.can_be_scheduled, dag_id
        assert "music" in dag.tags, dag_id
        for t in dag.tasks:
            assert t.owner == "ml-platform", t.task_id
            assert t.retries >= 1, t.task_id
            assert t.execution_timeout is not None, t.task_id


def test_ingest_is_monthly_and_train_follows_the_lake_assets(dagbag):
    assert dagbag.dags["music_ingest"].timetable.expression == "0 0 1 * *"
    condition = dagbag.dags["music_train"].timetable.asset_condition
    assert condition is not None and "musicml-lake-" in repr(condition)


def test_task_ids_are_stable(dagbag):
    train_ids = {t.task_id for t in dagbag.dags["music_train"].tasks}
    expected = {f"{m}.{step}" for m in MODEL_NAMES for step in ("train", "evaluate", "register", "gate")} | {"summary"}
    assert train_ids == expected
    ingest_ids = {t.task_id for t in dagbag.dags["music_ingest"].tasks}
    assert {"report", "verify"} <= ingest_ids
    assert all(i.startswith("ingest_") for i in ingest_ids - {"report", "verify"})


def test_model_chain_order_and_no_cycles(dagbag):
    dag = dagbag.dags["music_train"]
    for m in MODEL_NAMES:
        assert dag.get_task(f"{m}.evaluate").upstream_task_ids == {f"{m}.train"}
        assert dag.get_task(f"{m}.register").upstream_task_ids == {f"{m}.evaluate"}
        assert dag.get_task(f"{m}.gate").upstream_task_ids == {f"{m}.register"}
    # a topological sort exists only for an acyclic graph
    assert len(dag.topological_sort()) == len(dag.tasks)


def test_train_params_carry_typed_config_overrides(dagbag):
    params = dagbag.dags["music_train"].params
    assert {"models", "fast", "config"} <= set(params.keys())
    assert params["config"] == {}
