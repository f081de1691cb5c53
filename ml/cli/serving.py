"""Serving commands: `bento build`, `serve`, `serving compact` (prediction log -> lake)."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated

import typer
from rich.table import Table

from ml.cli.data import _fail, out


def register(app: typer.Typer) -> None:
    bento = typer.Typer(help="Build the music bento from the MLflow aliases (BentoML model store under "
                             "BENTOML_HOME, default .work/bentoml).", no_args_is_help=True)
    app.add_typer(bento, name="bento")

    @bento.command("build")
    def build_cmd(
        alias: Annotated[str, typer.Option(help="MLflow alias whose versions the bento serves")] = "champion",
        models: Annotated[str | None, typer.Option(help="Comma list of models (default: all six)")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the build summary as JSON")] = False,
    ) -> None:
        """Import each model's version behind ALIAS into the BentoML model store and build the bento."""
        from ml.serving.store import build_bento

        names = [m.strip().replace("-", "_") for m in models.split(",")] if models else None
        try:
            summary = build_bento(alias, names)
        except LookupError as exc:
            raise _fail(str(exc)) from None
        if as_json:
            print(json.dumps(summary, indent=2))
            return
        t = Table(title=f"bento {summary['bento']} (alias {alias})")
        for c in ("model", "registered", "version", "run", "lake fingerprint", "BentoML model"):
            t.add_column(c)
        for name, e in summary["models"].items():
            t.add_row(name, e["registered_name"], e["version"], e["run_id"][:12], e["fingerprint"], e["tag"])
        for name, why in summary["skipped"].items():
            t.add_row(name, "-", "-", "-", "-", f"[yellow]not served: {why}[/]")
        out.print(t)
        out.print(f"model store: {summary['bentoml_home']}   serve it: musicml serve  (or make serve)")

    @app.command("serve")
    def serve_cmd(
        port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 3000,
        host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
        target: Annotated[str, typer.Option(help="Bento tag (e.g. music:latest) or import path of the service")]
        = "bentos.service:MusicAPI",
    ) -> None:
        """Serve the bento (models from bentos/serving_manifest.json); Ctrl-C stops it cleanly."""
        import subprocess

        from ml.serving.runner import serve_command, serve_env
        from ml.serving.store import manifest_path
        from ml.settings import REPO_ROOT

        if ":" in target and not target.startswith("bentos.") and not manifest_path().exists():
            pass  # a built bento carries its own manifest
        elif not manifest_path().exists():
            raise _fail(f"no serving manifest at {manifest_path()}: run `musicml bento build` first")
        out.print(f"serving on http://{host}:{port}  (Swagger UI: http://{host}:{port}/docs, "
                  f"metrics: /metrics, readiness: /readyz). Ctrl-C stops.")
        proc = subprocess.Popen(serve_command(target, port, host), cwd=REPO_ROOT, env=serve_env())
        signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGINT))
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # the terminal already sent SIGINT to the whole group
            code = proc.wait()
        sys.exit(0 if code in (0, -2, 130) else code)

    srv = typer.Typer(help="Serving data: prediction and feedback logs.", no_args_is_help=True)
    app.add_typer(srv, name="serving")

    @srv.command("compact")
    def compact_cmd(
        stream: Annotated[str, typer.Option(help="predictions | feedback")] = "predictions",
        month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month)")] = None,
    ) -> None:
        """Land a month of the prediction (or feedback) log in the lake through its contract."""
        from ml.serving.predlog import STREAMS, compact

        if stream not in STREAMS:
            raise _fail(f"unknown stream {stream!r}: choose predictions or feedback")
        try:
            res = compact(stream, month)
        except Exception as exc:  # noqa: BLE001 - an empty month or an unreachable database: say which
            raise _fail(f"compaction failed: {type(exc).__name__}: {exc}") from None
        print(json.dumps(res))
