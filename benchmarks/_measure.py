"""Run work in a child process, measuring wall time and peak RSS (psutil polling).

`measure_call(fn, **kwargs)` runs an importable function (e.g. `ml.pipeline.quality_report`);
`run_measured(code)` a Python snippet that prints one JSON line last.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
import time

import psutil


def _peak_rss(pid: int, alive, poll_s: float) -> int:
    ps = psutil.Process(pid)
    peak = 0
    while alive():
        try:
            peak = max(peak, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(poll_s)
    return peak


def _call(fn, kwargs: dict, queue) -> None:
    queue.put(fn(**kwargs))


def measure_call(fn, poll_s: float = 0.05, **kwargs) -> dict:
    """Run `fn(**kwargs)` in a fresh (spawned) process: {"seconds", "peak_rss_mb", "result"}."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    t0 = time.perf_counter()
    proc = ctx.Process(target=_call, args=(fn, kwargs, queue))
    proc.start()
    peak = _peak_rss(proc.pid, lambda: proc.is_alive() and queue.empty(), poll_s)
    result = queue.get() if proc.exitcode in (None, 0) else None
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"benchmark step failed (exit {proc.exitcode})")
    return {"seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(peak / 2**20, 1), "result": result}


def run_measured(code: str, poll_s: float = 0.05) -> dict:
    """Returns {"seconds", "peak_rss_mb", "result"}; the snippet prints one JSON line last."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak = _peak_rss(proc.pid, lambda: proc.poll() is None, poll_s)
    out = proc.stdout.read().strip().splitlines()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed (exit {proc.returncode})")
    return {"seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(peak / 2**20, 1),
            "result": json.loads(out[-1]) if out else None}
