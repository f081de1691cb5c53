"""Environment for running Airflow on the embedded defaults (SQLite + LocalExecutor).

`make up`, `make demo` and the tests set these before importing Airflow. Production
(PostgreSQL metadata DB, CeleryExecutor + Redis in compose) sets the same variables
to other values; nothing here is hard-wired into the DAGs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ml.settings import REPO_ROOT, get_settings


def _jwt_secret(home: Path) -> str:
    """One secret per AIRFLOW_HOME, shared by every Airflow component started from it."""
    path = home / "jwt_secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def airflow_env(home: Path | None = None, sql_alchemy_conn: str | None = None) -> dict[str, str]:
    settings = get_settings()
    home = Path(home or settings.airflow_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    conn = sql_alchemy_conn or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
    redis_opts = settings.redis_options()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        # bounded waits: libpq connect_timeout on PostgreSQL, socket timeouts on the Redis broker
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.with_postgres_timeout(conn),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SOCKET_TIMEOUT": str(redis_opts["socket_timeout"]),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__SOCKET_CONNECT_TIMEOUT": str(redis_opts["socket_connect_timeout"]),
        "AIRFLOW__API__HOST": os.environ.get("AIRFLOW__API__HOST", "127.0.0.1"),
        "AIRFLOW__API__PORT": os.environ.get("AIRFLOW__API__PORT", "8080"),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or _jwt_secret(home),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }


def apply_airflow_env(**kw) -> dict[str, str]:
    env = airflow_env(**kw)
    os.environ.update(env)
    return env


if __name__ == "__main__":  # `eval $(python -m ml.airflow_env)` in a shell
    for k, v in airflow_env().items():
        print(f"export {k}={v}")
