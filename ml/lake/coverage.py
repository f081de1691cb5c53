"""Join coverage between sources: how much of one side finds its entity on the other."""

from __future__ import annotations

import duckdb

from ml.lake.catalog import _views, pick  # pick lives in the catalog; re-exported for older imports

__all__ = ["join_coverage", "pick"]


def join_coverage(con: duckdb.DuckDBPyConnection) -> dict:
    tracks, artists = pick(con, "spotify_tracks"), pick(con, "lastfm_artists")
    plays = pick(con, "lastfm_user_artists")
    row = con.execute(
        f"""
        WITH t AS (SELECT DISTINCT track_id, artist_key FROM "{tracks}"),
             a AS (SELECT DISTINCT artist_key, artist_id FROM "{artists}" WHERE artist_key IS NOT NULL),
             linked AS (SELECT t.*, a.artist_id FROM t LEFT JOIN a USING (artist_key))
        SELECT count(DISTINCT track_id),
               count(DISTINCT track_id) FILTER (WHERE artist_id IS NOT NULL),
               count(DISTINCT artist_key),
               count(DISTINCT artist_key) FILTER (WHERE artist_id IS NOT NULL)
        FROM linked
        """
    ).fetchone()
    play_row = con.execute(
        f"""
        SELECT sum(p.weight), sum(p.weight) FILTER (WHERE s.artist_key IS NOT NULL), count(DISTINCT p.artist_id),
               count(DISTINCT p.artist_id) FILTER (WHERE s.artist_key IS NOT NULL)
        FROM "{plays}" p JOIN "{artists}" a USING (artist_id)
        LEFT JOIN (SELECT DISTINCT artist_key FROM "{tracks}") s ON s.artist_key = a.artist_key
        """
    ).fetchone()
    report = {
        "tracks_dataset": tracks,
        "artists_dataset": artists,
        "tracks": row[0],
        "tracks_with_lastfm_artist": row[1],
        "track_coverage": round(row[1] / row[0], 4) if row[0] else 0.0,
        "spotify_artists": row[2],
        "spotify_artists_in_lastfm": row[3],
        "artist_coverage": round(row[3] / row[2], 4) if row[2] else 0.0,
        "lastfm_artists_played": play_row[2],
        "lastfm_artists_played_in_spotify": play_row[3],
        "lastfm_play_share_linked": round((play_row[1] or 0) / play_row[0], 4) if play_row[0] else 0.0,
    }
    if "musicbrainz_artists" in _views(con):
        mb = con.execute(
            f"""SELECT count(DISTINCT t.artist_key) FILTER (WHERE m.mbid IS NOT NULL), count(DISTINCT t.artist_key)
                FROM "{tracks}" t LEFT JOIN musicbrainz_artists m USING (artist_key)"""
        ).fetchone()
        report["spotify_artists_with_mbid"] = mb[0]
        report["mbid_coverage"] = round(mb[0] / mb[1], 4) if mb[1] else 0.0
    return report
