"""music_train: when the month's lake assets update (or by hand), train every model.

Per model a task group train -> evaluate -> register -> gate. The `models` param selects
which models run (others are skipped); `fast` trains small versions (smoke runs).
XCom carries only run ids, versions, metrics and decisions. All logic lives in ml.pipeline.
"""

from __future__ import annotations

from _common import DEFAULT_ARGS, START, lake_asset_name
from airflow.sdk import Asset, Param, TaskGroup, TriggerRule, dag, get_current_context, task

from ml.models import MODEL_NAMES
from ml.pipeline import configured_sources


@dag(
    dag_id="music_train",
    schedule=[Asset(lake_asset_name(s)) for s in configured_sources()],
    start_date=START,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=2,  # 2 cores: two models train at once
    default_args=DEFAULT_ARGS,
    params={
        "models": Param(list(MODEL_NAMES), type="array", description="Models to train"),
        "fast": Param(False, type="boolean", description="Small quick fits (smoke runs)"),
    },
    tags=["music", "train", "registry"],
    doc_md=__doc__,
)
def music_train():
    decisions = []
    for model in MODEL_NAMES:
        with TaskGroup(group_id=model):

            @task(task_id="train")
            def train(model: str = model) -> dict:
                from airflow.sdk.exceptions import AirflowSkipException

                from ml.pipeline import train_model

                params = get_current_context()["params"]
                if model not in params["models"]:
                    raise AirflowSkipException(f"{model} not selected in params.models")
                return train_model(model, fast=bool(params["fast"]))

            @task(task_id="evaluate")
            def evaluate(run: dict) -> dict:
                from ml.pipeline import evaluate_model

                return evaluate_model(run)

            @task(task_id="register")
            def register(run: dict) -> dict:
                from ml.pipeline import register_model

                return register_model(run)

            @task(task_id="gate")
            def gate(registered: dict) -> dict:
                from ml.pipeline import gate_model

                return gate_model(registered)

            decisions.append(gate(register(evaluate(train()))))

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def summary(results: list) -> list:
        results = [r for r in results if r]
        for r in results:
            print(f"{r['model']:>15} v{r['version']}: {r['decision']} {r['aliases_set'] or ''} {r['reasons'] or ''}")
        selected = set(get_current_context()["params"]["models"])
        failed = sorted(selected - {r["model"] for r in results})
        if failed:  # a rejected gate is a result; a crashed task is not
            raise RuntimeError(f"models that did not finish train -> gate: {', '.join(failed)}")
        return results

    summary(decisions)


music_train()
