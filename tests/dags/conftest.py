"""Airflow on a throwaway SQLite metadata DB per test session (embedded default config)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ml.settings import REPO_ROOT


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow_home")
    from ml.airflow_env import airflow_env

    env = airflow_env(home=home, sql_alchemy_conn=f"sqlite:///{home / 'airflow.db'}")
    os.environ.update(env)
    sys.path.insert(0, str(REPO_ROOT / "dags"))
    return home


@pytest.fixture(scope="session")
def migrated_airflow(airflow_home):
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ,
                   capture_output=True)
    return airflow_home


@pytest.fixture(scope="session")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))
