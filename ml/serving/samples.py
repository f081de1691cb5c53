"""Sample requests for every endpoint, drawn from the lake the models were trained on (demo and smoke runs)."""

from __future__ import annotations

import json

from ml.lake.catalog import connect
from ml.lake.coverage import pick
from ml.lake.storage import Lake
from ml.settings import get_settings


def sample_requests(lake_uri: str | None = None) -> list[tuple[str, dict]]:
    """[(path, body)]: one good request per endpoint and one bad one (an out-of-range energy)."""
    settings = get_settings()
    con = connect(Lake.from_uri(lake_uri or settings.lake_uri, settings))
    try:
        tracks = pick(con, "spotify_tracks")
        row = con.execute(f'SELECT * EXCLUDE (primary_artist, artist_key, track_key) FROM "{tracks}" '
                          "ORDER BY track_id LIMIT 1").df()
        track = json.loads(row.drop(columns=[c for c in ("row_index",) if c in row]).to_json(orient="records"))[0]
        user = None
        try:
            plays = pick(con, "lastfm_user_artists")
            user = int(con.execute(f'SELECT user_id FROM "{plays}" ORDER BY user_id LIMIT 1').fetchone()[0])
        except LookupError:
            pass
        history, region = [], None
        try:
            charts = pick(con, "spotify_charts")
            tid, region = con.execute(
                f'SELECT track_id, region FROM "{charts}" WHERE chart = \'top200\' AND track_id IS NOT NULL '
                "GROUP BY ALL ORDER BY count(*) DESC LIMIT 1").fetchone()
            hist = con.execute(
                f'SELECT strftime(date, \'%Y-%m-%d\') AS date, rank, streams FROM "{charts}" WHERE track_id = ? '
                "AND region = ? AND chart = 'top200' AND streams IS NOT NULL ORDER BY date DESC LIMIT 21",
                [tid, region]).df()
            history = json.loads(hist.to_json(orient="records"))
        except (LookupError, TypeError):
            tid = track["track_id"]
    finally:
        con.close()
    meta = {k: track.get(k) for k in ("artists", "track_name", "album_name", "track_genre", "duration_ms", "explicit")}
    out = [
        ("/classify", track),
        ("/popularity", {**track, "explain": True}),
        ("/audio-features", meta),
        ("/recommend", {"user_id": user or 0, "k": 5}),
        ("/similar", {"track_id": track["track_id"], "k": 5}),
    ]
    if history:
        out.append(("/streams", {"track_id": tid, "region": region, "history": history}))
    out.append(("/feedback", {"request_id": "0123456789abcdef", "event": "save", "item": track["track_id"]}))
    out.append(("/classify", {**track, "energy": 1.7}))  # bad on purpose: names the field
    return out
