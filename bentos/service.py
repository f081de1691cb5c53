"""The music BentoML service: thin APIs over `ml.serving.host.ServingHost` (every decision lives in ml/).

`bentoml serve bentos.service:MusicAPI` (or `make serve`) serves the models named in
bentos/serving_manifest.json (written by `musicml bento build` from the MLflow aliases). One instance
serves one variant (`MUSICML_VARIANT`, default champion) and names it, with each model's version, in
every response; a challenger runs as a second instance (`MUSICML_VARIANT=challenger
MUSICML_SERVE_ALIAS=challenger`), which is what the A/B router in front will call.

Public: POST /classify /popularity /audio-features /recommend /similar /streams /feedback, GET /version.
Admin (bearer token): POST /admin/reload. Built in: /healthz /livez /readyz /metrics, Swagger UI at /
(and /docs), OpenAPI at /docs.json.
"""

from __future__ import annotations

import logging

from ml.serving.config import bentoml_home, serving_settings

bentoml_home()  # before bentoml reads BENTOML_HOME

import anyio.to_thread  # noqa: E402
import bentoml  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, RedirectResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from ml.serving import schemas as S  # noqa: E402
from ml.serving.asgi import ServingMiddleware, current_request_id  # noqa: E402
from ml.serving.host import ModelUnavailable, ServingHost  # noqa: E402

ENDPOINTS = ("classify", "popularity", "audio-features", "recommend", "similar", "streams", "feedback")
THREAD_ABOVE = 64  # rows: bigger batches run in a worker thread so the event loop keeps answering
_HOSTS: list[ServingHost] = []  # the running instance's host, for the plain Starlette routes below


class _QuietValidation(logging.Filter):
    """BentoML logs a traceback for every 400; a client's bad input is not a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ValidationError)


async def version(_request):
    if not _HOSTS:
        return JSONResponse({"error": "models are still loading"}, status_code=503)
    return JSONResponse(_HOSTS[0].version())


async def docs(_request):
    return RedirectResponse("/", status_code=307)


ops = Starlette(routes=[Route("/version", version, methods=["GET"]), Route("/docs", docs, methods=["GET"])])
cfg = serving_settings()


@bentoml.asgi_app(ops, path="/")
@bentoml.service(
    name="music",
    workers=1,
    traffic={"timeout": 60, "max_concurrency": 512},
    labels={"owner": "ml-platform", "project": "music-mlops"},
)
class MusicAPI:
    def __init__(self) -> None:
        logging.getLogger("bentoml._internal.server.http_app").addFilter(_QuietValidation())
        self.host = ServingHost()
        _HOSTS[:] = [self.host]

    def __is_ready__(self) -> bool:
        return self.host.ready

    @bentoml.on_shutdown
    def _flush_logs(self) -> None:
        self.host.close()  # flushes the prediction log buffers (graceful shutdown loses nothing)

    async def _answer(self, fn, req, rows: int = 1):
        rid = current_request_id()
        try:
            if rows > THREAD_ABOVE:
                return await anyio.to_thread.run_sync(fn, req, rid)
            return fn(req, rid)
        except ModelUnavailable as exc:
            return JSONResponse({"error": str(exc), "request_id": rid}, status_code=503)
        finally:
            self.host.sync_log_metrics()

    @bentoml.api(route="/classify")
    async def classify(self, req: S.ClassifyRequest, /) -> S.ClassifyResponse:
        """Genre (fine + super-genre top-k) and mood for one track or up to 1,000."""
        return await self._answer(self.host.classify, req, req.n)

    @bentoml.api(route="/popularity")
    async def popularity(self, req: S.PopularityRequest, /) -> S.PopularityResponse:
        """Popularity 0-100 with an 80% interval; `explain: true` adds the top SHAP contributions."""
        return await self._answer(self.host.popularity, req, req.n)

    @bentoml.api(route="/audio-features")
    async def audio_features(self, req: S.AudioFeaturesRequest, /) -> S.AudioFeaturesResponse:
        """The eight audio features (+ std and confidence) from metadata alone."""
        return await self._answer(self.host.audio_features, req, req.n)

    @bentoml.api(route="/recommend")
    async def recommend(self, req: S.RecommendRequest, /) -> S.RecommendResponse:
        """Artist (+ track) recommendations for a known or unknown user."""
        return await self._answer(self.host.recommend, req)

    @bentoml.api(route="/similar")
    async def similar(self, req: S.SimilarRequest, /) -> S.SimilarResponse:
        """Nearest tracks (FAISS, audio + genre space) or artists (tag space)."""
        return await self._answer(self.host.similar, req)

    @bentoml.api(route="/streams")
    async def streams(self, req: S.StreamsRequest, /) -> S.StreamsResponse:
        """Next-week streams of a track in a region from its recent chart history."""
        return await self._answer(self.host.streams, req)

    @bentoml.api(route="/feedback")
    async def feedback(self, req: S.FeedbackRequest, /, ctx: bentoml.Context) -> S.FeedbackResponse:
        """A play / skip / save / complete / label event on a served prediction (joins by request_id). 202."""
        ctx.response.status_code = 202
        return self.host.feedback_event(req)

    @bentoml.api(route="/admin/reload")
    async def admin_reload(self, req: S.ReloadRequest, /) -> S.ReloadResponse:
        """Re-import the versions behind the alias and swap them in atomically (bearer token required)."""
        try:
            return await anyio.to_thread.run_sync(self.host.reload, req.alias)
        except LookupError as exc:
            return JSONResponse({"error": str(exc), "request_id": current_request_id()}, status_code=409)


MusicAPI.add_asgi_middleware(
    ServingMiddleware, endpoints=(*ENDPOINTS,), variant=cfg.variant, max_body_bytes=cfg.max_body_bytes,
    admin_token=cfg.admin_token.get_secret_value() if cfg.admin_token else None,
)
