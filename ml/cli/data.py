"""Data commands: `ingest`, `generate`, `sources`, and the `lake` group (ls, sql, coverage, verify, gc).

Thin on purpose: the work is `ml.pipeline.ingest_source` and `ml.lake.*`; errors are
turned into readable lines by the boundary in `ml.cli.errors`.
"""

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
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
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


class _RichProgress:
    """The pipeline's (dataset, rows) progress callback drawn as one rich bar per dataset."""

    def __init__(self, bar: Progress):
        import time

        self.bar, self.tasks, self.clock = bar, {}, time.perf_counter

    def __call__(self, dataset: str, n: int) -> None:
        if dataset not in self.tasks:
            self.tasks[dataset] = (self.bar.add_task(dataset, total=None, rate=""), self.clock())
        task, t0 = self.tasks[dataset]
        self.bar.advance(task, n)
        done = self.bar.tasks[task].completed
        self.bar.update(task, rate=f"{done / max(self.clock() - t0, 1e-9):,.0f} rows/s")

    def finish(self) -> None:
        for task, _ in self.tasks.values():
            self.bar.update(task, total=self.bar.tasks[task].completed)


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
        encoding: Annotated[str | None, typer.Option(
            "--encoding", help="Text encoding of the input (e.g. latin-1, cp1252) [default: the source's own]")] = None,
    ) -> None:
        """Validate a source against its contract and land it as a lake snapshot.

        Every row read is accounted for: accepted rows go to <dataset>/snapshot=YYYY-MM/run=<id>/,
        rejected rows to _quarantine/<dataset>/ with a `reason`, and the manifest at
        _manifests/<dataset>/YYYY-MM.json (the commit) records counts and file hashes.
        Re-running for the same snapshot replaces it atomically; a crash leaves the old one
        whole. gzip / bzip2 / zstd inputs are read as they are.
        """
        from ml.pipeline import ingest_source

        quiet = quiet or as_json
        with _progress(quiet) as bar:
            cb = _RichProgress(bar)
            report = ingest_source(source, path, snapshot, lake, encoding=encoding, progress=cb)
            cb.finish()
        manifests = report.manifests
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
            from ml.pipeline import ingest_source

            with _progress(False) as bar:
                cb = _RichProgress(bar)
                report = ingest_source("synthetic", out_dir, snapshot, lake, progress=cb)
                cb.finish()
            out.print(_summary(report.manifests))

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
        finally:
            con.close()
        out.print_json(data=report)

    @lake_app.command("verify")
    def lake_verify(
        dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset [default: all]")] = None,
        snapshot: SnapshotOpt = None,
        lake: LakeOpt = None,
    ) -> None:
        """Re-hash every file the committed manifests name and compare with their sha256.

        Exit 1 when a file is missing or changed (the lake is damaged: re-ingest that snapshot).
        """
        from ml.lake.commit import verify
        from ml.lake.ingest import validate_snapshot
        from ml.lake.storage import Lake

        if snapshot:
            validate_snapshot(snapshot)
        lk = Lake.from_uri(lake or get_settings().lake_uri)
        report = verify(lk, dataset, snapshot)
        for p in report.problems:
            console.print(f"[bold red]damaged:[/] {p}", highlight=False, markup=True)
        out.print(f"verified {report.snapshots} snapshot(s), {report.files} file(s), {report.bytes / 2**20:,.1f} MiB "
                  f"in {lk.uri}: " + ("ok" if report.ok else f"{len(report.problems)} problem(s)"), highlight=False)
        if not report.ok:
            raise typer.Exit(1)

    @lake_app.command("gc")
    def lake_gc(
        grace: Annotated[float | None, typer.Option(
            "--grace", help="Keep replaced files this many seconds for readers still using them "
                            "[env MUSICML_LAKE_GC_GRACE_S, default 3600]")] = None,
        dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset [default: all]")] = None,
        lake: LakeOpt = None,
    ) -> None:
        """Delete files no committed manifest needs: crashed runs' orphans at once, replaced files after the grace.

        Snapshots being written are skipped (their writer holds the lock); unfinished S3
        multipart uploads are aborted. Also runs after every ingest, for that snapshot.
        """
        from ml.lake.commit import collect_garbage
        from ml.lake.storage import Lake

        lk = Lake.from_uri(lake or get_settings().lake_uri)
        r = collect_garbage(lk, grace, dataset)
        out.print(f"gc {lk.uri}: deleted {len(r.deleted)} file(s) ({r.bytes_freed / 2**20:,.1f} MiB), "
                  f"{r.pending} replaced file(s) kept for the grace period, {r.aborted_uploads} upload(s) aborted"
                  + (f", skipped busy: {', '.join(r.busy)}" if r.busy else ""), highlight=False)
