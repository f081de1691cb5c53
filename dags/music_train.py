"""music_train: when the month's lake assets update (or by hand), train every model.

Per model a task group train -> evaluate -> register -> gate (the same steps `musicml train`
runs). The `models` param selects which models run (others are skipped); `fast` trains the
quick config variants (smoke runs); `config` overrides knobs per model, validated by the
model's typed config: {"genre": {"seed": 7}} (see `musicml config genre`). A misspelt key
fails that model's train task at once, without retries. XCom carries only run ids,
versions, metrics and decisions. All logic lives in ml.pipeline.
"""

from __future__ import annotations

from _common import DEFAULT_ARGS, START, lake_asset_name
from airflow.sdk import Asset, Param, TaskGroup, TriggerRule, dag, get_current_context, task

from ml.models import MODEL_NAMES
from ml.pipeline import configured_sources
from ml.settings import get_settings


@dag(
    dag_id="music_train",
    schedule=[Asset(lake_asset_name(s)) for s in configured_sources()],
    start_date=START,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=get_settings().train_max_active_tasks,  # models training at once (default 2: 2 cores)
    default_args=DEFAULT_ARGS,
    params={
        "models": Param(list(MODEL_NAMES), type="array", description="Models to train"),
        "fast": Param(False, type="boolean", description="Small quick fits (smoke runs)"),
        "config": Param({}, type="object",
                        description='Per-model config overrides, e.g. {"genre": {"seed": 7}} (musicml config MODEL)'),
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
                from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
                from pydantic import ValidationError

                from ml.pipeline import train_model

                params = get_current_context()["params"]
                if model not in params["models"]:
                    raise AirflowSkipException(f"{model} not selected in params.models")
                overrides = params.get("config") or {}
                unknown = sorted(set(overrides) - set(MODEL_NAMES))
                if unknown:
                    raise AirflowFailException(f"params.config names unknown model(s): {', '.join(unknown)}")
                try:
                    return train_model(model, fast=bool(params["fast"]), config=overrides.get(model))
                except ValidationError as exc:  # a config typo: retrying cannot help
                    raise AirflowFailException(f"{model} config: {exc}") from None

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
