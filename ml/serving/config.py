"""Serving settings: env vars with the `MUSICML_` prefix (documented in .env.example and bentos/README.md).

`BENTOML_HOME` (BentoML's own variable) decides where the model store and bentos live; by default it
is `<work_dir>/bentoml`, inside the project's ignored work dir. `bentoml_home()` sets it before the
first `import bentoml`, which is when BentoML reads it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ml.settings import get_settings

SERVED_MODELS = ("genre", "mood", "popularity", "audio_features", "recommender", "streams")


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUSICML_", env_file=".env", extra="ignore")

    variant: str = Field("champion", description="the variant this instance serves (reported in every response)")
    serve_alias: str = Field("champion", description="MLflow alias the bento was built from / reloads from")
    admin_token: SecretStr | None = Field(None, description="bearer token for /admin/*; unset = admin disabled (401)")
    prediction_log_url: str | None = Field(
        None, description="postgresql://... for production; unset = append-only files under <work_dir>/prediction_log")
    prediction_log_dir: Path | None = None
    log_flush_seconds: float = Field(0.25, gt=0, le=10, description="background flush period (the SIGKILL loss bound)")
    log_flush_rows: int = Field(2000, ge=1, description="flush early once this many rows wait")
    log_buffer_rows: int = Field(200_000, ge=1000, description="rows held in memory at most; beyond: dropped + counted")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="request bodies above this answer 413")
    unit_key_salt: str = Field("musicml", description="salt of the unit_key hash (never a raw user id in logs)")
    serve_models: str = Field(",".join(SERVED_MODELS), description="models the bento serves (comma list)")

    @property
    def log_dir(self) -> Path:
        return self.prediction_log_dir or get_settings().work_dir / "prediction_log"

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m.strip().replace("-", "_") for m in self.serve_models.split(",") if m.strip())


@lru_cache
def serving_settings() -> ServingSettings:
    return ServingSettings()


def bentoml_home() -> Path:
    """Where the BentoML model store lives; set before bentoml is imported."""
    home = os.environ.get("BENTOML_HOME")
    if not home:
        home = str(get_settings().work_dir / "bentoml")
        os.environ["BENTOML_HOME"] = home
    Path(home).mkdir(parents=True, exist_ok=True)
    return Path(home)
