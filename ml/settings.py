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

    # --- lake safety: one writer per snapshot, garbage collection, bounded S3 waits ---
    lake_lock_wait_s: float = Field(
        120.0, ge=0, description="How long a second ingest of the same dataset snapshot waits for the first one")
    lake_lease_ttl_s: float = Field(
        60.0, gt=0, description="S3 only: a writer's lease expires this long after its last heartbeat")
    lake_gc_grace_s: float = Field(
        3600.0, ge=0, description="Files of a replaced snapshot stay this long for readers that still use them")
    s3_connect_timeout_s: float = Field(5.0, gt=0)
    s3_read_timeout_s: float = Field(20.0, gt=0)
    s3_max_attempts: int = Field(3, ge=1, description="Tries per S3 request (first try included)")
    s3_multipart_mb: int = Field(64, ge=5, description="Files above this size upload in parts of this size")

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
    # Bounded waits on every service: an unreachable server fails in seconds, not minutes.
    # MLflow's own variables (read by its HTTP client); 3 tries x 6 s + backoff stays under 30 s.
    mlflow_http_request_timeout: int = Field(6, ge=1, validation_alias=_alias("MLFLOW_HTTP_REQUEST_TIMEOUT"))
    mlflow_http_request_max_retries: int = Field(2, ge=0, validation_alias=_alias("MLFLOW_HTTP_REQUEST_MAX_RETRIES"))
    mlflow_http_request_backoff_factor: int = Field(
        1, ge=0, validation_alias=_alias("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"))
    postgres_connect_timeout_s: int = Field(10, ge=1, description="libpq connect_timeout for every PostgreSQL URL we hand out")
    redis_socket_timeout_s: float = Field(10.0, gt=0, description="Redis (Celery broker) connect and socket timeout")

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


    @property
    def mlflow_failure_bound_s(self) -> float:
        """Worst case before an unreachable tracking server is reported (tries x timeout + backoff + jitter)."""
        retries = self.mlflow_http_request_max_retries
        backoff = sum(self.mlflow_http_request_backoff_factor * 2 ** (n - 1) for n in range(2, retries + 1))
        return (retries + 1) * self.mlflow_http_request_timeout + backoff + retries

    def mlflow_env(self) -> dict[str, str]:
        """The env vars MLflow's HTTP client reads: set them before talking to a tracking server."""
        return {
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.mlflow_http_request_timeout),
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.mlflow_http_request_max_retries),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(self.mlflow_http_request_backoff_factor),
        }

    def with_postgres_timeout(self, url: str) -> str:
        """`url` with libpq's connect_timeout (kept if the URL already sets one)."""
        if not url.startswith(("postgresql", "postgres:", "db+postgresql")) or "connect_timeout=" in url:
            return url
        return f"{url}{'&' if '?' in url else '?'}connect_timeout={self.postgres_connect_timeout_s}"

    def redis_options(self) -> dict[str, float]:
        """Socket timeouts for redis-py / Celery broker transport options."""
        return {"socket_connect_timeout": self.redis_socket_timeout_s, "socket_timeout": self.redis_socket_timeout_s}

    def redis_client(self, url: str):
        """A redis-py client whose waits are bounded: the timeouts above, one retry, no long backoff
        (redis-py's default retries a timeout 3 times with backoff: 26 s against a silent server)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **self.redis_options())


@lru_cache
def get_settings() -> Settings:
    return Settings()
