"""ApiClient behaviour against the replay server: retries, timeouts, cache, rate limit, secrets.

Requests go to the MusicBrainz search route, which serves the recorded search-artist.xml.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
from api_replay import ReplayServer, Scripted

from ml.sources.api.http import (
    ApiClient,
    ApiConnectionError,
    ApiError,
    ApiTimeout,
    HttpOptions,
    NotFound,
    RateLimiter,
    ServerError,
    cache_key,
    parse_retry_after,
)

pytestmark = pytest.mark.timeout(30)

SEARCH = "/ws/2/artist"


def client(server: ReplayServer, options: HttpOptions) -> ApiClient:
    return ApiClient(f"{server.url}/ws/2", options=options)


def search(api: ApiClient, **params: str) -> bytes:
    return api.get("artist", params={"query": "dynamo", **params}).body


def test_retry_after_is_honoured(server: ReplayServer, fast: HttpOptions) -> None:
    """A 429 with Retry-After: 1 must wait about a second, then succeed on the second try."""
    server.script(SEARCH, Scripted(429, b"slow down", headers={"Retry-After": "1"}))
    start = time.monotonic()
    body = search(client(server, fast))
    elapsed = time.monotonic() - start
    assert b"Dynamo Go" in body
    hits = server.hits(SEARCH)
    assert len(hits) == 2
    assert hits[1].at - hits[0].at >= 0.95
    assert elapsed < 3.0


def test_retry_after_is_capped(server: ReplayServer, fast: HttpOptions) -> None:
    """A huge Retry-After must not stall the pipeline: the wait is capped by max_retry_after."""
    options = replace(fast, retry=replace(fast.retry, max_retry_after=0.2))
    server.script(SEARCH, Scripted(429, headers={"Retry-After": "3600"}))
    start = time.monotonic()
    search(client(server, options))
    assert 0.15 <= time.monotonic() - start < 2.0
    assert len(server.hits(SEARCH)) == 2


def test_503_is_retried_then_succeeds(server: ReplayServer, fast: HttpOptions) -> None:
    """A transient 5xx costs one extra request, not a failure."""
    server.script(SEARCH, Scripted(503, b"maintenance"))
    assert b"Dynamo Go" in search(client(server, fast))
    assert len(server.hits(SEARCH)) == 2


def test_5xx_gives_up_after_max_attempts(server: ReplayServer, fast: HttpOptions) -> None:
    """Persistent 5xx raises ServerError after exactly max_attempts requests (bounded retries)."""
    server.script(SEARCH, *[Scripted(500, b"boom")] * 5)
    with pytest.raises(ServerError) as err:
        search(client(server, fast))
    assert err.value.status == 500
    assert len(server.hits(SEARCH)) == fast.retry.max_attempts == 3


def test_client_errors_are_not_retried(server: ReplayServer, fast: HttpOptions) -> None:
    """A 404 is final: one request, NotFound carrying the status and the URL."""
    with pytest.raises(NotFound) as err:
        client(server, fast).get("artist/00000000-0000-0000-0000-000000000000")
    assert err.value.status == 404
    assert err.value.url.endswith("/ws/2/artist/00000000-0000-0000-0000-000000000000")
    assert len(server.hits(SEARCH)) == 1


def test_hang_raises_api_timeout_quickly(server: ReplayServer, fast: HttpOptions) -> None:
    """A server that never answers must surface as ApiTimeout within ~attempts x read timeout."""
    options = replace(fast, read_timeout=0.5, retry=replace(fast.retry, max_attempts=2))
    server.script(SEARCH, Scripted(delay=5.0), Scripted(delay=5.0))
    start = time.monotonic()
    with pytest.raises(ApiTimeout) as err:
        search(client(server, options))
    assert time.monotonic() - start < 2.5
    assert err.value.status is None
    assert len(server.hits(SEARCH)) == 2


def test_connection_refused_is_retried_then_raised(fast: HttpOptions) -> None:
    """An unreachable host raises ApiConnectionError (an ApiError) after the bounded retries."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    with pytest.raises(ApiConnectionError) as err:
        ApiClient(f"http://127.0.0.1:{port}", options=fast).get("x")
    assert isinstance(err.value, ApiError)


def test_cache_serves_second_call_without_request(server: ReplayServer, fast: HttpOptions, tmp_path: Path) -> None:
    """With a cache dir, an identical GET is answered from disk: the server sees one request."""
    api = client(server, replace(fast, cache_dir=tmp_path))
    first = api.get("artist", params={"query": "dynamo", "limit": 5})
    second = api.get("artist", params={"limit": 5, "query": "dynamo"})  # param order must not matter
    assert len(server.hits(SEARCH)) == 1
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.body == first.body
    assert second.status == 200
    assert second.content_type == "application/xml"


def test_cache_keys_and_files_never_hold_secrets(server: ReplayServer, fast: HttpOptions, tmp_path: Path) -> None:
    """Secret params are left out of the key (rotating a key keeps the cache) and out of the files."""
    api = client(server, replace(fast, cache_dir=tmp_path))
    search(api, api_key="secret-key-one-123")
    search(api, api_key="secret-key-two-456")
    assert len(server.hits(SEARCH)) == 1
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1
    for secret in ("secret-key-one-123", "secret-key-two-456"):
        assert secret not in str(files[0])
        assert secret not in files[0].read_text(encoding="utf-8")
    assert "api_key=REDACTED" in files[0].read_text(encoding="utf-8")


def test_cache_key_depends_on_method_url_and_params() -> None:
    """Different requests must not share a cache entry; only secret params are ignored."""
    import httpx

    base = httpx.URL("https://example.org/ws/2/artist?query=a&limit=1")
    assert cache_key("GET", base) == cache_key("GET", httpx.URL("https://example.org/ws/2/artist?limit=1&query=a"))
    assert cache_key("GET", base) == cache_key("GET", base.copy_add_param("api_key", "x"))
    assert cache_key("GET", base) != cache_key("GET", base.copy_set_param("query", "b"))
    assert cache_key("GET", base) != cache_key("POST", base)


def test_only_200_responses_are_cached(server: ReplayServer, fast: HttpOptions, tmp_path: Path) -> None:
    """An error must never be replayed from the cache."""
    api = client(server, replace(fast, cache_dir=tmp_path))
    for _ in range(2):
        with pytest.raises(NotFound):
            api.get("artist/00000000-0000-0000-0000-000000000000")
    assert len(server.hits(SEARCH)) == 2
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_cache_ttl_expires(server: ReplayServer, fast: HttpOptions, tmp_path: Path) -> None:
    """Entries older than the TTL are fetched again."""
    api = client(server, replace(fast, cache_dir=tmp_path, cache_ttl=0.05))
    search(api)
    time.sleep(0.1)
    search(api)
    assert len(server.hits(SEARCH)) == 2


def test_rate_limiter_spaces_requests(server: ReplayServer, fast: HttpOptions) -> None:
    """At min_interval 0.2 s, three requests through the client take at least 0.4 s."""
    api = client(server, replace(fast, min_interval=0.2))
    start = time.monotonic()
    for i in range(3):
        search(api, limit=str(i))
    assert time.monotonic() - start >= 0.4
    assert len(server.hits(SEARCH)) == 3


def test_rate_limiter_gaps_between_starts() -> None:
    """On a fake clock: the first wait() is free, then each start is exactly min_interval later."""
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(0.25, clock=lambda: now[0], sleep=sleep)
    stamps = []
    for _ in range(4):
        limiter.wait()
        stamps.append(now[0])
        now[0] += 0.05  # the request itself takes a little while
    assert stamps == pytest.approx([100.0, 100.25, 100.5, 100.75])


def test_errors_and_reprs_never_contain_secrets(server: ReplayServer, fast: HttpOptions) -> None:
    """Even when a server echoes a secret in its error body, messages, URLs and reprs are scrubbed."""
    secret = "very-secret-key-8842"
    api = client(server, fast)
    api.add_secret(secret)
    server.script(SEARCH, *[Scripted(500, f"bad key {secret}".encode())] * 3)
    with pytest.raises(ServerError) as err:
        search(api, api_key=secret)
    exc = err.value
    for text in (str(exc), repr(exc), exc.url, exc.message, repr(api)):
        assert secret not in text
    assert "REDACTED" in exc.url
    assert "REDACTED" in exc.message


def test_parse_retry_after_formats() -> None:
    """Retry-After may be delta-seconds or an HTTP date; junk is ignored rather than fatal."""
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(future) or 0) <= 31
