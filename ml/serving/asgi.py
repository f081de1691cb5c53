"""ASGI middleware in front of the BentoML app: request ids, body limits, content type, admin auth, metrics.

One middleware (one hop) does all of it, in this order:
1. request id: a valid client `X-Request-ID` (8-64 of [A-Za-z0-9._-]) is kept, else a new uuid4 hex;
   it is in `REQUEST_ID` (a contextvar the handlers read) and in the `X-Request-ID` response header of
   every answer, errors included;
2. `/admin/*`: `Authorization: Bearer <MUSICML_ADMIN_TOKEN>` or 401 (also 401 when no token is
   configured: admin is then disabled). The token is compared in constant time and never logged;
3. POST bodies: a media type other than JSON answers 415; a body over `max_body_bytes` answers 413
   (checked on Content-Length and while reading, so a chunked upload cannot get around it);
4. metrics: requests by status, errors by kind and latency per endpoint (ml/serving/metrics.py).
"""

from __future__ import annotations

import contextvars
import hmac
import json
import re
import time
import uuid

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("musicml_request_id", default="")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
JSON_TYPES = ("application/json", "application/vnd.bentoml+json")


def current_request_id() -> str:
    return REQUEST_ID.get() or uuid.uuid4().hex


class ServingMiddleware:
    def __init__(self, app, *, endpoints: tuple[str, ...], variant: str, max_body_bytes: int,
                 admin_token: str | None):
        self.app = app
        self.endpoints = {f"/{e.strip('/')}" for e in endpoints}
        self.variant = variant
        self.max_body = max_body_bytes
        self._token = (admin_token or "").encode()
        self._metrics = None

    def metrics(self):
        if self._metrics is None:
            from ml.serving.metrics import metrics

            self._metrics = metrics()
        return self._metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = REQUEST_ID.set(rid)
        path = scope.get("path", "")
        tracked = path in self.endpoints or path.startswith("/admin/")
        status = {"code": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            if path.startswith("/admin/") and not self._authorised(headers):
                return await self._error(send_with_id, 401, "missing or wrong bearer token (MUSICML_ADMIN_TOKEN)", rid,
                                         [(b"www-authenticate", b"Bearer")])
            if scope.get("method") == "POST" and tracked:
                ctype = headers.get(b"content-type", b"application/json").decode("latin-1").split(";")[0].strip().lower()
                if ctype not in JSON_TYPES:
                    return await self._error(send_with_id, 415, f"content type {ctype or '(none)'} is not supported: "
                                             "send application/json", rid)
                length = headers.get(b"content-length")
                if length is not None and (not length.isdigit() or int(length) > self.max_body):
                    return await self._error(send_with_id, 413, f"body over {self.max_body} bytes", rid)
                body, too_big = await self._read(receive)
                if too_big:
                    return await self._error(send_with_id, 413, f"body over {self.max_body} bytes", rid)
                receive = _replay(body, receive)
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
            if tracked:
                self._observe(path, status["code"], time.perf_counter() - started)

    def _authorised(self, headers: dict) -> bool:
        if not self._token:
            return False
        auth = headers.get(b"authorization", b"")
        scheme, _, given = auth.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token)

    async def _read(self, receive) -> tuple[bytes, bool]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False

    @staticmethod
    async def _error(send, status: int, message: str, rid: str, extra_headers=()):
        body = json.dumps({"error": message, "request_id": rid}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *extra_headers]})
        await send({"type": "http.response.body", "body": body})

    def _observe(self, path: str, code: int, seconds: float) -> None:
        from ml.serving.metrics import error_kind

        m = self.metrics()
        endpoint = path.strip("/")
        m.requests.labels(endpoint, self.variant, str(code)).inc()
        m.request_latency.labels(endpoint, self.variant).observe(seconds)
        kind = error_kind(code)
        if kind:
            m.errors.labels(endpoint, self.variant, kind).inc()


def _replay(body: bytes, original):
    """Hand the app the body we already read, then the client's own messages (disconnect)."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
