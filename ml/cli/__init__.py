"""`musicml`: the command line of the platform. Every ML step is a command; DAGs call the same functions.

Every command runs inside the error boundary of `ml.cli.errors`: exit 1 when the
environment fails (services, storage, configuration), 2 for bad input, a one- or
two-line message either way; `--debug` anywhere on the line shows the traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ml.cli import data, models, registry, serving
from ml.cli.errors import BoundaryGroup

app = typer.Typer(
    name="musicml",
    help=(
        "music-mlops: ingest music data into the lake, train and evaluate models, "
        "manage the MLflow registry.\n\n"
        "Configuration comes from env vars / .env (see .env.example): MUSICML_LAKE_URI, "
        "MLFLOW_TRACKING_URI, SPOTIFY_CLIENT_ID, ..."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    cls=BoundaryGroup,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="On an error, show the full traceback (also MUSICML_DEBUG=1)")] = False,
) -> None:
    """Exit codes: 0 ok, 1 the environment failed (service, storage, configuration), 2 bad input."""


data.register(app)
models.register(app)
registry.register(app)
serving.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
