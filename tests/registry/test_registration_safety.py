"""All-or-nothing registration against a real MLflow tracking server, and bounded waits.

Before: a server that died right after `model-versions/create` left a READY version with
none of our tags, and it became "latest" (what predict and the gate use); an unreachable
server meant minutes of silence, then a traceback (`registry status`: 4 min 12 s).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import mlflow
import pytest
from typer.testing import CliRunner

from ml.models import get_spec
from ml.registry import tracking
from ml.registry.tracking import RegisteredRun, register_run
from ml.settings import Settings, get_settings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """Start (and restart) `mlflow server` on one SQLite store; yields start() -> (process, url)."""
    procs = []

    def start():
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
             "--default-artifact-root", (tmp_path / "artifacts").as_uri(), "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "mlflow server exited"
            time.sleep(0.3)
        raise AssertionError("mlflow server did not start")

    yield start
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


class _Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def _logged_run(spec) -> RegisteredRun:
    tracking.configure_mlflow()
    tracking.experiment_for(spec)
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=_Echo(), pip_requirements=[])
        mlflow.log_metric("top1", 0.5)
    return RegisteredRun(model=spec.name, registered_name=spec.registered_name, version="", run_id=run.info.run_id,
                         metrics={"top1": 0.5}, baseline={}, split="test", synthetic=True, train_seconds=0.0,
                         peak_rss_mb=0.0, model_uri=info.model_uri)


def _use(url, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    get_settings.cache_clear()
    return tracking.configure_mlflow()


def test_server_killed_mid_registration_leaves_nothing_that_counts(mlflow_server, monkeypatch):
    spec = get_spec("genre")
    proc, url = mlflow_server()
    client = _use(url, monkeypatch)
    first = register_run(spec, _logged_run(spec))
    client.set_registered_model_alias(spec.registered_name, "champion", first.version)
    second = _logged_run(spec)

    created = mlflow.register_model

    def create_then_die(*a, **kw):  # the server dies right after model-versions/create
        mv = created(*a, **kw)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return mv

    monkeypatch.setattr(mlflow, "register_model", create_then_die)
    t0 = time.monotonic()
    with pytest.raises(mlflow.exceptions.MlflowException):
        register_run(spec, second)
    assert time.monotonic() - t0 < Settings().mlflow_failure_bound_s + 5
    monkeypatch.setattr(mlflow, "register_model", created)

    _, url2 = mlflow_server()  # the same store, restarted
    client = _use(url2, monkeypatch)
    name = spec.registered_name
    half = client.get_model_version(name, "2")
    assert half.tags.get(tracking.COMPLETE_TAG) == "false" and not tracking.is_complete(half)
    assert tracking.latest_complete_version(name) == first.version == "1"
    assert tracking.model_uri(name) == f"models:/{name}/1"  # predict's default: the complete one
    assert tracking.incomplete_versions(name) == ["2"]
    assert client.get_model_version_by_alias(name, "champion").version == "1"  # no alias moved
    from ml.registry.promotion import evaluate_gate

    with pytest.raises(LookupError, match="incomplete"):
        evaluate_gate("genre", "2")  # the gate refuses it: no alias can move to it
    from ml.cli import app

    status = CliRunner().invoke(app, ["registry", "status", "genre"])
    assert status.exit_code == 0 and "v2" in status.output, status.output
    # a retry completes the same version instead of adding a third
    again = register_run(spec, second)
    assert again.version == "2" and tracking.latest_complete_version(name) == "2"
    assert len(client.search_model_versions(f"name='{name}'")) == 2


def _status_against(uri: str, monkeypatch):
    """`musicml registry status` in-process (the wait measured is MLflow's, not Python's start-up)."""
    for k in [k for k in os.environ if k.startswith("MLFLOW_HTTP_REQUEST")]:
        monkeypatch.delenv(k)  # our defaults, from Settings
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    from ml.cli import app

    t0 = time.monotonic()
    r = CliRunner().invoke(app, ["registry", "status", "genre"])
    return r, time.monotonic() - t0


def test_unreachable_tracking_server_fails_within_30_s_with_one_line(monkeypatch):
    r, elapsed = _status_against(f"http://127.0.0.1:{_free_port()}", monkeypatch)  # nothing listens: refused
    assert r.exit_code == 1 and elapsed < 30, (elapsed, r.output)
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) <= 2 and "unreachable" in lines[0] and "MLFLOW_TRACKING_URI" in r.output, r.output
    print(f"refused tracking server: exit 1 after {elapsed:.1f} s")


def test_silent_tracking_server_fails_within_30_s_with_one_line(monkeypatch):
    with socket.socket() as silent:  # accepts connections (kernel backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        r, elapsed = _status_against(f"http://127.0.0.1:{silent.getsockname()[1]}", monkeypatch)
    assert r.exit_code == 1 and elapsed < min(30, Settings().mlflow_failure_bound_s + 3), (elapsed, r.output)
    assert "unreachable" in r.output and "Traceback" not in r.output, r.output
    print(f"silent tracking server: exit 1 after {elapsed:.1f} s")
