"""Run a Python snippet in a child process, measuring wall time and peak RSS (psutil polling)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil


def run_measured(code: str, poll_s: float = 0.05) -> dict:
    """Returns {"seconds", "peak_rss_mb", "result"}; the snippet prints one JSON line last."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(poll_s)
    out = proc.stdout.read().strip().splitlines()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed (exit {proc.returncode})")
    return {"seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(peak / 2**20, 1),
            "result": json.loads(out[-1]) if out else None}
