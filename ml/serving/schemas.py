"""Request and response models of the HTTP API (pydantic v2): the one place that says what a client may send.

Conventions (documented in bentos/README.md and the OpenAPI at /docs.json):
- A track is a row of the Kaggle Spotify Tracks schema. Fields a model does not use (e.g. `track_genre`
  for /classify, `popularity` for /popularity) are accepted and ignored, and so is any unknown field:
  a CSV row can be posted as is. Optional fields are really optional: a missing one is imputed by the
  model the same way the batch (pyfunc) path does.
- Endpoints that score tracks take one track as the body, or `{"tracks": [...]}` with up to 1,000.
- Bad input answers 400 (BentoML's status for pydantic failures) with `detail[*].loc` naming the
  field and `detail[*].msg` saying why; a body over the size limit answers 413, a body that is not
  JSON 415. Nothing a client sends produces a 5xx.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TRACKS = 1000
MAX_K = 100
MAX_HISTORY_DAYS = 400
MAX_TEXT = 500

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
RequestKey = Annotated[str, Field(min_length=1, max_length=128, description="client-chosen unit key (A/B bucket)")]
RequestId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{8,64}$")]


class _In(BaseModel):
    """Input models: unknown fields ignored, NaN/inf rejected, strings stripped."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackMeta(_In):
    """Catalogue metadata of a track (no audio analysis)."""

    track_id: Annotated[str, Field(max_length=64)] | None = None
    artists: Text | None = Field(None, description="artist names joined by ';' (Spotify Tracks schema)")
    track_name: Text | None = None
    album_name: Text | None = None
    track_genre: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="the listing's Spotify genre; ignored by /classify (it predicts it)")
    duration_ms: Annotated[int, Field(ge=1, le=86_400_000)] | None = None
    explicit: bool | None = None


class Track(TrackMeta):
    """One row of the Spotify Tracks schema: metadata + the twelve audio features (all required)."""

    popularity: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None, description="used by /classify when given; ignored by /popularity (it is the target)")
    danceability: Unit
    energy: Unit
    key: Annotated[int, Field(ge=-1, le=11)]
    loudness: Annotated[float, Field(ge=-60.0, le=10.0)]
    mode: Annotated[int, Field(ge=0, le=1)]
    speechiness: Unit
    acousticness: Unit
    instrumentalness: Unit
    liveness: Unit
    valence: Unit
    tempo: Annotated[float, Field(ge=0.0, le=260.0)]
    time_signature: Annotated[int, Field(ge=0, le=7)]


def _wrap_single(data: Any, extra_keys: tuple[str, ...]) -> Any:
    """A body without `tracks` is one track: wrap it so both forms validate the same way."""
    if isinstance(data, dict) and "tracks" not in data:
        outer = {k: data[k] for k in extra_keys if k in data}
        return {**outer, "tracks": [data]}
    return data


class _TrackBatch(_In):
    request_key: RequestKey | None = None

    @property
    def n(self) -> int:
        return len(self.tracks)  # type: ignore[attr-defined]


class ClassifyRequest(_TrackBatch):
    """One track (its fields at the top level) or `{"tracks": [...]}` (1-1,000)."""

    tracks: Annotated[list[Track], Field(min_length=1, max_length=MAX_TRACKS)]
    top_k: Annotated[int, Field(ge=1, le=5)] = 5

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data):
        return _wrap_single(data, ("request_key", "top_k"))


class PopularityRequest(_TrackBatch):
    """One track or `{"tracks": [...]}`; `explain: true` adds the top SHAP contributions (slower)."""

    tracks: Annotated[list[Track], Field(min_length=1, max_length=MAX_TRACKS)]
    explain: bool = False
    top_features: Annotated[int, Field(ge=1, le=20)] = 3

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data):
        return _wrap_single(data, ("request_key", "explain", "top_features"))


class AudioFeaturesTrack(TrackMeta):
    """Metadata only; artist and title are required (they feed the text embedding)."""

    artists: Text = Field(..., min_length=1, description="artist names joined by ';'")
    track_name: Text = Field(..., min_length=1)
    genres: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] | None = Field(
        None, description="Spotify genres of the track (else `track_genre`)")
    tags: Annotated[dict[Annotated[str, Field(max_length=64)], Annotated[int, Field(ge=1, le=10**9)]],
                    Field(max_length=50)] | None = Field(
        None, description="Last.fm tags of the artist with user counts; when absent the bento's own tag table is used")


class AudioFeaturesRequest(_TrackBatch):
    tracks: Annotated[list[AudioFeaturesTrack], Field(min_length=1, max_length=MAX_TRACKS)]

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data):
        return _wrap_single(data, ("request_key",))


class RecommendRequest(_In):
    """Recommendations for a user; an unknown `user_id` (or none) is a cold start from the seeds or popularity."""

    user_id: Annotated[int, Field(ge=0, le=2**53)] | None = Field(None, description="Last.fm user id; 0/absent = anonymous")
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 10
    exclude: Annotated[list[Annotated[int, Field(ge=0, le=2**53)]], Field(max_length=1000)] = Field(
        default_factory=list, description="artist ids never to recommend")
    seed_artists: Annotated[list[Annotated[int, Field(ge=0, le=2**53)]], Field(max_length=200)] = Field(
        default_factory=list, description="artist ids the user played (added to a known user's history)")
    seed_tracks: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=200)] = Field(
        default_factory=list, description="Spotify track ids the user played")
    only_linked: bool = Field(False, description="only artists with a Spotify track")
    request_key: RequestKey | None = None


class SimilarRequest(_In):
    """Nearest neighbours of a track (`track_id` known to the bento, or a `track` with audio features) or of an artist."""

    track_id: Annotated[str, Field(max_length=64)] | None = None
    track: Track | None = None
    artist_id: Annotated[int, Field(ge=0, le=2**53)] | None = None
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 10
    request_key: RequestKey | None = None

    @model_validator(mode="after")
    def _one_query(self):
        given = [n for n in ("track_id", "track", "artist_id") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of track_id, track, artist_id")
        return self


class ChartDay(_In):
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
    rank: Annotated[int, Field(ge=1, le=200)]
    streams: Annotated[int, Field(ge=0, le=10**10)]
    chart: Literal["top200", "viral50"] = "top200"


class StreamsRequest(_In):
    """Next-week streams of a track in a region from its recent daily chart history (oldest first or any order)."""

    track_id: Annotated[str, Field(min_length=1, max_length=64)]
    region: Annotated[str, Field(min_length=1, max_length=64, description="a region the model was trained on")]
    history: Annotated[list[ChartDay], Field(min_length=1, max_length=MAX_HISTORY_DAYS)]
    request_key: RequestKey | None = None


FeedbackEvent = Literal["play", "skip", "save", "complete", "label"]


class FeedbackRequest(_In):
    request_id: RequestId = Field(..., description="the request_id of the prediction this is about")
    event: FeedbackEvent
    item: Annotated[str, Field(max_length=64)] | None = Field(None, description="recommended artist/track id")
    label: Annotated[str, Field(max_length=64)] | None = Field(None, description="corrected label (event=label)")
    value: Annotated[float, Field(ge=-1e12, le=1e12)] | None = Field(None, description="true value, once known")
    request_key: RequestKey | None = None

    @model_validator(mode="after")
    def _label_needs_label(self):
        if self.event == "label" and not self.label:
            raise ValueError("event 'label' needs `label` (the corrected label)")
        return self


class ReloadRequest(_In):
    alias: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] | None = Field(
        None, description="default: the alias this instance serves")


# ----------------------------------------------------------------------------- responses


class ModelRef(_Out):
    model: str
    registered_name: str
    version: str
    variant: str


class Scored(_Out):
    label: str
    p: float


class Classification(_Out):
    track_id: str | None
    genre: list[Scored] = Field(description="fine genres (114), top-k with probabilities")
    super_genre: list[Scored] = Field(description="coarse super-genres (15), top-k with probabilities")
    mood: str
    mood_probabilities: dict[str, float]
    mood_intensity: float


class _Answer(_Out):
    request_id: str
    models: list[ModelRef]


class ClassifyResponse(_Answer):
    results: list[Classification]


class Contribution(_Out):
    feature: str
    shap: float


class PopularityResult(_Out):
    track_id: str | None
    popularity: float
    lower_80: float
    upper_80: float
    contributions: list[Contribution] | None = None


class PopularityResponse(_Answer):
    results: list[PopularityResult]


class FeatureEstimate(_Out):
    value: float
    std: float


class AudioFeaturesResult(_Out):
    track_id: str | None
    features: dict[str, FeatureEstimate]
    confidence: float
    completeness: float


class AudioFeaturesResponse(_Answer):
    results: list[AudioFeaturesResult]


class RecommendedItem(_Out):
    rank: int
    artist_id: int | None
    artist_name: str | None
    track_id: str | None
    track_name: str | None
    score: float
    reason: str


class RecommendResponse(_Answer):
    user_id: int | None
    cold_start: bool
    items: list[RecommendedItem]


class Neighbour(_Out):
    rank: int
    score: float
    track_id: str | None = None
    track_name: str | None = None
    artist_id: int | None = None
    artist_name: str | None = None


class SimilarResponse(_Answer):
    query: str
    neighbours: list[Neighbour]


class StreamsResponse(_Answer):
    track_id: str
    region: str
    week_anchor: str
    streams_next_week: float
    log_streams_next_week: float
    charts_next_week_probability: float | None


class FeedbackResponse(_Out):
    accepted: bool
    request_id: str
    feedback_id: str


class ReloadResponse(_Out):
    reloaded: bool
    variant: str
    alias: str
    versions: dict[str, str]
    seconds: float
