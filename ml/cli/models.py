"""Model commands: `train`, `predict`, `quality`.

Each command is a plain module-level function (importable, callable from tests); the work
itself lives in `ml.pipeline`, the same functions the DAGs and benchmarks call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from ml.cli.data import LakeOpt, _fail, console, out


def _fmt(v) -> str:
    try:
        return f"{float(v):.3f}"
    except (TypeError, ValueError):
        return "-"


def metrics_table(title: str, rows: list[tuple[str, str, dict, dict, list[str], str]]) -> Table:
    """rows: (model, version, metrics, baseline, key metrics, run id)."""
    t = Table(title=title)
    for c in ("model", "version", "metric", "model value", "baseline", "run id"):
        t.add_column(c)
    for model, version, metrics, baseline, keys, run_id in rows:
        for i, k in enumerate(keys):
            t.add_row(model if i == 0 else "", version if i == 0 else "", k, _fmt(metrics.get(k)),
                      _fmt(baseline.get(k)), run_id[:12] if i == 0 else "")
    return t


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """`KEY=VALUE` strings -> {key: value}; values are read as YAML (7, 0.5, true, [1, 2], null)."""
    overrides: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _config_error(model: str, exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return f"{model} config: {problems}"
    return f"{model} config: {exc}"


def train(
    models: Annotated[list[str], typer.Argument(
        help="Model names or `all`: genre mood popularity audio_features recommender streams")],
    lake: LakeOpt = None,
    fast: Annotated[bool, typer.Option("--fast", help="The quick config variant (smoke runs, CI)")] = False,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override KEY=VALUE, repeatable (e.g. --set seed=7); unknown keys are an error. "
                      "See the knobs with `musicml config MODEL`")] = None,
) -> None:
    """Train, evaluate beside a baseline, register and gate a new version of each model.

    The same route as the music_train DAG: train -> evaluate -> register -> gate. Reads
    the latest lake snapshots (real datasets if present, else synthetic); every run records
    the lake manifests it used and its full config; each version is registered as
    music-<model> and passes its gate (config/gates.yaml) to become `challenger` (and
    `champion` when there is none), or stays unaliased with the reasons as tags.
    """
    from pydantic import ValidationError

    from ml.models import resolve
    from ml.pipeline import train_pipeline

    try:
        specs = resolve(models)
        extra = parse_overrides(overrides)
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc.args[0])) from None
    for spec in specs:  # validate every config before any training starts
        try:
            spec.config.resolve(extra, fast=fast)
        except (ValidationError, ValueError, TypeError) as exc:
            raise _fail(_config_error(spec.name, exc)) from None
    rows, gates = [], []
    for spec in specs:
        console.print(f"[bold]training {spec.name}[/] ...")
        try:
            run = train_pipeline(spec.name, lake, fast=fast, config=extra)
        except LookupError as exc:
            raise _fail(f"{spec.name}: {exc}") from None
        gate = run["gate"]
        console.print(f"  {spec.name}: version {run['version']} in {run['train_seconds']:.0f} s, gate "
                      f"{gate['decision']}" + (f" -> {', '.join(gate['aliases_set'])}" if gate["aliases_set"] else "")
                      + (" [yellow](SYNTHETIC data)[/]" if run["synthetic"] else ""))
        rows.append((spec.name, run["version"], run["metrics"], run["baseline"], list(spec.key_metrics), run["run_id"]))
        gates.append((spec.name, run["version"], gate))
    out.print(metrics_table("Trained and registered", rows))
    t = Table(title="Gates")
    for c in ("model", "version", "decision", "aliases set", "reasons"):
        t.add_column(c)
    for name, version, gate in gates:
        t.add_row(name, version, gate["decision"], ", ".join(gate["aliases_set"]) or "-", "; ".join(gate["reasons"]) or "-")
    out.print(t)


def config(
    model: Annotated[str, typer.Argument(help="Model name, e.g. genre")],
    fast: Annotated[bool, typer.Option("--fast", help="Show the quick variant")] = False,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override KEY=VALUE, repeatable")] = None,
) -> None:
    """Print a model's training config as JSON (the defaults are the full config), validated."""
    from pydantic import ValidationError

    from ml.models import get_spec

    try:
        spec = get_spec(model)
        cfg = spec.config.resolve(parse_overrides(overrides), fast=fast)
    except ValidationError as exc:
        raise _fail(_config_error(model, exc)) from None
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc.args[0])) from None
    out.print_json(data={"model": spec.name, "variant": cfg.variant, "config": cfg.model_dump(mode="json")})


def predict(
    model: Annotated[str, typer.Argument(help="Model name, e.g. genre")],
    input_csv: Annotated[Path, typer.Option("--input", help="CSV in the source schema (e.g. Kaggle Spotify Tracks)")],
    output_csv: Annotated[Path, typer.Option("--output", help="Where to write input rows + predictions")],
    alias: Annotated[str | None, typer.Option(help="Registry alias, e.g. champion (falls back to latest version)")] = None,
    version: Annotated[str | None, typer.Option(help="Exact registered version")] = None,
) -> None:
    """Batch prediction with a registered model version; a missing input column is a clear error."""
    import pandas as pd

    from ml.models import get_spec
    from ml.registry.tracking import configure_mlflow, load_model, model_uri

    try:
        spec = get_spec(model)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    if not input_csv.exists():
        raise _fail(f"{input_csv}: no such file")
    configure_mlflow()
    try:
        uri = model_uri(spec.registered_name, alias, version)
        loaded = load_model(spec.registered_name, alias, version)
    except LookupError as exc:
        raise _fail(str(exc)) from None
    df = pd.read_csv(input_csv)
    if df.empty:
        raise _fail(f"{input_csv}: no rows")
    try:
        pred = loaded.predict(df)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    result = pd.concat([df.reset_index(drop=True), pd.DataFrame(pred).reset_index(drop=True)], axis=1)
    result.to_csv(output_csv, index=False)
    console.print(f"{len(result):,} predictions from {uri} -> {output_csv}")


def quality(
    data: Annotated[Path | None, typer.Option("--data", help="Folder with the real datasets (../shared/data)")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="JSON to write")] = Path("quality.json"),
    models: Annotated[list[str] | None, typer.Option("--model", help="Only these models (repeatable)")] = None,
) -> None:
    """Quality benchmark: train and evaluate every model on the REAL data with honest splits.

    Ingests the real datasets into a temporary lake, trains each model's full
    configuration, and writes {model: {metric: value, "baseline": {...}, "split": ..,
    "n_train": .., "n_test": ..}}. Nothing is registered.
    """
    from ml.models import resolve
    from ml.pipeline import quality_report

    try:
        resolve(models or ["all"])
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    report = quality_report(data, models, out_path, log=lambda msg: console.print(f"[bold]{msg}[/]"))
    skip = {"baseline", "split", "n_train", "n_test", "train_seconds"}
    rows = [(name, "-", e, e.get("baseline", {}), [k for k in e if k not in skip and not isinstance(e[k], dict)], "")
            for name, e in report.items()]
    out.print(metrics_table(f"Quality on real data -> {out_path}", rows))


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(predict)
    app.command()(quality)
    app.command()(config)


__all__ = ["config", "metrics_table", "parse_overrides", "predict", "quality", "register", "train"]
