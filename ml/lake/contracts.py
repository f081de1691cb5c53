"""Typed data contracts: one per lake dataset.

A contract names every column the lake stores, where it comes from in the raw input,
its type, whether it is required and its allowed range. It compiles to one DuckDB
SELECT that casts a raw batch and, for every row, builds a `reason` listing each rule
the row breaks ('' when it breaks none). Rows with a reason go to quarantine; nothing is
dropped silently. Vectorised SQL keeps this at millions of rows per second, which a
row-by-row validator could not do for the 26M-row charts dataset.

Text is parsed strictly, not by DuckDB's lenient casts: an integer column takes only
`[+-]digits` (no `50.7` rounded to 51, no `0x10`, no `1_000`), a DOUBLE a plain decimal
or exponent number (finite), a DATE exactly `YYYY-MM-DD` within the column's range
(`today` means the ingest day), a BOOLEAN `true/false/t/f/1/0` in any case.
How a raw file is read (delimiter, encoding, quoting) is the source's business:
see `ml/sources/`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

AUDIO_FEATURES_01 = (
    "danceability",
    "energy",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
)

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


@dataclass(frozen=True)
class Column:
    """A stored column.

    source: raw input column name (defaults to `name`).
    expr: SQL computing the column from other *typed* columns instead of a raw one
          (derived columns such as normalized keys or the partition year).
    optional_input: the raw column may be absent from the input (then it is NULL).
    """

    name: str
    dtype: str
    required: bool = False
    min: float | str | None = None  # DATE columns: "YYYY-MM-DD" or "today"
    max: float | str | None = None
    allowed: tuple[str, ...] | None = None
    source: str | None = None
    expr: str | None = None
    optional_input: bool = False
    description: str = ""

    @property
    def raw(self) -> str:
        return self.source or self.name

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.dtype]


@dataclass(frozen=True)
class RowCheck:
    """A rule across columns, as a SQL condition that must hold (over typed columns)."""

    condition: str
    reason: str


@dataclass(frozen=True)
class Contract:
    dataset: str
    version: int
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()
    checks: tuple[RowCheck, ...] = ()
    partition_by: str | None = None
    description: str = ""

    @property
    def input_columns(self) -> list[Column]:
        return [c for c in self.columns if c.expr is None]

    @property
    def derived_columns(self) -> list[Column]:
        return [c for c in self.columns if c.expr is not None]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    def missing_inputs(self, raw_names: list[str]) -> list[str]:
        present = set(raw_names)
        return [c.raw for c in self.input_columns if not c.optional_input and c.raw not in present]

    def select_sql(self, table: str, raw_names: list[str], raw_types: dict[str, pa.DataType] | None = None) -> str:
        """SQL over raw table -> `_source_row`, typed columns, `_reason`.

        Text input (CSV) is trimmed and cast with TRY_CAST, so a bad value becomes a reason.
        Input already of the contract's type (Parquet, API records) is used as is: no text
        round trip, which is what keeps large typed inputs at millions of rows per second.
        """
        present = set(raw_names)
        raw_types = raw_types or {}
        typed, reasons = [], []
        for c in self.input_columns:
            if c.raw not in present:
                typed.append(f"CAST(NULL AS {c.dtype}) AS {_q(c.name)}")
                if c.required:
                    reasons.append(f"'{c.name}: missing'")
                continue
            raw_type = raw_types.get(c.raw)
            native = c.dtype != "VARCHAR" and raw_type == c.arrow_type
            if native:
                cast = _q(c.raw)
                blank = f"({cast} IS NULL)"
            elif c.dtype in _INTEGER and raw_type is not None and pa.types.is_floating(raw_type):
                # typed float input (e.g. Parquet from pandas): whole numbers only, never rounded
                v = _q(c.raw)
                blank = f"({v} IS NULL)"
                cast = f"TRY_CAST(CASE WHEN isfinite({v}) AND {v} = trunc({v}) THEN {v} END AS {c.dtype})"
            else:
                raw = f"CAST({_q(c.raw)} AS VARCHAR)"
                blank = f"({raw} IS NULL OR trim({raw}) = '')"
                text = f"trim({raw})"
                if c.dtype == "VARCHAR":
                    cast = f"CASE WHEN {blank} THEN NULL ELSE {raw} END"
                else:
                    form = _strict_form(c.dtype, text)
                    cast = f"(CASE WHEN {blank} THEN NULL WHEN {form} THEN TRY_CAST({text} AS {c.dtype}) END)"
                    if c.dtype == "DOUBLE":
                        cast = f"(CASE WHEN isfinite({cast}) THEN {cast} END)"
            typed.append(f"{cast} AS {_q(c.name)}")
            if c.required:
                reasons.append(f"CASE WHEN {blank} THEN '{c.name}: missing' END")
            if c.dtype != "VARCHAR" and not native:
                reasons.append(
                    f"CASE WHEN NOT {blank} AND {cast} IS NULL THEN '{c.name}: not a valid {c.dtype}' END"
                )
            if c.min is not None:
                reasons.append(f"CASE WHEN {cast} < {_bound(c, c.min)} THEN '{c.name}: {_below(c)} {_shown(c.min)}' END")
            if c.max is not None:
                reasons.append(f"CASE WHEN {cast} > {_bound(c, c.max)} THEN '{c.name}: {_above(c)} {_shown(c.max)}' END")
            if c.allowed is not None:
                allowed = ", ".join(_lit(a) for a in c.allowed)
                reasons.append(
                    f"CASE WHEN {cast} IS NOT NULL AND {cast} NOT IN ({allowed}) "
                    f"THEN '{c.name}: not one of {'/'.join(c.allowed)}' END"
                )
        inner = ", ".join(["_source_row", *typed])
        derived = "".join(f", {c.expr} AS {_q(c.name)}" for c in self.derived_columns)
        checks = "".join(
            f", CASE WHEN NOT coalesce({k.condition}, false) THEN {_lit(k.reason)} END" for k in self.checks
        )
        cols = ", ".join(_q(c.name) for c in self.columns)
        raw_reason = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
        # A CSV line with the wrong number of fields has no trustworthy values: one reason only.
        malformed = "_malformed_line" if "_malformed_line" in present else "CAST(NULL AS VARCHAR)"
        # Raw-value rules run where the raw columns are visible; cross-column checks and
        # derived columns run over the typed values.
        return (
            f"WITH typed AS (SELECT {inner}, {raw_reason} AS _raw_reason, {malformed} AS _malformed FROM {table}), "
            f"derived AS (SELECT *{derived} FROM typed) "
            f"SELECT _source_row, {cols}, CASE WHEN _malformed IS NOT NULL "
            f"THEN 'malformed line: wrong number of fields' "
            f"ELSE concat_ws('; ', nullif(_raw_reason, ''){checks}) END AS _reason "
            f"FROM derived"
        )


_INTEGER = ("BIGINT", "INTEGER")
_FORMS = {  # what text a column of this type accepts (DuckDB's casts alone are lenient)
    "BIGINT": "[+-]?[0-9]+",
    "INTEGER": "[+-]?[0-9]+",
    "DOUBLE": "[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?",
    "DATE": "[0-9]{4}-[0-9]{2}-[0-9]{2}",
}


def _strict_form(dtype: str, text: str) -> str:
    if dtype == "BOOLEAN":
        return f"lower({text}) IN ('true', 'false', 't', 'f', '1', '0')"
    return f"regexp_full_match({text}, '{_FORMS[dtype]}')"


def _bound(c: Column, value: float | str) -> str:
    if c.dtype == "DATE":
        return "current_date" if value == "today" else f"DATE {_lit(str(value))}"
    return repr(value)


def _shown(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _below(c: Column) -> str:
    return "before" if c.dtype == "DATE" else "below"


def _above(c: Column) -> str:
    return "after" if c.dtype == "DATE" else "above"


def _audio(name: str) -> Column:
    return Column(name, "DOUBLE", required=True, min=0.0, max=1.0)


# ---------------------------------------------------------------------------- contracts

SPOTIFY_TRACKS = Contract(
    dataset="spotify_tracks",
    version=1,
    description="Kaggle Spotify Tracks (maharshipandya): one row per (track, genre listing).",
    columns=(
        Column("row_index", "BIGINT", source="Unnamed: 0", optional_input=True,
               description="row number in the upstream dataset.csv"),
        Column("track_id", "VARCHAR", required=True),
        Column("artists", "VARCHAR", required=True, description="';'-joined artist names"),
        Column("album_name", "VARCHAR"),
        Column("track_name", "VARCHAR", required=True),
        Column("popularity", "BIGINT", required=True, min=0, max=100),
        Column("duration_ms", "BIGINT", required=True, min=1),
        Column("explicit", "BOOLEAN", required=True),
        _audio("danceability"),
        _audio("energy"),
        Column("key", "BIGINT", required=True, min=-1, max=11),
        Column("loudness", "DOUBLE", required=True, min=-60.0, max=10.0),
        Column("mode", "BIGINT", required=True, min=0, max=1),
        _audio("speechiness"),
        _audio("acousticness"),
        _audio("instrumentalness"),
        _audio("liveness"),
        _audio("valence"),
        Column("tempo", "DOUBLE", required=True, min=0.0, max=260.0, description="BPM; 0 means unknown upstream"),
        Column("time_signature", "BIGINT", required=True, min=0, max=7),
        Column("track_genre", "VARCHAR", required=True),
        Column("primary_artist", "VARCHAR", expr="trim(split_part(artists, ';', 1))"),
        Column("artist_key", "VARCHAR", expr="musicml_artist_key(trim(split_part(artists, ';', 1)))"),
        Column("track_key", "VARCHAR", expr="musicml_track_key(track_name)"),
    ),
    unique=("track_id", "track_genre"),
)

def _relaxed(contract: Contract, dataset: str, optional: set[str], description: str) -> Contract:
    """The same columns with some no longer required (ranges and types still apply)."""
    from dataclasses import replace

    cols = tuple(replace(c, required=False) if c.name in optional else c for c in contract.columns)
    return replace(contract, dataset=dataset, columns=cols, description=description)


SPOTIFY_API_TRACKS = _relaxed(
    SPOTIFY_TRACKS,
    "spotify_api_tracks",
    {*AUDIO_FEATURES_01, "key", "loudness", "mode", "tempo", "time_signature", "track_genre", "popularity"},
    "Tracks fetched from the Spotify Web API, in the Kaggle schema. Genre and audio features are "
    "optional: Spotify no longer serves audio-features to new apps (Nov 2024).",
)

CHART_REGIONS_NOTE = "viral50 rows carry no streams by design"

SPOTIFY_CHARTS = Contract(
    dataset="spotify_charts",
    version=1,
    description="Kaggle Spotify Charts: daily top200 / viral50 per region. " + CHART_REGIONS_NOTE,
    columns=(
        Column("title", "VARCHAR", required=True),
        Column("rank", "BIGINT", required=True, min=1, max=200),
        Column("date", "DATE", required=True, min="2008-10-01", max="today",
               description="chart day: from Spotify's launch (Oct 2008) to the day of the ingest"),
        Column("artist", "VARCHAR"),
        Column("url", "VARCHAR"),
        Column("region", "VARCHAR", required=True),
        Column("chart", "VARCHAR", required=True, allowed=("top200", "viral50")),
        Column("trend", "VARCHAR"),
        Column("streams", "BIGINT", min=0),
        Column("track_id", "VARCHAR", expr="nullif(regexp_extract(url, 'track/([A-Za-z0-9]+)', 1), '')"),
        Column("year", "BIGINT", expr="CAST(year(date) AS BIGINT)"),
    ),
    checks=(RowCheck("chart <> 'top200' OR streams IS NOT NULL", "streams: missing for a top200 row"),),
    partition_by="year",
)

_PCT = ("danceability", "valence", "energy", "acousticness", "instrumentalness", "liveness", "speechiness")

SPOTIFY_2023 = Contract(
    dataset="spotify_2023",
    version=1,
    description="Most streamed Spotify songs 2023 (Kaggle). latin-1 with mojibake in names.",
    columns=(
        Column("track_name", "VARCHAR", required=True),
        Column("artist_name", "VARCHAR", required=True, source="artist(s)_name", description="', '-joined"),
        Column("artist_count", "BIGINT", required=True, min=1),
        Column("released_year", "BIGINT", required=True, min=1900, max=2100),
        Column("released_month", "BIGINT", required=True, min=1, max=12),
        Column("released_day", "BIGINT", required=True, min=1, max=31),
        Column("in_spotify_playlists", "BIGINT", min=0),
        Column("in_spotify_charts", "BIGINT", min=0),
        Column("streams", "BIGINT", required=True, min=0),
        Column("in_apple_playlists", "BIGINT", min=0),
        Column("in_apple_charts", "BIGINT", min=0),
        Column("in_deezer_playlists", "BIGINT", min=0),
        Column("in_deezer_charts", "BIGINT", min=0),
        Column("in_shazam_charts", "BIGINT", min=0),
        Column("bpm", "DOUBLE", min=0, max=260),
        Column("key", "VARCHAR"),
        Column("mode", "VARCHAR", allowed=("Major", "Minor")),
        *(Column(f"{f}_pct", "BIGINT", min=0, max=100, source=f"{f}_%") for f in _PCT),
        Column("release_date", "DATE",
               expr="TRY_CAST(make_date(released_year, released_month, released_day) AS DATE)"),
        Column("text_damaged", "BOOLEAN",
               expr="(contains(track_name, 'ï¿½') OR contains(artist_name, 'ï¿½'))",
               description="name carries upstream mojibake (truncated text)"),
        Column("primary_artist", "VARCHAR", expr="trim(split_part(artist_name, ',', 1))"),
        Column("artist_key", "VARCHAR", expr="musicml_artist_key(trim(split_part(artist_name, ',', 1)))"),
        Column("track_key", "VARCHAR", expr="musicml_track_key(track_name)"),
    ),
    checks=(RowCheck("release_date IS NOT NULL", "released_year/month/day: not a calendar date"),
            RowCheck("release_date IS NULL OR release_date <= current_date", "release_date: after today")),
)

LASTFM_USER_ARTISTS = Contract(
    dataset="lastfm_user_artists",
    version=1,
    description="hetrec2011 Last.fm: play count per (user, artist).",
    columns=(
        Column("user_id", "BIGINT", required=True, source="userID"),
        Column("artist_id", "BIGINT", required=True, source="artistID"),
        Column("weight", "BIGINT", required=True, min=1, description="play count"),
    ),
    unique=("user_id", "artist_id"),
)

LASTFM_ARTISTS = Contract(
    dataset="lastfm_artists",
    version=1,
    description="hetrec2011 Last.fm artists.",
    columns=(
        Column("artist_id", "BIGINT", required=True, source="id"),
        Column("name", "VARCHAR", required=True),
        Column("url", "VARCHAR"),
        Column("picture_url", "VARCHAR", source="pictureURL"),
        Column("artist_key", "VARCHAR", expr="musicml_artist_key(name)"),
    ),
    unique=("artist_id",),
)

LASTFM_TAGS = Contract(
    dataset="lastfm_tags",
    version=1,
    description="hetrec2011 Last.fm tag vocabulary (latin-1 upstream).",
    columns=(
        Column("tag_id", "BIGINT", required=True, source="tagID"),
        Column("tag", "VARCHAR", required=True, source="tagValue"),
    ),
    unique=("tag_id",),
)

LASTFM_USER_TAGGEDARTISTS = Contract(
    dataset="lastfm_user_taggedartists",
    version=1,
    description="hetrec2011 Last.fm tag assignments (user tags artist). Pre-2005 years are known-bad upstream.",
    columns=(
        Column("user_id", "BIGINT", required=True, source="userID"),
        Column("artist_id", "BIGINT", required=True, source="artistID"),
        Column("tag_id", "BIGINT", required=True, source="tagID"),
        Column("day", "BIGINT", required=True, min=1, max=31),
        Column("month", "BIGINT", required=True, min=1, max=12),
        Column("year", "BIGINT", required=True, min=1900, max=2011,
               description="hetrec2011 ends in 2011; pre-2005 values are known-bad upstream but kept"),
    ),
    unique=("user_id", "artist_id", "tag_id"),
)

LASTFM_USER_FRIENDS = Contract(
    dataset="lastfm_user_friends",
    version=1,
    description="hetrec2011 Last.fm friend relations.",
    columns=(
        Column("user_id", "BIGINT", required=True, source="userID"),
        Column("friend_id", "BIGINT", required=True, source="friendID"),
    ),
    unique=("user_id", "friend_id"),
)

_GTZAN_STATS = (
    "chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth", "rolloff",
    "zero_crossing_rate", "harmony", "perceptr",
    *(f"mfcc{i}" for i in range(1, 21)),
)

GTZAN_FEATURES = Contract(
    dataset="gtzan_features",
    version=1,
    description="GTZAN 30 s clips: MFCC and spectral summary features with genre label.",
    columns=(
        Column("filename", "VARCHAR", required=True),
        Column("length", "BIGINT", required=True, min=1),
        *(Column(f"{s}_{agg}", "DOUBLE", required=True) for s in _GTZAN_STATS[:8] for agg in ("mean", "var")),
        Column("tempo", "DOUBLE", required=True, min=0, max=300),
        *(Column(f"{s}_{agg}", "DOUBLE", required=True) for s in _GTZAN_STATS[8:] for agg in ("mean", "var")),
        Column("label", "VARCHAR", required=True),
        Column("song_id", "VARCHAR", expr="regexp_replace(filename, '\\.wav$', '')",
               description="clip id (genre.number): the grouping key for leakage-safe splits"),
    ),
    unique=("filename",),
)

LASTFM_API_TRACK_TAGS = Contract(
    dataset="lastfm_api_track_tags",
    version=1,
    description="Top tags per track from the Last.fm API (track.getTopTags).",
    columns=(
        Column("artist", "VARCHAR", required=True),
        Column("track", "VARCHAR", required=True),
        Column("tag", "VARCHAR", required=True),
        Column("count", "BIGINT", min=0),
        Column("artist_key", "VARCHAR", expr="musicml_artist_key(artist)"),
        Column("track_key", "VARCHAR", expr="musicml_track_key(track)"),
    ),
    unique=("artist", "track", "tag"),
)

MUSICBRAINZ_ARTISTS = Contract(
    dataset="musicbrainz_artists",
    version=1,
    description="MusicBrainz artist search results: MBIDs for entity linking.",
    columns=(
        Column("query", "VARCHAR", required=True),
        Column("mbid", "VARCHAR", required=True),
        Column("name", "VARCHAR", required=True),
        Column("sort_name", "VARCHAR"),
        Column("country", "VARCHAR"),
        Column("score", "BIGINT", min=0, max=100),
        Column("artist_key", "VARCHAR", expr="musicml_artist_key(name)"),
    ),
    unique=("query", "mbid"),
)

# Serving logs (ml/serving/predlog.py writes them; `musicml serving compact` lands a month here).
_ENDPOINTS = ("classify", "popularity", "audio-features", "recommend", "similar", "streams")
PREDICTION_LOG = Contract(
    dataset="prediction_log",
    version=1,
    description="One row per prediction served (request, model, batch position); inputs/outputs as JSON.",
    columns=(
        Column("request_id", "VARCHAR", required=True),
        Column("ts", "VARCHAR", required=True, description="ISO 8601 UTC"),
        Column("ts_ms", "BIGINT", required=True, min=0, description="epoch milliseconds"),
        Column("endpoint", "VARCHAR", required=True, allowed=_ENDPOINTS),
        Column("model", "VARCHAR", required=True),
        Column("registered_name", "VARCHAR"),
        Column("version", "VARCHAR"),
        Column("variant", "VARCHAR", required=True),
        Column("unit_key", "VARCHAR", required=True, description="salted hash, never a raw user id"),
        Column("item", "BIGINT", required=True, min=0, description="position in the request's batch"),
        Column("inputs", "VARCHAR", description="JSON: the features the model saw"),
        Column("outputs", "VARCHAR", description="JSON"),
        Column("latency_ms", "DOUBLE", min=0.0),
        Column("status", "VARCHAR", required=True, allowed=("ok", "error")),
        Column("experiment_id", "VARCHAR"),
        Column("bucket", "DOUBLE", min=0.0, max=1.0),
    ),
    unique=("request_id", "model", "item"),
)
PREDICTION_FEEDBACK = Contract(
    dataset="prediction_feedback",
    version=1,
    description="Feedback events on served predictions, joinable to prediction_log by request_id.",
    columns=(
        Column("feedback_id", "VARCHAR", required=True),
        Column("request_id", "VARCHAR", required=True),
        Column("ts", "VARCHAR", required=True),
        Column("ts_ms", "BIGINT", required=True, min=0),
        Column("event", "VARCHAR", required=True, allowed=("play", "skip", "save", "complete", "label")),
        Column("item", "VARCHAR"),
        Column("label", "VARCHAR"),
        Column("value", "DOUBLE"),
        Column("unit_key", "VARCHAR", required=True),
        Column("variant", "VARCHAR"),
    ),
    unique=("feedback_id",),
)

CONTRACTS: dict[str, Contract] = {
    c.dataset: c
    for c in (
        SPOTIFY_TRACKS,
        SPOTIFY_API_TRACKS,
        SPOTIFY_CHARTS,
        SPOTIFY_2023,
        LASTFM_USER_ARTISTS,
        LASTFM_ARTISTS,
        LASTFM_TAGS,
        LASTFM_USER_TAGGEDARTISTS,
        LASTFM_USER_FRIENDS,
        GTZAN_FEATURES,
        LASTFM_API_TRACK_TAGS,
        MUSICBRAINZ_ARTISTS,
        PREDICTION_LOG,
        PREDICTION_FEEDBACK,
    )
}


def get_contract(name: str) -> Contract:
    try:
        return CONTRACTS[name]
    except KeyError:
        raise KeyError(f"no contract named {name!r}; known: {', '.join(sorted(CONTRACTS))}") from None
