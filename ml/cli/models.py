"""Model commands: `train`, `predict`, `quality`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ml.cli.data import LakeOpt, _fail, console, out
from ml.settings import get_settings


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


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        models: Annotated[list[str], typer.Argument(
            help="Model names or `all`: genre mood popularity audio_features recommender streams")],
        lake: LakeOpt = None,
        fast: Annotated[bool, typer.Option("--fast", help="Small quick fit (smoke runs, CI)")] = False,
    ) -> None:
        """Train, evaluate beside a baseline, log to MLflow and register a new version of each model.

        Reads the latest lake snapshots (real datasets if present, else synthetic). Every run
        records the lake manifests it used; every version is registered as music-<model>
        (promotion to aliases is a separate step: `musicml registry`).
        """
        from ml.lake.storage import Lake
        from ml.models import resolve
        from ml.registry.tracking import train_and_register

        settings = get_settings()
        try:
            specs = resolve(models)
        except KeyError as exc:
            raise _fail(str(exc.args[0])) from None
        lk = Lake.from_uri(lake or settings.lake_uri)
        rows = []
        for spec in specs:
            console.print(f"[bold]training {spec.name}[/] ...")
            t0 = time.perf_counter()
            try:
                run = train_and_register(spec, lk, {"fast": True} if fast else None, settings)
            except LookupError as exc:
                raise _fail(f"{spec.name}: {exc}") from None
            console.print(f"  {spec.name}: version {run.version} in {time.perf_counter() - t0:.0f} s"
                          + (" [yellow](SYNTHETIC data)[/]" if run.synthetic else ""))
            rows.append((spec.name, run.version, run.metrics, run.baseline, list(spec.key_metrics), run.run_id))
        out.print(metrics_table("Trained and registered", rows))

    @app.command()
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

    @app.command()
    def quality(
        data: Annotated[Path, typer.Option("--data", help="Folder with the real datasets (../shared/data)")] = None,
        out_path: Annotated[Path, typer.Option("--out", help="JSON to write")] = Path("quality.json"),
        models: Annotated[list[str] | None, typer.Option("--model", help="Only these models (repeatable)")] = None,
    ) -> None:
        """Quality benchmark: train and evaluate every model on the REAL data with honest splits.

        Ingests the real datasets into a temporary lake, trains each model's full
        configuration, and writes {model: {metric: value, "baseline": {...}, "split": ..,
        "n_train": .., "n_test": ..}}. Nothing is registered.
        """
        import tempfile

        from ml.lake import catalog
        from ml.models import resolve
        from ml.settings import Settings
        from ml.sources import load_source

        settings = Settings(shared_data_dir=data) if data else get_settings()
        from ml.cli.data import ingest_datasets

        with tempfile.TemporaryDirectory(prefix="musicml-quality-") as tmp:
            datasets = []
            for source in ("spotify-tracks", "spotify-2023", "lastfm-hetrec", "gtzan-features"):
                datasets += load_source(source, None, settings)
            # Real data has no daily charts: the streams forecaster is measured on seeded
            # synthetic charts (labelled so in the lake), its spotify2023_r2 on the real file.
            specs = resolve(models or ["all"])
            if any(spec.name == "streams" for spec in specs):
                from ml.sources.synthetic import generate

                syn = Path(tmp) / "synthetic"
                generate(syn, seed=2024, tracks=5_000, chart_rows=1_000_000, users=200, regions=20)
                datasets += [d for d in load_source("synthetic", syn, settings) if d.name == "synthetic_spotify_charts"]
            lk, _ = ingest_datasets(datasets, str(Path(tmp) / "lake"), "2000-01", quiet=True)
            report: dict = {}
            for spec in specs:
                console.print(f"[bold]quality: {spec.name}[/] ...")
                con = catalog.connect(lk)
                df = spec.load(con)
                con.close()
                t0 = time.perf_counter()
                result = spec.train(df, None)
                entry = result.quality_entry()
                entry["train_seconds"] = round(time.perf_counter() - t0, 1)
                report[spec.name] = entry
                out_path.write_text(json.dumps(report, indent=2) + "\n")  # partial results survive a crash
        skip = {"baseline", "split", "n_train", "n_test", "train_seconds"}
        rows = [(name, "-", e, e.get("baseline", {}), [k for k in e if k not in skip and not isinstance(e[k], dict)], "")
                for name, e in report.items()]
        out.print(metrics_table(f"Quality on real data -> {out_path}", rows))
