"""`musicml ingest *-api`: replayed API responses land in the lake with manifests, secrets stay out."""

from __future__ import annotations

import json

import pytest
from api_replay import SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET
from typer.testing import CliRunner

from ml.cli import app
from ml.settings import get_settings

pytestmark = pytest.mark.timeout(60)
runner = CliRunner()


def _ingest(source, path, lake):
    return runner.invoke(app, ["ingest", source, str(path), "--lake", str(lake), "--json", "--snapshot", "2024-02"])


def test_musicbrainz_names_land_with_mbids(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICML_MUSICBRAINZ_API_BASE", f"{server.url}/ws/2")
    monkeypatch.setenv("MUSICBRAINZ_USER_AGENT", "music-mlops-tests/0.1 (tests@example.org)")
    monkeypatch.setenv("MUSICML_HTTP_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    names = tmp_path / "artists.txt"
    names.write_text("# artists to link\nFred Astaire\n")
    result = _ingest("musicbrainz-api", names, tmp_path / "lake")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dataset"] == "musicbrainz_artists" and doc["rows_accepted"] >= 1
    assert doc["rows_in"] == doc["rows_accepted"] + doc["rows_quarantined"]


def test_spotify_ids_land_without_audio_features(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICML_SPOTIFY_API_BASE", f"{server.url}/v1")
    monkeypatch.setenv("MUSICML_SPOTIFY_ACCOUNTS_BASE", server.url)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", SPOTIFY_CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SPOTIFY_CLIENT_SECRET)
    monkeypatch.setenv("MUSICML_HTTP_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    ids = tmp_path / "ids.txt"
    ids.write_text("0eGsygTp906u18L0Oimnem\n")
    result = _ingest("spotify-api", ids, tmp_path / "lake")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dataset"] == "spotify_api_tracks" and doc["contract"] == "spotify_api_tracks"
    assert doc["rows_in"] >= 1 and doc["rows_in"] == doc["rows_accepted"] + doc["rows_quarantined"]
    assert SPOTIFY_CLIENT_SECRET not in result.output
    cached = "".join(p.read_text(errors="ignore") for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert SPOTIFY_CLIENT_SECRET not in cached


def test_missing_credentials_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    get_settings.cache_clear()
    ids = tmp_path / "ids.txt"
    ids.write_text("abc\n")
    result = _ingest("spotify-api", ids, tmp_path / "lake")
    assert result.exit_code != 0 and "SPOTIFY_CLIENT_ID" in result.output


def test_api_errors_are_clear_cli_errors(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICML_SPOTIFY_API_BASE", f"{server.url}/v1")
    monkeypatch.setenv("MUSICML_SPOTIFY_ACCOUNTS_BASE", server.url)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "wrong-id")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", "wrong-secret-123")
    get_settings.cache_clear()
    ids = tmp_path / "ids.txt"
    ids.write_text("0eGsygTp906u18L0Oimnem\n")
    result = _ingest("spotify-api", ids, tmp_path / "lake")
    assert result.exit_code == 2
    assert "invalid_client" in result.output and "wrong-secret-123" not in result.output
