"""`make up`: MLflow UI + Airflow (standalone) + the bento (when built) on localhost with the embedded config.

Starts `mlflow server` (SQLite backend, local artifacts) and `airflow standalone`
(api-server, scheduler, dag-processor, triggerer), prints the URLs and where the admin
password is, and stops both cleanly on Ctrl-C (SIGINT). `make down` stops a stack left
running in the background (pid file under .airflow/).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ml.airflow_env import airflow_env
from ml.settings import REPO_ROOT, get_settings

PIDFILE = "devstack.pids"


def _env() -> dict[str, str]:
    env = {**os.environ, **airflow_env()}
    env["PATH"] = f"{REPO_ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return env


def up(mlflow_port: int = 5000) -> None:
    settings = get_settings()
    env = _env()
    home = Path(env["AIRFLOW_HOME"])
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    artifacts = Path(settings.mlflow_artifact_root).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    mlflow_cmd = ["mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port),
                  "--backend-store-uri", settings.mlflow_tracking_uri,
                  "--default-artifact-root", artifacts.as_uri(), "--workers", "1"]
    procs = [
        subprocess.Popen(mlflow_cmd, env=env, stdout=open(home / "mlflow-server.log", "ab"), stderr=subprocess.STDOUT),
        subprocess.Popen(["airflow", "standalone"], env=env, stdout=open(home / "standalone.log", "ab"),
                         stderr=subprocess.STDOUT),
    ]
    from ml.serving.runner import serve_command, serve_env
    from ml.serving.store import manifest_path

    if manifest_path().exists():  # the bento built by `make demo` / `musicml bento build`
        procs.append(subprocess.Popen(serve_command(port=3000), cwd=REPO_ROOT, env=serve_env(env),
                                      stdout=open(home / "bento-serve.log", "ab"), stderr=subprocess.STDOUT))
        print("Bento:       http://127.0.0.1:3000/docs   (log: " + str(home / "bento-serve.log") + ")")
    else:
        print("Bento:       not started (no bentos/serving_manifest.json: run `make demo` or `musicml bento build`)")
    (home / PIDFILE).write_text("\n".join(str(p.pid) for p in procs))
    print(f"MLflow UI:   http://127.0.0.1:{mlflow_port}   (log: {home / 'mlflow-server.log'})")
    print(f"Airflow UI:  http://127.0.0.1:{env['AIRFLOW__API__PORT']}   (log: {home / 'standalone.log'})")
    print(f"Airflow admin password: {home / 'simple_auth_manager_passwords.json.generated'} (user: admin)")
    print("DAGs: music_ingest (monthly), music_train (on lake assets). Ctrl-C stops everything.")

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        (home / PIDFILE).unlink(missing_ok=True)
        print("stopped")
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(p.poll() is None for p in procs):
        time.sleep(1)
    print("a component exited; stopping the rest (see logs)")
    stop()


def down() -> None:
    home = Path(airflow_env()["AIRFLOW_HOME"])
    pidfile = home / PIDFILE
    if not pidfile.exists():
        print("nothing running")
        return
    for pid in map(int, pidfile.read_text().split()):
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    pidfile.unlink(missing_ok=True)
    print("sent SIGINT to the dev stack")


if __name__ == "__main__":
    down() if sys.argv[1:] == ["down"] else up()
