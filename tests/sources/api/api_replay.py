"""A local replay server for the API connector tests, answering with real recorded responses.

The recorded responses live in the shared data folder (MUSICML_SHARED_DATA, default
`<repo>/../shared/data`, MANIFEST.md sections 8-10) and are never copied into the repo.
The server maps Spotify, Last.fm and MusicBrainz requests to those files, and each test
can queue scripted answers (429, 503, error bodies, hangs) in front of them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

SPOTIFY_CLIENT_ID = "test-client-id-4f1c"
SPOTIFY_CLIENT_SECRET = "test-client-secret-9b7e2d"
LASTFM_API_KEY = "test-lastfm-key-51a0c3"
MB_USER_AGENT = "music-mlops-tests/0.1 ( tests@example.org )"

SEARCH_FILES = {
    "track": "search_track.json",
    "artist": "search_artist.json",
    "album": "search_album.json",
    "playlist": "search_playlist.json",
    "show": "search_show.json",
    "episode": "search_episode.json",
}
LASTFM_FILES = {
    "track.getInfo": "track_get_info.xml",
    "track.getTopTags": "track_get_top_tags.xml",
    "artist.getTopTags": "artist_get_top_tags.xml",
    "user.getRecentTracks": "user_get_recent_tracks.xml",
}
MB_NOT_FOUND = (
    b'<?xml version="1.0" encoding="UTF-8"?><error><text>Not Found</text>'
    b"<text>For usage, please see: https://musicbrainz.org/development/mmd</text></error>"
)


def load_json(fixtures: Path, name: str) -> Any:
    return json.loads((fixtures / "spotify_webapi" / name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Recorded:
    """One request the server received (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Scripted:
    """A one-shot answer; `delay` longer than the client's read timeout simulates a hang."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Answer = tuple[int, str, bytes, dict[str, str]]


class FixtureIndex:
    """Spotify objects by id, built from the recorded responses."""

    def __init__(self, fixtures: Path) -> None:
        self.dir = fixtures
        self.tracks: dict[str, dict] = {}
        for name, path in [
            ("search.json", ("tracks", "items")),
            ("search_track.json", ("tracks", "items")),
            ("artist_top_tracks.json", ("tracks",)),
            ("tracks.json", ("tracks",)),
        ]:
            self.tracks.update((t["id"], t) for t in _dig(load_json(fixtures, name), path))
        track = load_json(fixtures, "track.json")
        self.tracks[track["id"]] = track
        self.artists: dict[str, dict] = {}
        for name, path in [("search.json", ("artists", "items")), ("search_artist.json", ("artists", "items"))]:
            self.artists.update((a["id"], a) for a in _dig(load_json(fixtures, name), path))
        for name in ("artists.json", "artist.json"):
            artist = load_json(fixtures, name)
            self.artists[artist["id"]] = artist
        self.features: dict[str, dict] = {}
        self.features.update((f["id"], f) for f in load_json(fixtures, "tracks_audio_features.json")["audio_features"])
        single = load_json(fixtures, "track_audio_features.json")
        self.features[single["id"]] = single
        self.search = {t: load_json(fixtures, f)[f"{t}s"]["items"] for t, f in SEARCH_FILES.items()}


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


class ReplayServer:
    """ThreadingHTTPServer on 127.0.0.1:<random port> replaying the recorded responses."""

    def __init__(self, index: FixtureIndex) -> None:
        self.index = index
        self.requests: list[Recorded] = []
        self._scripts: list[tuple[str, dict[str, str], list[Scripted]]] = []
        self._tokens: set[str] = set()
        self._issued = 0
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.replay = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    # -- test API

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, path_prefix: str, *answers: Scripted, where: dict[str, str] | None = None) -> None:
        """Queue one-shot answers for requests whose path starts with `path_prefix` (and whose
        query params equal `where`, when given)."""
        with self._lock:
            self._scripts.append((path_prefix, dict(where or {}), list(answers)))

    def hits(self, path_prefix: str = "/", method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]

    def revoke_tokens(self) -> None:
        """Make every issued Spotify token invalid (the next API call gets a 401)."""
        with self._lock:
            self._tokens.clear()

    # -- dispatch

    def answer(self, req: Recorded) -> tuple[Answer, float]:
        with self._lock:
            self.requests.append(req)
            for prefix, where, queue in self._scripts:
                if queue and req.path.startswith(prefix) and all(req.param(k) == v for k, v in where.items()):
                    s = queue.pop(0)
                    return (s.status, s.content_type, s.body, s.headers), s.delay
        return self._route(req), 0.0

    def _route(self, req: Recorded) -> Answer:
        if req.path == "/api/token" and req.method == "POST":
            return self._token(req)
        if req.path.startswith("/v1/"):
            return self._spotify(req)
        if req.path.startswith("/2.0"):
            return self._lastfm(req)
        if req.path.startswith("/ws/2/"):
            return self._musicbrainz(req)
        return 404, "text/plain", b"no route", {}

    def _token(self, req: Recorded) -> Answer:
        expected = "Basic " + base64.b64encode(f"{SPOTIFY_CLIENT_ID}:{SPOTIFY_CLIENT_SECRET}".encode()).decode()
        if req.headers.get("authorization") != expected or b"grant_type=client_credentials" not in req.body:
            return _json(400, {"error": "invalid_client", "error_description": "Invalid client"})
        with self._lock:
            self._issued += 1
            token = f"test-access-token-{self._issued}-x7"
            self._tokens.add(token)
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _spotify(self, req: Recorded) -> Answer:
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            valid = token in self._tokens
        if not valid:
            return _json(401, {"error": {"status": 401, "message": "Invalid access token"}})
        parts = req.path.strip("/").split("/")[1:]  # after "v1"
        ids = (req.param("ids") or "").split(",")
        if parts == ["search"]:
            return self._search(req)
        tables = {"tracks": self.index.tracks, "artists": self.index.artists, "audio-features": self.index.features}
        key = {"tracks": "tracks", "artists": "artists", "audio-features": "audio_features"}
        if parts and parts[0] in tables:
            table = tables[parts[0]]
            if len(parts) == 2:
                if parts[1] in table:
                    return _json(200, table[parts[1]])
                body = (self.index.dir / "spotify_webapi" / "error_id_not_found.json").read_bytes()
                return 404, "application/json", body, {}
            return _json(200, {key[parts[0]]: [table.get(i) for i in ids]})
        return _json(404, {"error": {"status": 404, "message": "Service not found"}})

    def _search(self, req: Recorded) -> Answer:
        """Pages sliced from the recorded result list; `next` mimics Spotify's (query=...)."""
        q = req.param("q") or req.param("query") or ""
        kind = req.param("type") or ""
        offset, limit = int(req.param("offset") or 0), int(req.param("limit") or 20)
        items = self.index.search.get(kind)
        if items is None:
            return _json(400, {"error": {"status": 400, "message": "Bad search type field"}})
        url = f"{self.url}/v1/search?query={quote(q)}&type={kind}&offset={{}}&limit={limit}"
        page = {
            "href": url.format(offset),
            "items": items[offset : offset + limit],
            "limit": limit,
            "next": url.format(offset + limit) if offset + limit < len(items) else None,
            "offset": offset,
            "previous": url.format(max(0, offset - limit)) if offset else None,
            "total": len(items),
        }
        return _json(200, {f"{kind}s": page})

    def _lastfm(self, req: Recorded) -> Answer:
        folder = self.index.dir / "lastfm_ws2_xml"
        if req.param("api_key") != LASTFM_API_KEY:
            return 403, "text/xml", (folder / "ng.xml").read_bytes(), {}
        method = req.param("method") or ""
        user = req.param("user") or ""
        if method == "user.getRecentTracks" and user == "malformed":
            return 200, "text/xml", (folder / "user_get_recent_tracks_malformed.xml").read_bytes(), {}
        name = LASTFM_FILES.get(method)
        if name is None:
            return 400, "text/xml", b'<lfm status="failed"><error code="3">Invalid Method</error></lfm>', {}
        body = (folder / name).read_bytes()
        if method == "user.getRecentTracks":  # the recording is page 1 of 3019; label it as asked
            body = body.replace(b'page="1"', f'page="{req.param("page") or 1}"'.encode())
            if user == "two-pages":
                body = body.replace(b'totalPages="3019"', b'totalPages="2"')
        return 200, "text/xml", body, {}

    def _musicbrainz(self, req: Recorded) -> Answer:
        folder = self.index.dir / "musicbrainz_ws2_xml"
        parts = req.path.removeprefix("/ws/2/").strip("/").split("/")
        if len(parts) == 1 and parts[0] in ("recording", "artist") and req.param("query"):
            return 200, "application/xml", (folder / f"search-{parts[0]}.xml").read_bytes(), {}
        if len(parts) == 2 and parts[0] in ("recording", "artist"):
            found = sorted((folder / parts[0]).glob(f"{parts[1]}*.xml"))
            if found:
                return 200, "application/xml", found[0].read_bytes(), {}
        return 404, "application/xml", MB_NOT_FOUND, {}


def _json(status: int, payload: Any) -> Answer:
    return status, "application/json", json.dumps(payload).encode(), {}


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        replay: ReplayServer = self.server.replay  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        req = Recorded(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            at=time.monotonic(),
        )
        (status, content_type, body, headers), delay = replay.answer(req)
        if delay and replay.stopping.wait(delay):
            return
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass
