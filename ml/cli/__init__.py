"""`musicml`: the command line of the platform. Every ML step is a command; DAGs call the same functions."""

from __future__ import annotations

import typer

from ml.cli import data, models, registry, serving

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
)
data.register(app)
models.register(app)
registry.register(app)
serving.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
