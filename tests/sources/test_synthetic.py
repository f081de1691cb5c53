"""The seeded synthetic generator: determinism, raw schemas, value ranges, planted signal."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ml.sources.synthetic import CHART_COLUMNS, LAYOUT, MARKER, TRACK_COLUMNS, generate, read_marker, vocab

SMALL = {"tracks": 3000, "users": 300, "chart_rows": 12_345, "regions": 5, "chunk_rows": 1000}
KAGGLE_CHART_COLUMNS = ["title", "rank", "date", "artist", "url", "region", "chart", "trend", "streams"]


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(folder: Path, dataset: str) -> pd.DataFrame:
    return pq.read_table(folder / LAYOUT[dataset]).to_pandas()


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic_a")
    calls: list[tuple[str, int, int]] = []
    info = generate(out, seed=7, progress=lambda *a: calls.append(a), **SMALL)
    info["_progress"] = calls
    return out, info


@pytest.fixture(scope="module")
def tracks(small) -> pd.DataFrame:
    return _read(small[0], "spotify_tracks")


@pytest.fixture(scope="module")
def charts(small) -> pd.DataFrame:
    return _read(small[0], "spotify_charts")


@pytest.fixture(scope="module")
def long_charts(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Charts over ~16 weeks in 8 markets, for life-cycle / seasonality / spread checks."""
    out = tmp_path_factory.mktemp("synthetic_long")
    generate(out, seed=11, tracks=4000, users=5, chart_rows=8 * 250 * 112, regions=8)
    return _read(out, "spotify_charts"), _read(out, "spotify_tracks")


# ----------------------------------------------------------------------------- layout, determinism


def test_layout_marker_and_returned_info(small):
    out, info = small
    marker = json.loads((out / MARKER).read_text())
    assert marker == {k: v for k, v in info.items() if k != "_progress"}
    assert read_marker(out) == marker
    assert marker["synthetic"] is True and marker["generator"] == "ml.sources.synthetic"
    assert marker["seed"] == 7
    assert marker["params"]["chart_rows"] == SMALL["chart_rows"] and marker["params"]["tracks"] == SMALL["tracks"]
    for dataset, rows in marker["files"].items():
        assert pq.read_metadata(out / LAYOUT[dataset]).num_rows == rows if LAYOUT[dataset].endswith(".parquet") \
            else sum(pq.read_metadata(p).num_rows for p in (out / LAYOUT[dataset]).glob("*.parquet")) == rows
    assert sorted(p.name for p in (out / "spotify_tracks").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert len(list((out / "spotify_charts").glob("part-*.parquet"))) == 13  # ceil(12,345 / 1,000)
    for name in ("user_artists", "artists", "tags", "user_taggedartists", "user_friends"):
        assert (out / "lastfm_hetrec" / f"{name}.parquet").is_file()
    meta = pq.ParquetFile(out / "spotify_charts" / "part-00000.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_same_seed_gives_byte_identical_files(small, tmp_path):
    out, _ = small
    generate(tmp_path, seed=7, **SMALL)
    first, again = _hashes(out), _hashes(tmp_path)
    assert len(first) == 3 + 13 + 5 + 1
    assert first == again


def test_other_seed_gives_other_data(small, tmp_path):
    out, _ = small
    generate(tmp_path, seed=8, **SMALL)
    first, other = _hashes(out), _hashes(tmp_path)
    assert first.keys() == other.keys()
    differing = {k for k in first if first[k] != other[k]}
    assert differing == set(first)  # every file, marker included (it records the seed)


def test_chunk_size_changes_parts_not_content(small, tmp_path):
    out, _ = small
    info = generate(tmp_path, seed=7, **{**SMALL, "chunk_rows": 1_000_000})
    assert info["files"]["spotify_tracks"] == SMALL["tracks"]
    assert info["files"]["spotify_charts"] == SMALL["chart_rows"]
    for dataset in ("spotify_tracks", "spotify_charts"):
        assert len(list((tmp_path / dataset).glob("*.parquet"))) == 1
        chunked, whole = _read(out, dataset), _read(tmp_path, dataset)
        assert len(chunked) == len(whole)
        pd.testing.assert_frame_equal(chunked, whole)


def test_progress_reports_every_dataset_to_its_total(small):
    calls = small[1]["_progress"]
    last = {}
    for dataset, done, total in calls:
        assert 0 < done <= total
        last[dataset] = (done, total)
    assert set(last) == {"spotify_tracks", "spotify_charts", "lastfm_hetrec"}
    assert all(done == total for done, total in last.values())
    assert last["spotify_charts"] == (SMALL["chart_rows"], SMALL["chart_rows"])


def test_invalid_parameters_are_refused(tmp_path):
    for bad in ({"regions": 0}, {"regions": 71}, {"tracks": 10}, {"seed": -1}, {"chunk_rows": 0},
                {"artists": 5}, {"chart_rows": -1}):
        with pytest.raises(ValueError):
            generate(tmp_path, **{**SMALL, **bad})


# ----------------------------------------------------------------------------- schemas vs the real files


def test_tracks_columns_match_the_real_csv_header(shared_data, tracks):
    with (shared_data / "spotify_tracks" / "dataset_sample_10k.csv").open(encoding="utf-8") as f:
        real = f.readline().rstrip("\r\n").split(",")
    assert list(tracks.columns) == real == list(TRACK_COLUMNS)


def test_lastfm_columns_match_the_real_dat_headers(shared_data, small):
    out, _ = small
    real_dir = shared_data / "lastfm_hetrec2011_2k"
    dats = sorted(real_dir.glob("*.dat"))
    assert dats
    for dat in dats:
        stem = re.sub(r"_\d+$", "", dat.stem)  # user_taggedartists_2.dat is the same table
        with dat.open(encoding="latin-1") as f:
            header = f.readline().rstrip("\r\n").split("\t")
        ours = pq.read_schema(out / "lastfm_hetrec" / f"{stem}.parquet").names
        assert ours == header, dat.name


def test_charts_columns_are_the_kaggle_columns(charts):
    assert list(charts.columns) == KAGGLE_CHART_COLUMNS == list(CHART_COLUMNS)


def test_every_lake_contract_finds_its_raw_columns(small):
    from ml.lake.contracts import get_contract

    out, _ = small
    for dataset, rel in LAYOUT.items():
        path = out / rel
        names = pq.read_schema(path if path.is_file() else next(path.glob("*.parquet"))).names
        assert get_contract(dataset).missing_inputs(names) == [], dataset


# ----------------------------------------------------------------------------- spotify_tracks


def test_track_values_are_in_upstream_ranges(tracks):
    t = tracks
    assert len(t) == SMALL["tracks"]
    assert t["Unnamed: 0"].tolist() == list(range(len(t)))
    assert t.track_id.str.fullmatch(r"[0-7][0-9A-Za-z]{21}").all()
    assert t.popularity.between(0, 100).all() and t.popularity.std() > 10
    assert (t.duration_ms > 0).all()
    assert t.explicit.dtype == bool and 0 < t.explicit.mean() < 0.3
    for col in ("danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness", "valence"):
        assert t[col].between(0, 1).all(), col
        assert t[col].std() > 0.05, col
    assert t.key.between(0, 11).all() and t.key.nunique() == 12
    assert set(t["mode"]) == {0, 1}
    assert t.loudness.between(-60, 5).all() and -12 < t.loudness.mean() < -5
    assert t.tempo.between(0, 250).all()
    assert set(t.time_signature) <= {0, 1, 3, 4, 5} and (t.time_signature == 4).mean() > 0.8
    assert set(t.track_genre) <= set(vocab.GENRES.names) and t.track_genre.nunique() >= 100
    assert t.artists.str.contains(";", regex=False).mean() > 0.03  # multi-artist tracks
    assert not t.duplicated(["track_id", "track_genre"]).any()


def test_upstream_quirks_are_planted(tracks):
    t = tracks
    nameless = t[t.track_name.isna()]
    assert len(nameless) == 1
    assert nameless.artists.isna().all() and nameless.album_name.isna().all()
    assert t.artists.isna().sum() == 1
    zero_tempo = t[t.tempo == 0]
    assert 1 <= len(zero_tempo) <= 20
    assert (zero_tempo.time_signature == 0).all()
    assert (t.time_signature == 0).sum() == len(zero_tempo)


def test_some_tracks_are_listed_under_two_related_genres(tracks):
    dup = tracks[tracks.track_id.duplicated(keep=False)]
    assert 0.01 < dup.track_id.nunique() / tracks.track_id.nunique() < 0.05
    same = dup.drop(columns=["Unnamed: 0", "track_genre"]).drop_duplicates()
    assert len(same) == dup.track_id.nunique()  # same values, only the genre differs
    fam = dict(zip(vocab.GENRES.names, vocab.GENRES.family, strict=True))
    pairs = dup.groupby("track_id").track_genre.agg(list)
    assert np.mean([len({fam[g] for g in gs}) == 1 for gs in pairs]) > 0.9


def test_audio_features_depend_on_genre(tracks):
    m = tracks[tracks.tempo > 0].groupby("track_genre").mean(numeric_only=True)
    assert m.loc["classical", "acousticness"] > m.loc["metal", "acousticness"] + 0.4
    assert m.loc["sleep", "acousticness"] > m.loc["death-metal", "acousticness"] + 0.3
    assert m.loc["metal", "energy"] > m.loc["classical", "energy"] + 0.4
    assert m.loc["hip-hop", "speechiness"] > m.loc["classical", "speechiness"] + 0.05
    assert m.loc["classical", "instrumentalness"] > m.loc["pop", "instrumentalness"] + 0.3
    assert m.loc["edm", "danceability"] > m.loc["classical", "danceability"] + 0.15
    assert 118 < m.loc["edm", "tempo"] < 134
    assert m.loc["metal", "loudness"] > m.loc["classical", "loudness"] + 8
    # energy drives loudness within genres too
    assert tracks[["energy", "loudness"]].corr().iloc[0, 1] > 0.5


def test_popularity_carries_an_artist_effect(tracks):
    t = tracks.drop_duplicates("track_id").dropna(subset=["artists"])
    t = t.assign(main=t.artists.str.split(";").str[0], pop=t.popularity.astype(float))
    t = t[t.groupby("main").pop.transform("size") >= 3]
    between = t.groupby("main").pop.transform("mean").var()
    assert between / t["pop"].var() > 0.3


def test_titles_carry_a_language_signal(tracks):
    t = tracks.dropna(subset=["track_name"])

    def share(genres: list[str], pool: str) -> float:
        words = {w.lower() for w in vocab.POOL_WORDS[pool]} - {w.lower() for w in vocab.POOL_WORDS["en"]}
        names = t[t.track_genre.isin(genres)].track_name.str.lower().str.split()
        return float(np.mean([bool(words & set(n)) for n in names]))

    assert share(["brazil", "samba", "sertanejo", "pagode"], "pt") > 0.6
    assert share(["metal", "rock", "country"], "pt") < 0.05
    assert share(["j-pop", "j-rock", "anime"], "ja") > 0.5
    assert share(["latin", "reggaeton", "salsa"], "es") > 0.6


# ----------------------------------------------------------------------------- spotify_charts


def test_chart_rows_and_values(charts, tracks):
    c = charts
    assert len(c) == SMALL["chart_rows"]
    assert set(c.chart) == {"top200", "viral50"}
    assert (c.streams.isna() == (c.chart == "viral50")).all()  # null exactly for viral50
    top = c[c.chart == "top200"]
    assert (top.streams > 0).all() and (top.streams == top.streams.round()).all()
    assert top["rank"].between(1, 200).all() and c[c.chart == "viral50"]["rank"].between(1, 50).all()
    assert c.url.str.fullmatch(r"https://open\.spotify\.com/track/[0-9A-Za-z]{22}").all()
    assert set(c.url.str[-22:]) <= set(tracks.track_id)
    assert set(c.trend) <= {"MOVE_UP", "MOVE_DOWN", "SAME_POSITION", "NEW_ENTRY"}
    assert set(c.region) == {"Global", "United States", "Brazil", "Mexico", "United Kingdom"}
    assert c.title.notna().all() and c.artist.notna().all()
    dates = pd.to_datetime(c.date, format="%Y-%m-%d")
    assert dates.min() == pd.Timestamp("2017-01-01")
    assert (dates.diff().dropna() >= pd.Timedelta(0)).all()  # written day by day
    full = c[dates < dates.max()]  # the last day may be cut short to hit chart_rows exactly
    sizes = full.groupby(["date", "region", "chart"]).size()
    assert set(sizes.loc[:, :, "top200"]) == {200} and set(sizes.loc[:, :, "viral50"]) == {50}
    assert not full.duplicated(["date", "region", "chart", "url"]).any()
    by_rank = top.sort_values(["date", "region", "rank"]).groupby(["date", "region"]).streams
    assert by_rank.apply(lambda s: s.is_monotonic_decreasing).all()


def test_streams_scale_with_rank_and_market(long_charts):
    c, _ = long_charts
    top = c[c.chart == "top200"]
    med = top.groupby(["region", "rank"]).streams.median()
    g = med.loc["Global"]
    assert 4 < g.loc[1] / g.loc[200] < 30  # power law in rank
    assert g.loc[1] > 3 * med.loc["United States"].loc[1] > 3 * med.loc["Japan"].loc[1]


def test_charts_have_weekly_seasonality_and_life_cycles(long_charts):
    c, _ = long_charts
    top = c[(c.chart == "top200")].assign(date=lambda d: pd.to_datetime(d.date))
    daily = top.groupby("date").streams.sum()
    by_weekday = daily.groupby(daily.index.dayofweek).mean()
    assert by_weekday[4] == by_weekday.max()  # Friday: releases + the weekly peak
    assert by_weekday[6] < by_weekday[[0, 1, 2, 3]].min()  # Sunday dip
    # life cycle: a track's streams a month after its chart debut are far below its first weeks
    g = top[top.region == "Global"]
    first = g.groupby("url").date.transform("min")
    debut_after = g.date.min() + pd.Timedelta(days=14)
    new = g[(first > debut_after) & (first < g.date.max() - pd.Timedelta(days=50))]
    age = (new.date - first[new.index]).dt.days
    early = new[age < 7].groupby("url").streams.mean()
    later = new[(age >= 35) & (age < 42)].groupby("url").streams.mean()
    both = early.index.intersection(later.index)
    assert len(both) >= 10
    assert (later[both] / early[both]).median() < 0.8
    # and releases come mostly on Fridays: chart debuts of new tracks cluster on Fri/Sat
    debuts = g.groupby("url").date.min()
    debuts = debuts[debuts > g.date.min()]
    assert debuts.dt.dayofweek.isin([4, 5]).mean() > 0.4


def test_leader_markets_chart_tracks_before_followers(long_charts):
    c, _ = long_charts
    top = c[c.chart == "top200"].assign(date=lambda d: pd.to_datetime(d.date))
    first = top.groupby(["url", "region"]).date.min().unstack()
    first = first[first.min(axis=1) > top.date.min() + pd.Timedelta(days=7)]
    both = first[["United States", "Japan"]].dropna()
    assert len(both) >= 10
    lag = (both["Japan"] - both["United States"]).dt.days
    assert lag.mean() > 1


def test_popular_artists_chart_more(long_charts):
    c, t = long_charts
    charted = set(c.url.str[-22:])
    cat = t.drop_duplicates("track_id")
    on_chart = cat.track_id.isin(charted)
    assert cat.popularity[on_chart].mean() > cat.popularity[~on_chart].mean() + 5
    top10 = cat.track_id.isin(set(c[(c.chart == "top200") & (c["rank"] <= 10)].url.str[-22:]))
    assert cat.popularity[top10].mean() > cat.popularity[~on_chart].mean() + 10


# ----------------------------------------------------------------------------- lastfm_hetrec


@pytest.fixture(scope="module")
def lastfm(small) -> dict[str, pd.DataFrame]:
    out, _ = small
    return {p.stem: pq.read_table(p).to_pandas() for p in (out / "lastfm_hetrec").glob("*.parquet")}


def test_lastfm_tables_are_consistent(lastfm, tracks):
    ua, artists, tags = lastfm["user_artists"], lastfm["artists"], lastfm["tags"]
    uta, friends = lastfm["user_taggedartists"], lastfm["user_friends"]
    assert not ua.duplicated(["userID", "artistID"]).any()
    assert ua.userID.nunique() == SMALL["users"]
    assert ua.groupby("userID").size().median() == 50
    assert (ua.weight >= 1).all() and ua.weight.max() > 20 * ua.weight.median()  # heavy tail
    assert set(ua.artistID) | set(uta.artistID) == set(artists.id)
    assert artists.id.is_unique and artists.name.is_unique and tags.tagID.is_unique and tags.tagValue.is_unique
    assert artists.url.str.startswith("http://www.last.fm/music/").all()
    primary = set(tracks.artists.dropna().str.split(";").str[0])
    assert artists.name.isin(primary).mean() > 0.95  # linkable to Spotify by name
    assert {"chillout", "mellow", "sad", "happy", "melancholic", "relaxing", "party", "energetic", "dark",
            "upbeat"} <= set(tags.tagValue)
    assert {"classical", "metal", "hip-hop", "k-pop"} <= set(tags.tagValue)
    assert not uta.duplicated(["userID", "artistID", "tagID"]).any()
    assert set(uta.tagID) <= set(tags.tagID) and set(uta.userID) <= set(ua.userID)
    assert uta.month.between(1, 12).all() and uta.day.between(1, 31).all()
    assert (uta.year >= 2005).mean() > 0.99
    assert (friends.userID != friends.friendID).all() and not friends.duplicated().any()
    reverse = friends.rename(columns={"userID": "friendID", "friendID": "userID"})
    assert len(friends.merge(reverse)) == len(friends)  # listed in both directions


def test_plays_and_friendships_follow_latent_taste(lastfm, tracks):
    ua, artists = lastfm["user_artists"], lastfm["artists"]
    # an artist's genre: the genre of most of their tracks on the Spotify side (linked by name)
    t = tracks.dropna(subset=["artists"]).assign(name=lambda d: d.artists.str.split(";").str[0])
    genre_of = t.groupby("name").track_genre.agg(lambda s: s.mode().iloc[0])
    ua = ua.merge(artists.rename(columns={"id": "artistID"}), on="artistID").assign(genre=lambda d: d.name.map(genre_of))
    assert ua.genre.notna().mean() > 0.95
    plays = ua.groupby(["userID", "genre"]).weight.sum()
    share_top = plays.groupby("userID").max() / plays.groupby("userID").sum()
    assert share_top.mean() > 0.3  # a user's favourite genre gets a large share of their plays
    mix = pd.crosstab(ua.userID, ua.genre, values=ua.weight, aggfunc="sum").fillna(0)
    mix = mix.div(np.linalg.norm(mix, axis=1), axis=0)
    f = lastfm["user_friends"]
    cos = (mix.loc[f.userID].to_numpy() * mix.loc[f.friendID].to_numpy()).sum(axis=1)
    rng = np.random.default_rng(0)
    a, b = rng.choice(mix.index, len(f)), rng.choice(mix.index, len(f))
    rand = (mix.loc[a].to_numpy() * mix.loc[b].to_numpy()).sum(axis=1)
    assert cos.mean() > rand.mean() + 0.05


def test_mood_tags_follow_the_artists_sound(lastfm, tracks):
    t = tracks.dropna(subset=["artists"]).assign(name=lambda d: d.artists.str.split(";").str[0])
    sound = t.groupby("name")[["valence", "energy", "acousticness"]].mean()
    tagged = (lastfm["user_taggedartists"].merge(lastfm["tags"], on="tagID")
              .merge(lastfm["artists"].rename(columns={"id": "artistID"}), on="artistID").join(sound, on="name"))
    m = tagged.groupby("tagValue")[["valence", "energy", "acousticness"]].mean()
    assert m.loc["happy", "valence"] > m.loc["sad", "valence"] + 0.05
    assert m.loc["energetic", "energy"] > m.loc["mellow", "energy"] + 0.1
    assert m.loc["relaxing", "acousticness"] > m.loc["party", "acousticness"] + 0.1
