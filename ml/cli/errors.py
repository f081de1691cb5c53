"""The error boundary of every `musicml` command: one or two readable lines, a meaningful exit code.

Exit codes: 0 success; 1 the environment failed (a service unreachable or timing out,
storage unusable, configuration invalid, the lake damaged); 2 the input given to the
command is wrong (a bad file, column, value, snapshot name, unknown model). Anything
else is a bug: it says so, and `--debug` (or MUSICML_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import os
import sys
import time
import traceback

import typer
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException  # typer vendors click: its own exception types

INFRA, BAD_INPUT = 1, 2


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:400]


def _settings_error(exc) -> str:
    """pydantic ValidationError of the settings: which variable, what is wrong (never its value)."""
    parts = []
    for err in exc.errors()[:3]:
        field = ".".join(str(x) for x in err.get("loc", ())) or "?"
        parts.append(f"{field.upper()} (env MUSICML_{field.upper()} or its alias): {err.get('msg', 'invalid')}")
    return "invalid configuration: " + "; ".join(parts) + " (see .env.example)"


def _mlflow_error(exc: BaseException) -> str:
    text = str(exc)
    try:
        from ml.settings import get_settings

        s = get_settings()
        uri = s.mlflow_tracking_uri
        tries = f"{s.mlflow_http_request_max_retries + 1} tries of {s.mlflow_http_request_timeout} s"
    except Exception:
        uri, tries = os.environ.get("MLFLOW_TRACKING_URI", "?"), "retries"
    unreachable = ("Max retries exceeded", "Connection refused", "Read timed out", "ConnectTimeout",
                   "timed out", "Failed to establish", "RemoteDisconnected", "Connection aborted")
    if any(u in text for u in unreachable):
        waited = f"{time.monotonic() - BoundaryGroup.started:.0f} s into the command, " if BoundaryGroup.started else ""
        return (f"MLflow tracking server {uri} unreachable ({waited}{tries}); "
                f"check MLFLOW_TRACKING_URI and that the server is up")
    return f"MLflow ({uri}): {_first_line(exc)}"


def classify(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, message) for known failures; None for a bug."""
    from pydantic import ValidationError

    from ml.lake.storage import LakeError
    from ml.sources.base import SourceError

    if isinstance(exc, ValidationError):
        return INFRA, _settings_error(exc)
    if isinstance(exc, LakeError):
        return INFRA, _first_line(exc)
    if isinstance(exc, SourceError | typer.BadParameter):
        return BAD_INPUT, _first_line(exc)
    mod = type(exc).__module__ or ""
    if type(exc).__name__ == "SnapshotError" or isinstance(exc, LookupError):
        return BAD_INPUT, _first_line(exc)
    if mod.startswith("mlflow") or mod.startswith(("requests", "urllib3")):
        return INFRA, _mlflow_error(exc)
    if mod.startswith("ml.sources.api"):
        # refused requests (4xx: bad id, bad credentials) are the input's fault; outages are not
        return (INFRA if getattr(exc, "retryable", True) else BAD_INPUT), f"API error: {_first_line(exc)}"
    if mod.startswith(("botocore", "boto3")):
        return INFRA, f"S3: {_first_line(exc)}; check MUSICML_S3_ENDPOINT_URL, the bucket and credentials"
    if mod.startswith(("psycopg", "sqlalchemy")):
        return INFRA, f"PostgreSQL: {_first_line(exc)}; check the server and the connection URL"
    if mod.startswith("redis"):
        return INFRA, f"Redis: {_first_line(exc)}; check the server and the broker URL"
    if mod.startswith("duckdb") and type(exc).__name__ in {"IOException", "HTTPException"}:
        return INFRA, f"reading the lake: {_first_line(exc)}; run `musicml lake verify`"
    if isinstance(exc, OSError):
        msg = _first_line(exc)
        if ".parquet" in msg:
            msg += " (a lake file is missing or unreadable: run `musicml lake verify`)"
        return INFRA, msg
    return None


def _debug_requested(args: list[str]) -> tuple[list[str], bool]:
    debug = os.environ.get("MUSICML_DEBUG", "").lower() in {"1", "true", "yes"}
    if "--debug" in args:
        debug = True
        args = [a for a in args if a != "--debug"]
    return args, debug


class BoundaryGroup(TyperGroup):
    """The root `musicml` group: wraps every command (and subcommand) in the error boundary."""

    debug = False
    started: float | None = None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        BoundaryGroup.started = time.monotonic()
        args, BoundaryGroup.debug = _debug_requested(list(sys.argv[1:] if args is None else args))
        return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                            standalone_mode=standalone_mode, **extra)

    def invoke(self, ctx):
        from ml.cli.data import console

        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):  # exits, usage errors: typer reports them itself
            raise
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as exc:
            known = classify(exc)
            if BoundaryGroup.debug:
                console.print(traceback.format_exc(), markup=False, highlight=False)
            if known is None:
                hint = "" if BoundaryGroup.debug else "\nrun again with --debug for the traceback"
                console.print(f"[bold red]internal error[/] (a bug, please report it): "
                              f"{escape(type(exc).__name__ + ': ' + _first_line(exc))}{hint}",
                              highlight=False, soft_wrap=True)
                raise typer.Exit(INFRA) from None
            code, message = known
            console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None
