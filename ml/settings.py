"""One typed settings object for the whole platform, read from env vars and `.env`.

Every knob is an env var (see `.env.example`). Platform settings use the `MUSICML_`
prefix; credentials and well-known tool settings keep their conventional names
(`SPOTIFY_CLIENT_ID`, `MLFLOW_TRACKING_URI`, ...). Secrets are `SecretStr`, so they never
show up in reprs or logs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _alias(name: str) -> AliasChoices:
    """Accept both the conventional name and the `MUSICML_` one."""
    return AliasChoices(name, f"MUSICML_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MUSICML_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- lake ---
    lake_uri: str = Field(".lake", description="Local folder or s3://bucket/prefix")
    s3_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("MUSICML_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
        description="S3-compatible endpoint (MinIO, moto); unset for AWS",
    )
    aws_region: str = Field("us-east-1", validation_alias=_alias("AWS_DEFAULT_REGION"))
    shared_data_dir: Path = Field(
        REPO_ROOT.parent / "shared" / "data",
        validation_alias=AliasChoices("MUSICML_SHARED_DATA", "MUSICML_SHARED_DATA_DIR"),
        description="Real datasets for tests and quality benchmarks (never copied into the repo)",
    )
    work_dir: Path = Field(REPO_ROOT / ".work", description="Scratch space: synthetic raw files, caches")

    # --- tracking / orchestration ---
    mlflow_tracking_uri: str = Field(
        f"sqlite:///{REPO_ROOT / '.mlflow' / 'mlflow.db'}", validation_alias=_alias("MLFLOW_TRACKING_URI")
    )
    mlflow_artifact_root: str = Field(str(REPO_ROOT / ".mlflow" / "artifacts"))
    airflow_home: Path = Field(REPO_ROOT / ".airflow", validation_alias=_alias("AIRFLOW_HOME"))
    postgres_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        description="Production-style metadata DB server (Airflow, MLflow)",
    )

    # --- compute caps (defaults fit the 2-core reference machine; raise them on bigger boxes) ---
    torch_max_threads: int = Field(2, ge=1, description="Most intra-op threads any torch model may use")
    train_max_active_tasks: int = Field(2, ge=1, description="music_train tasks running at once (one model each)")

    # --- external APIs (credentials only from env, never in code) ---
    spotify_client_id: SecretStr | None = Field(None, validation_alias=_alias("SPOTIFY_CLIENT_ID"))
    spotify_client_secret: SecretStr | None = Field(None, validation_alias=_alias("SPOTIFY_CLIENT_SECRET"))
    spotify_api_base: str = "https://api.spotify.com/v1"
    spotify_accounts_base: str = "https://accounts.spotify.com"
    lastfm_api_key: SecretStr | None = Field(None, validation_alias=_alias("LASTFM_API_KEY"))
    lastfm_api_base: str = "https://ws.audioscrobbler.com/2.0/"
    musicbrainz_user_agent: str | None = Field(None, validation_alias=_alias("MUSICBRAINZ_USER_AGENT"))
    musicbrainz_api_base: str = "https://musicbrainz.org/ws/2"
    http_cache_dir: Path = Field(REPO_ROOT / ".work" / "http-cache")
    http_timeout_s: float = 10.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
