"""Run the service as a real `bentoml serve` process: start, wait for /readyz, stop with SIGINT.

Used by `musicml serve`, `make demo`, `make bench-serve` and the subprocess tests, so they all run
the service exactly as production does (one process per service, BentoML's own server stack).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ml.serving.config import bentoml_home
from ml.settings import REPO_ROOT, get_settings

SERVICE = "bentos.service:MusicAPI"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(target: str = SERVICE, port: int = 3000, host: str = "127.0.0.1") -> list[str]:
    exe = Path(sys.executable).with_name("bentoml")
    cmd = [str(exe) if exe.exists() else "bentoml", "serve", target, "--host", host, "--port", str(port)]
    return cmd


def serve_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the project's work dir and model store, whatever the bento's cwd."""
    env = dict(os.environ)
    env.setdefault("MUSICML_WORK_DIR", str(get_settings().work_dir))
    env["BENTOML_HOME"] = str(bentoml_home())
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")  # no usage analytics calls (no internet here anyway)
    env.setdefault("OMP_NUM_THREADS", "1")  # small requests: threads spin-wait more than they help on 2 cores
    env.update(extra or {})
    return env


class Server:
    """A `bentoml serve` subprocess on a port; a context manager that stops it with SIGINT."""

    def __init__(self, port: int | None = None, target: str = SERVICE, env: dict[str, str] | None = None,
                 log_path: Path | None = None, cwd: Path = REPO_ROOT):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target, self.cwd = target, cwd
        self.env = serve_env(env)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.ready_seconds: float | None = None

    def start(self, timeout: float = 120.0) -> Server:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(serve_command(self.target, self.port), cwd=self.cwd, env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=2.0) as c:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"bentoml serve exited with {self.proc.returncode}" + self._tail())
                try:
                    if c.get(f"{self.url}/readyz").status_code == 200:
                        self.ready_seconds = time.perf_counter() - self.started_at
                        return self.ready_seconds
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"service not ready after {timeout:.0f} s" + self._tail())

    def _tail(self) -> str:
        if self.log_path and Path(self.log_path).exists():
            return "\n" + Path(self.log_path).read_text(errors="replace")[-3000:]
        return ""

    def pids(self) -> list[int]:
        """The server process and its children (BentoML runs each service in a worker process)."""
        import psutil

        if self.proc is None:
            return []
        try:
            p = psutil.Process(self.proc.pid)
            return [p.pid, *(c.pid for c in p.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        import psutil

        total = 0
        for pid in self.pids():
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 2**20

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGINT (Ctrl-C) the process group, as a terminal would; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL the whole process group (the crash test)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
