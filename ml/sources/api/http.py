"""Shared HTTP plumbing for the API connectors: retries, rate limit, on-disk cache, errors.

`ApiClient` wraps one `httpx.Client` and adds what every public music API needs:

- retries (tenacity) on 429 (honouring `Retry-After`, capped), on 5xx and on timeouts or
  connection errors, with exponential backoff plus jitter and a bounded number of attempts;
- a minimum interval between requests (MusicBrainz allows one request per second);
- an optional on-disk cache of 200 responses, keyed on method + URL + sorted params;
- one exception family (`ApiError` and subclasses) whose messages, URLs and reprs never
  contain secrets: secret query params are replaced by `REDACTED`, registered secret values
  are scrubbed from every message, and secrets never enter cache keys or cache files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ml import __version__

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"music-mlops/{__version__}"
REDACTED = "REDACTED"
# Query parameter names whose values are secrets (compared case-insensitively).
DEFAULT_SECRET_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "secret",
        "sig",
        "api_sig",
        "sk",
        "password",
    }
)


# ---------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An API call failed. `url` never contains secrets; `code` is an API-specific error code."""

    retryable = False

    def __init__(
        self,
        status: int | None,
        message: str,
        url: str,
        *,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, message, url)
        self.status = status
        self.message = message
        self.url = url
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f" (API error {self.code})" if self.code is not None else ""
        return f"{where}{code}: {self.message} [{self.url}]"


class NotFound(ApiError):
    """The resource does not exist (HTTP 404 or an API 'not found' error code)."""


class ApiTimeout(ApiError):
    """No (complete) response within the configured timeout, after all retries."""

    retryable = True


class RateLimited(ApiError):
    """HTTP 429 or an API 'rate limit exceeded' error; retried after `retry_after` or a backoff."""

    retryable = True


class ServerError(ApiError):
    """HTTP 5xx or an API 'temporarily unavailable' error; retried with backoff."""

    retryable = True


class ApiConnectionError(ApiError):
    """The server could not be reached (DNS, refused connection, reset)."""

    retryable = True


class ResponseParseError(ApiError):
    """The response arrived but its body is not the JSON/XML the connector expects."""


def error_for_status(status: int, message: str, url: str, *, code: int | None = None) -> ApiError:
    """The `ApiError` subclass that matches an HTTP status."""
    if status == 404:
        return NotFound(status, message, url, code=code)
    if status == 429:
        return RateLimited(status, message, url, code=code)
    if status >= 500:
        return ServerError(status, message, url, code=code)
    return ApiError(status, message, url, code=code)


# ---------------------------------------------------------------------------- responses and options


@dataclass(frozen=True)
class ApiResponse:
    """A finished HTTP exchange. `url` has secrets redacted."""

    status: int
    content_type: str
    body: bytes
    url: str
    from_cache: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ResponseParseError(self.status, f"invalid JSON: {exc}", self.url) from None


@dataclass(frozen=True)
class RetryPolicy:
    """max_attempts counts the first try. Backoff waits ~backoff_base * 2**n + jitter, at most
    backoff_max; a server's Retry-After is honoured up to max_retry_after seconds."""

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0


@dataclass(frozen=True)
class HttpOptions:
    """Transport settings shared by all connectors (tests lower timeouts and intervals)."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    min_interval: float = 0.0
    cache_dir: Path | None = None
    cache_ttl: float | None = None
    user_agent: str = DEFAULT_USER_AGENT


ErrorParser = Callable[[ApiResponse], ApiError | None]


# ---------------------------------------------------------------------------- rate limit and cache


class RateLimiter:
    """Keeps at least `min_interval` seconds between the starts of consecutive requests (thread-safe)."""

    def __init__(
        self,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = max(0.0, min_interval)
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if self._next > now:
                self._sleep(self._next - now)
                now = self._clock()
            self._next = now + self.min_interval


def cache_key(method: str, url: httpx.URL, secret_params: Collection[str] = DEFAULT_SECRET_PARAMS) -> str:
    """sha256 of method + URL without query + sorted non-secret params."""
    params = sorted((k, v) for k, v in url.params.multi_items() if k.lower() not in secret_params)
    base = str(url.copy_with(query=None, fragment=None))
    return hashlib.sha256(json.dumps([method.upper(), base, params]).encode()).hexdigest()


class ResponseCache:
    """200 responses on disk, one JSON file per key (`<dir>/<key[:2]>/<key>.json`), optional TTL."""

    def __init__(self, directory: Path | str, ttl: float | None = None) -> None:
        self.directory = Path(directory)
        self.ttl = ttl

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> ApiResponse | None:
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if self.ttl is not None and time.time() - entry["stored_at"] > self.ttl:
            return None
        body = entry["body"].encode("utf-8", "surrogateescape")
        return ApiResponse(entry["status"], entry["content_type"], body, entry["url"], from_cache=True)

    def put(self, key: str, response: ApiResponse) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "url": response.url,  # already redacted
            "status": response.status,
            "content_type": response.content_type,
            "stored_at": time.time(),
            "body": response.body.decode("utf-8", "surrogateescape"),
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# ---------------------------------------------------------------------------- client


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class ApiClient:
    """httpx.Client with retries, rate limiting, caching and secret-free errors.

    error_parser: turns an API's error body into an `ApiError` (it sees every fresh
    response, 200s included, because some APIs report errors inside a 200 body). When it
    returns None, statuses >= 400 map to errors by `error_for_status`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        options: HttpOptions | None = None,
        headers: Mapping[str, str] | None = None,
        secret_params: Collection[str] = DEFAULT_SECRET_PARAMS,
        error_parser: ErrorParser | None = None,
    ) -> None:
        self.options = options or HttpOptions()
        self.base_url = base_url.rstrip("/") + "/"
        self._secret_params = frozenset(p.lower() for p in secret_params)
        self._secrets: set[str] = set()
        self._error_parser = error_parser
        self._limiter = RateLimiter(self.options.min_interval)
        self._cache = ResponseCache(self.options.cache_dir, self.options.cache_ttl) if self.options.cache_dir else None
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.options.read_timeout, connect=self.options.connect_timeout),
            headers={"User-Agent": self.options.user_agent, **(headers or {})},
            follow_redirects=True,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def min_interval(self) -> float:
        return self._limiter.min_interval

    # -- secrets

    def add_secret(self, value: str | None) -> None:
        """Register a secret value to scrub from every error message and URL."""
        if value and len(value) >= 4:  # tiny values would mangle unrelated text
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def safe_url(self, url: httpx.URL | str) -> str:
        """The URL with secret params replaced by REDACTED and known secrets scrubbed."""
        url = httpx.URL(url)
        if url.query:
            params = [(k, REDACTED if k.lower() in self._secret_params else v) for k, v in url.params.multi_items()]
            url = url.copy_with(params=params)
        return self.redact(str(url.copy_with(username=None, password=None)))

    # -- requests

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        use_cache: bool = True,
    ) -> ApiResponse:
        return self.request("GET", url, params=params, headers=headers, use_cache=use_cache)

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        return self.request("POST", url, data=data, headers=headers, use_cache=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        use_cache: bool = True,
    ) -> ApiResponse:
        """Send with retries; relative `url`s join the base URL, absolute ones are used as is."""
        request = self._http.build_request(method, url.lstrip("/"), params=params, data=data, headers=headers)
        safe = self.safe_url(request.url)
        key = None
        if use_cache and self._cache is not None and method.upper() == "GET":
            key = cache_key(method, request.url, self._secret_params)
            cached = self._cache.get(key)
            if cached is not None:
                log.debug("cache hit %s", safe)
                return cached
        policy = self.options.retry
        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, ApiError) and e.retryable),
            stop=stop_after_attempt(max(1, policy.max_attempts)),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        response = retrying(self._send_once, request, safe)
        if key is not None and response.status == 200:
            assert self._cache is not None
            self._cache.put(key, response)
        return response

    def _send_once(self, request: httpx.Request, safe_url: str) -> ApiResponse:
        self._limiter.wait()
        try:
            r = self._http.send(request)
        except httpx.TimeoutException as exc:
            limits = f"connect {self.options.connect_timeout:g}s, read {self.options.read_timeout:g}s"
            raise ApiTimeout(None, f"{type(exc).__name__} ({limits})", safe_url) from None
        except httpx.TransportError as exc:  # refused, reset, DNS: worth retrying
            raise ApiConnectionError(None, self.redact(f"{type(exc).__name__}: {exc}"), safe_url) from None
        except httpx.RequestError as exc:  # too many redirects, undecodable body: final
            raise ApiError(None, self.redact(f"{type(exc).__name__}: {exc}"), safe_url) from None
        response = ApiResponse(r.status_code, r.headers.get("content-type", ""), r.content, safe_url)
        try:
            error = self._error_parser(response) if self._error_parser else None
        except ApiError as exc:  # an unparsable error body
            error = exc
        if error is None and r.status_code >= 400:
            snippet = " ".join(r.content[:200].decode("utf-8", "replace").split())
            error = error_for_status(r.status_code, f"{r.reason_phrase}: {snippet}".rstrip(": "), safe_url)
        if error is None:
            return response
        if error.retryable and error.retry_after is None:
            error.retry_after = parse_retry_after(r.headers.get("retry-after"))
        error.message = self.redact(error.message)
        error.url = safe_url
        error.args = (error.status, error.message, error.url)
        raise error

    def _wait(self, state: RetryCallState) -> float:
        policy = self.options.retry
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after is not None:
            return min(exc.retry_after, policy.max_retry_after)
        backoff = wait_exponential_jitter(
            multiplier=policy.backoff_base, max=policy.backoff_max, jitter=policy.backoff_base
        )
        return backoff(state)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("attempt %d failed (%s); retrying in %.2fs", state.attempt_number, exc, wait)


# ---------------------------------------------------------------------------- XML

# Characters XML 1.0 forbids; real Last.fm responses have contained U+FFFE (mis-encoded UTF-16).
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_xml(response: ApiResponse) -> ET.Element:
    """Parse an XML body; on failure retry once without forbidden characters and leading junk."""
    try:
        return ET.fromstring(response.body)
    except ET.ParseError:
        pass
    text = _INVALID_XML_CHARS.sub("", response.body.decode("utf-8", "replace")).lstrip("\ufeff \t\r\n")
    try:
        return ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise ResponseParseError(response.status, f"malformed XML: {exc}", response.url) from None
