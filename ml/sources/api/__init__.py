"""Connectors for public music APIs (Spotify, Last.fm, MusicBrainz) built on `http.ApiClient`."""
