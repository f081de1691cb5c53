"""Data commands: `ingest`, `generate`, `sources`, and the `lake` group (ls, sql, coverage)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ml.settings import get_settings

# Wide output when piped or captured: tables stay readable in logs and CI.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)

LakeOpt = Annotated[
    str | None, typer.Option("--lake", help="Lake root: a folder or s3://bucket/prefix [env MUSICML_LAKE_URI, default ./.lake]")
]
SnapshotOpt = Annotated[str | None, typer.Option("--snapshot", help="Snapshot month YYYY-MM [default: this month]")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code=2)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )


def ingest_datasets(datasets, lake_uri, snapshot, quiet=False):
    """Ingest each dataset with a progress bar; returns manifests."""
    import time

    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake

    lake = Lake.from_uri(lake_uri)
    manifests = []
    with _progress(quiet) as bar:
        for ds in datasets:
            task = bar.add_task(ds.name, total=None, rate="")
            t0 = time.perf_counter()

            def advance(n, task=task, t0=t0):
                bar.advance(task, n)
                done = bar.tasks[task].completed
                bar.update(task, rate=f"{done / max(time.perf_counter() - t0, 1e-9):,.0f} rows/s")

            m = ingest(ds, lake, snapshot, progress=advance)
            bar.update(task, total=m.rows_in, completed=m.rows_in)
            manifests.append(m)
    return lake, manifests


def _summary(manifests) -> Table:
    t = Table(title="Ingested")
    for col in ("dataset", "snapshot", "read", "accepted", "quarantined", "top reason", "synthetic"):
        t.add_column(col, justify="right" if col in {"read", "accepted", "quarantined"} else "left")
    for m in manifests:
        top = next(iter(m.quarantine_reasons), "")
        t.add_row(m.dataset, m.snapshot, f"{m.rows_in:,}", f"{m.rows_accepted:,}", f"{m.rows_quarantined:,}",
                  top[:60], "[yellow]SYNTHETIC[/]" if m.synthetic else "real")
    return t


def register(app: typer.Typer) -> None:
    lake_app = typer.Typer(help="Inspect and query the lake (DuckDB views over every dataset).", no_args_is_help=True)
    app.add_typer(lake_app, name="lake")

    @app.command()
    def sources() -> None:
        """List the sources `musicml ingest` understands, with their default paths."""
        from ml.sources import SOURCES

        settings = get_settings()
        t = Table(title="Sources")
        t.add_column("source")
        t.add_column("what")
        t.add_column("default PATH")
        for s in SOURCES.values():
            t.add_row(s.name, s.help, str(s.default_path(settings) or "(required)"))
        out.print(t)

    @app.command()
    def ingest(
        source: Annotated[str, typer.Argument(help="Source name (see `musicml sources`)")],
        path: Annotated[Path | None, typer.Argument(help="Input file or folder [default: the source's default]")] = None,
        lake: LakeOpt = None,
        snapshot: SnapshotOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the manifest JSON to stdout")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
    ) -> None:
        """Validate a source against its contract and land it as a lake snapshot.

        Every row read is accounted for: accepted rows go to <dataset>/snapshot=YYYY-MM/,
        rejected rows to _quarantine/<dataset>/ with a `reason`, and the manifest at
        _manifests/<dataset>/YYYY-MM.json records counts and file hashes.
        Re-running for the same snapshot replaces it (idempotent).
        """
        from ml.sources import SourceError, load_source
        from ml.sources.api.http import ApiError

        settings = get_settings()
        try:
            datasets = load_source(source, path, settings)
            _, manifests = ingest_datasets(datasets, lake or settings.lake_uri, snapshot, quiet=quiet or as_json)
        except ApiError as exc:
            raise _fail(f"{source}: API error: {exc}") from None
        except (SourceError, ValueError, LookupError, FileNotFoundError) as exc:
            raise _fail(str(exc)) from None
        if as_json:
            docs = [m.to_dict() for m in manifests]
            sys.stdout.write(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
        else:
            out.print(_summary(manifests))

    @app.command()
    def generate(
        out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder [default: .work/synthetic]")] = None,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 42,
        tracks: Annotated[int, typer.Option(help="Catalog size (Spotify Tracks schema)")] = 20_000,
        chart_rows: Annotated[int, typer.Option("--chart-rows", help="Daily chart rows (Spotify Charts schema)")] = 200_000,
        users: Annotated[int, typer.Option(help="Listeners (hetrec schema)")] = 1_000,
        regions: Annotated[int, typer.Option(help="Chart markets (70 gives the real 2017-2021 span at 26M rows)")] = 20,
        ingest_too: Annotated[bool, typer.Option("--ingest/--no-ingest", help="Also land the data in the lake")] = False,
        lake: LakeOpt = None,
        snapshot: SnapshotOpt = None,
    ) -> None:
        """Generate SYNTHETIC data in the real schemas (tracks, charts, Last.fm plays), streamed in chunks.

        Everything it writes is marked synthetic: a SYNTHETIC.json marker, `synthetic_*`
        dataset names in the lake and `synthetic: true` in every manifest.
        """
        from ml.sources import load_source
        from ml.sources.synthetic import generate as gen

        settings = get_settings()
        out_dir = out_dir or settings.work_dir / "synthetic"
        console.print(f"[yellow]Generating SYNTHETIC data[/] (seed {seed}) into {out_dir}")
        with _progress(False) as bar:
            tasks: dict[str, int] = {}

            def progress(dataset: str, done: int, total: int) -> None:
                if dataset not in tasks:
                    tasks[dataset] = bar.add_task(f"synthetic {dataset}", total=total, rate="")
                bar.update(tasks[dataset], completed=done, total=total)

            info = gen(out_dir, seed=seed, tracks=tracks, chart_rows=chart_rows, users=users, regions=regions,
                       progress=progress)
        files = info.get("files", {})
        console.print("generated: " + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}" for k, v in files.items()))
        if ingest_too:
            _, manifests = ingest_datasets(load_source("synthetic", out_dir, settings), lake or settings.lake_uri, snapshot)
            out.print(_summary(manifests))

    @lake_app.command("ls")
    def lake_ls(lake: LakeOpt = None) -> None:
        """Datasets, snapshots and row counts (from manifests)."""
        from ml.lake.catalog import manifests
        from ml.lake.storage import Lake

        lk = Lake.from_uri(lake or get_settings().lake_uri)
        t = Table(title=f"Lake {lk.uri}")
        for col in ("dataset", "snapshot", "rows", "quarantined", "files", "synthetic", "created"):
            t.add_column(col, justify="right" if col in {"rows", "quarantined", "files"} else "left")
        found = manifests(lk)
        for m in found:
            t.add_row(m.dataset, m.snapshot, f"{m.rows_accepted:,}", f"{m.rows_quarantined:,}", str(len(m.files)),
                      "SYNTHETIC" if m.synthetic else "real", m.created_at)
        out.print(t if found else f"Lake {lk.uri} is empty: run `musicml ingest SOURCE` or `musicml generate --ingest`.")

    @lake_app.command("sql")
    def lake_sql(
        query: Annotated[str, typer.Argument(help="SQL over dataset views, e.g. 'select count(*) from spotify_tracks'")],
        lake: LakeOpt = None,
        fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
        limit: Annotated[int, typer.Option(help="Max rows shown in table format")] = 50,
    ) -> None:
        """Run SQL in DuckDB over the latest snapshot of every dataset (`quarantine_<dataset>` for rejects)."""
        import duckdb

        from ml.lake.catalog import connect
        from ml.lake.storage import Lake

        con = connect(Lake.from_uri(lake or get_settings().lake_uri))
        try:
            df = con.sql(query).df()
        except duckdb.Error as exc:
            raise _fail(str(exc).splitlines()[0]) from None
        finally:
            con.close()
        if fmt == "csv":
            sys.stdout.write(df.to_csv(index=False))
        elif fmt == "json":
            sys.stdout.write(df.to_json(orient="records", date_format="iso") + "\n")
        else:
            t = Table(show_lines=False)
            for c in df.columns:
                t.add_column(str(c))
            for row in df.head(limit).itertuples(index=False):
                t.add_row(*("" if v is None else str(v) for v in row))
            out.print(t)
            if len(df) > limit:
                out.print(f"... {len(df) - limit:,} more rows (use --limit or --format csv)")

    @lake_app.command("coverage")
    def lake_coverage(lake: LakeOpt = None) -> None:
        """How well sources join: Spotify tracks whose artist is known to Last.fm (and MusicBrainz)."""
        from ml.lake.catalog import connect
        from ml.lake.coverage import join_coverage
        from ml.lake.storage import Lake

        con = connect(Lake.from_uri(lake or get_settings().lake_uri))
        try:
            report = join_coverage(con)
        except LookupError as exc:
            raise _fail(str(exc)) from None
        out.print_json(data=report)
