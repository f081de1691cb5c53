"""Registry commands: `registry status | gate | promote | rollback` (MLflow aliases).

Each command is a module-level function; the decisions live in `ml.registry.promotion`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ml.cli.data import _fail, out


def status_cmd(models: Annotated[list[str] | None, typer.Argument(help="Models (default: all)")] = None) -> None:
    """Champion, challenger, the latest version's gate decision, and incomplete versions.

    An incomplete version is one whose registration did not finish (e.g. the tracking
    server died mid-way): nothing loads, gates or serves it.
    """
    from ml.registry.promotion import status
    from ml.registry.tracking import configure_mlflow, incomplete_versions

    t = Table(title="Registry")
    for c in ("model", "versions", "champion", "challenger", "latest", "gate", "incomplete", "reasons / key metrics"):
        t.add_column(c)
    client = configure_mlflow()
    for r in status(models):
        if not r["versions"]:
            t.add_row(r["model"], "0", "-", "-", "-", "-", "-", "not trained yet")
            continue
        partial = incomplete_versions(r["registered_name"], client)
        detail = "; ".join(r["latest_reasons"]) or ", ".join(f"{k}={v}" for k, v in r["latest_key_metrics"].items())
        t.add_row(r["model"], str(r["versions"]), r["champion"] or "-", r["challenger"] or "-", r["latest"],
                  r["latest_gate"], ("[yellow]" + ", ".join(f"v{v}" for v in partial) + "[/]") if partial else "-",
                  detail)
    out.print(t)


def gate_cmd(
    model: Annotated[str, typer.Argument(help="Model name")],
    version: Annotated[str | None, typer.Option(help="Version to check (default: latest)")] = None,
) -> None:
    """Run the promotion gate (config/gates.yaml) on a version; on pass it becomes challenger."""
    from ml.models import get_spec
    from ml.registry.promotion import evaluate_gate
    from ml.registry.tracking import configure_mlflow, model_uri

    spec = get_spec(model)
    configure_mlflow()
    try:
        version = version or model_uri(spec.registered_name).rsplit("/", 1)[1]
    except LookupError as exc:
        raise _fail(str(exc)) from None
    try:
        report = evaluate_gate(model, version)
    except ValueError as exc:  # config/gates.yaml does not validate
        raise _fail(str(exc)) from None
    t = Table(title=f"{spec.registered_name} v{version}: {report.decision.upper()} ({report.compared_on})")
    for c in ("check", "ok", "detail"):
        t.add_column(c)
    for c in report.checks:
        t.add_row(c.name, "[green]yes[/]" if c.passed else "[red]no[/]", c.detail)
    out.print(t)
    if report.aliases_set:
        out.print(f"aliases set: {', '.join(report.aliases_set)}")


def _move_alias(action, model: str, describe) -> None:
    try:
        result = action(model)
    except LookupError as exc:
        raise _fail(str(exc)) from None
    out.print(describe(result))


def promote_cmd(model: Annotated[str, typer.Argument(help="Model name")]) -> None:
    """Make the challenger the champion (the previous champion is recorded for rollback)."""
    from ml.registry.promotion import promote

    _move_alias(promote, model,
                lambda r: f"{r['model']}: champion v{r['champion']} (previous: v{r['previous_champion'] or '-'})")


def rollback_cmd(model: Annotated[str, typer.Argument(help="Model name")]) -> None:
    """Point `champion` back at the previous champion."""
    from ml.registry.promotion import rollback

    _move_alias(rollback, model,
                lambda r: f"{r['model']}: champion v{r['champion']} (rolled back from v{r['rolled_back_from']})")


def register(app: typer.Typer) -> None:
    reg = typer.Typer(help="Model registry: gates, champion/challenger aliases, promotion and rollback.",
                      no_args_is_help=True)
    app.add_typer(reg, name="registry")
    reg.command("status")(status_cmd)
    reg.command("gate")(gate_cmd)
    reg.command("promote")(promote_cmd)
    reg.command("rollback")(rollback_cmd)
