"""Our Prometheus series (beside BentoML's own `bentoml_service_*` request metrics on the same /metrics).

Created on first use, never at import: under `bentoml serve` every worker gets
`PROMETHEUS_MULTIPROC_DIR` before the service is built, and prometheus_client decides at metric
creation whether to write multiprocess files (which BentoML's /metrics aggregates for the graph).
Created any earlier, the series would live in one process's memory and never show up.

Series (labels: model, variant, endpoint where they apply):
musicml_requests_total{endpoint,variant,code}       answered requests by HTTP status
musicml_errors_total{endpoint,variant,kind}         validation | too_large | unsupported_media | unauthorized |
                                                    not_found | internal
musicml_request_latency_seconds{endpoint,variant}   whole request inside the service (histogram)
musicml_predictions_total{model,variant}            predictions made (rows)
musicml_model_latency_seconds{model,variant}        in-process model time per request (histogram)
musicml_top_genre_total{variant,super_genre}        distribution of the top super-genre
musicml_top_mood_total{variant,mood}                distribution of the top mood
musicml_popularity_predicted{variant}               histogram of predicted popularity (0-100)
musicml_recommend_cold_start_total{variant}         cold-start recommendation requests
musicml_prediction_log_buffer_rows{stream}          rows waiting for the background flush
musicml_prediction_log_written_total{stream}, musicml_prediction_log_dropped_total{stream}
musicml_model_info{model,variant,registered_name,version,alias}  1 for each served model version
"""

from __future__ import annotations

import threading
from functools import lru_cache

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_lock = threading.Lock()


class Metrics:
    def __init__(self):
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("musicml_requests_total", "Answered requests by HTTP status",
                                ["endpoint", "variant", "code"])
        self.errors = Counter("musicml_errors_total", "Failed requests by kind", ["endpoint", "variant", "kind"])
        self.request_latency = Histogram("musicml_request_latency_seconds", "Request time inside the service",
                                         ["endpoint", "variant"], buckets=LATENCY_BUCKETS)
        self.predictions = Counter("musicml_predictions_total", "Predictions made (rows)", ["model", "variant"])
        self.model_latency = Histogram("musicml_model_latency_seconds", "In-process model time per request",
                                       ["model", "variant"], buckets=LATENCY_BUCKETS)
        self.top_genre = Counter("musicml_top_genre_total", "Top super-genre predicted", ["variant", "super_genre"])
        self.top_mood = Counter("musicml_top_mood_total", "Top mood predicted", ["variant", "mood"])
        self.popularity = Histogram("musicml_popularity_predicted", "Predicted popularity", ["variant"],
                                    buckets=tuple(range(10, 101, 10)))
        self.cold_start = Counter("musicml_recommend_cold_start_total", "Cold-start recommendation requests",
                                  ["variant"])
        self.log_buffer = Gauge("musicml_prediction_log_buffer_rows", "Log rows waiting for the flush", ["stream"],
                                multiprocess_mode="livesum")
        self.log_written = Counter("musicml_prediction_log_written_total", "Log rows written", ["stream"])
        self.log_dropped = Counter("musicml_prediction_log_dropped_total", "Log rows dropped (buffer full)",
                                   ["stream"])
        self.model_info = Gauge("musicml_model_info", "Served model versions",
                                ["model", "variant", "registered_name", "version", "alias"], multiprocess_mode="liveall")


@lru_cache(maxsize=1)
def _metrics() -> Metrics:
    with _lock:
        return Metrics()


def metrics() -> Metrics:
    return _metrics()


def error_kind(status: int) -> str | None:
    if status < 400:
        return None
    return {400: "validation", 422: "validation", 401: "unauthorized", 403: "unauthorized", 404: "not_found",
            405: "not_found", 413: "too_large", 415: "unsupported_media", 503: "unavailable"}.get(
        status, "internal" if status >= 500 else "client")
