"""The serving core, free of BentoML: load a variant's models, answer each endpoint, log and measure.

`ServingHost` holds one *variant* (champion by default; a challenger host is the same class with
another variant/alias) and is what the BentoML service in bentos/service.py delegates to, so every
decision is a plain method that tests call directly. Its parts:
- `Bundle`: the loaded models of one alias (BentoML model store -> pyfunc -> fast-path adapter) with
  their registry identity (registered name, version, alias, run id, lake fingerprint);
- one method per endpoint: request model in, response model out, log rows and metrics on the side;
- `reload()`: import the versions now behind the alias, load them completely, then swap the bundle
  reference in one assignment; requests in flight finish on the bundle they started with, so a
  reload under load fails no request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from ml.serving import schemas as S
from ml.serving.config import ServingSettings, bentoml_home, serving_settings
from ml.serving.metrics import metrics
from ml.serving.predictors import ADAPTERS
from ml.serving.predlog import LogWriter, make_sink, now_ts

log = logging.getLogger(__name__)


class ModelUnavailable(Exception):
    """The bento serves no version of this model (no version had the alias at build time)."""


def bad_input(loc: tuple, message: str, value: Any = None) -> ValidationError:
    """A 400 in BentoML's pydantic format (`detail[*].loc` names the field) for checks only the model can make."""
    err = InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=value)
    return ValidationError.from_exception_data("request", [err])


def unit_key(salt: str, user_id: int | None = None, request_key: str | None = None, request_id: str = "") -> str:
    """The A/B and log unit: a salted hash of the user id, else the client key, else the request id."""
    if user_id:
        raw = f"user:{user_id}"
    elif request_key:
        raw = f"key:{request_key}"
    else:
        raw = f"req:{request_id}"
    return hashlib.sha256(f"{salt}|{raw}".encode()).hexdigest()[:16]


def new_request_id() -> str:
    return uuid.uuid4().hex


# ------------------------------------------------------------------------------------ bundle


@dataclass
class Loaded:
    name: str
    entry: dict  # ModelEntry fields: registered_name, version, alias, run_id, fingerprint, tag
    python_model: Any
    predictor: Any


@dataclass
class Bundle:
    variant: str
    alias: str
    models: dict[str, Loaded]
    skipped: dict[str, str] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)
    load_seconds: float = 0.0

    def get(self, name: str) -> Loaded:
        m = self.models.get(name)
        if m is None:
            raise ModelUnavailable(self.skipped.get(name, f"{name} is not served by this instance"))
        return m

    def ref(self, name: str) -> S.ModelRef:
        e = self.get(name).entry
        return S.ModelRef.model_construct(model=name, registered_name=e["registered_name"], version=e["version"],
                                          variant=self.variant)

    def versions(self) -> dict[str, str]:
        return {k: v.entry["version"] for k, v in self.models.items()}


def load_bundle(manifest: dict, variant: str, models: tuple[str, ...] | None = None) -> Bundle:
    """Load every model of a serving manifest from the BentoML model store (no MLflow server needed)."""
    bentoml_home()
    import bentoml

    started = time.perf_counter()
    wanted = models or tuple(manifest["models"])
    loaded, skipped = {}, {}
    for name in wanted:
        entry = manifest["models"].get(name)
        if entry is None:
            skipped[name] = f"no version of {name} had the alias {manifest.get('alias')!r} when the bento was built"
            continue
        pyfunc = bentoml.mlflow.load_model(bentoml.models.get(entry["tag"]))
        pm = pyfunc.unwrap_python_model()
        loaded[name] = Loaded(name, entry, pm, ADAPTERS[name](pm))
    return Bundle(variant=variant, alias=manifest.get("alias", "champion"), models=loaded, skipped=skipped,
                  load_seconds=time.perf_counter() - started)


# -------------------------------------------------------------------------------------- host


class ServingHost:
    def __init__(self, settings: ServingSettings | None = None, manifest: dict | None = None):
        from ml.serving.store import read_manifest

        self.cfg = settings or serving_settings()
        self.variant = self.cfg.variant
        self.metrics = metrics()
        self._reload_lock = threading.Lock()
        self.bundle = load_bundle(manifest or read_manifest(), self.variant, self.cfg.models)
        self._publish_versions(self.bundle)
        m = self.metrics

        def on_flush(stream):
            def cb(w: LogWriter):
                m.log_buffer.labels(stream).set(w.buffered)
            return cb

        self.predictions = LogWriter(make_sink("predictions", self.cfg.prediction_log_url, self.cfg.log_dir),
                                     self.cfg.log_flush_seconds, self.cfg.log_flush_rows, self.cfg.log_buffer_rows,
                                     on_flush("predictions")).start()
        self.feedback = LogWriter(make_sink("feedback", self.cfg.prediction_log_url, self.cfg.log_dir),
                                  self.cfg.log_flush_seconds, self.cfg.log_flush_rows, self.cfg.log_buffer_rows,
                                  on_flush("feedback")).start()
        self._written = {"predictions": 0, "feedback": 0}
        self.ready = True

    # -------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self.ready = False
        for w in (self.predictions, self.feedback):
            w.close()
        self.sync_log_metrics()

    def sync_log_metrics(self) -> None:
        for stream, w in (("predictions", self.predictions), ("feedback", self.feedback)):
            m = self.metrics
            m.log_buffer.labels(stream).set(w.buffered)
            delta = w.written - self._written[stream]
            if delta > 0:
                m.log_written.labels(stream).inc(delta)
                self._written[stream] = w.written

    def _publish_versions(self, bundle: Bundle, previous: Bundle | None = None) -> None:
        g = self.metrics.model_info
        if previous is not None:
            for name, m in previous.models.items():  # 0, not remove(): multiprocess mode cannot remove
                g.labels(name, previous.variant, m.entry["registered_name"], m.entry["version"], m.entry["alias"]).set(0)
        for name, m in bundle.models.items():
            g.labels(name, bundle.variant, m.entry["registered_name"], m.entry["version"], m.entry["alias"]).set(1)

    def reload(self, alias: str | None = None) -> S.ReloadResponse:
        """Import the versions behind `alias` now, load them fully, then swap atomically."""
        from ml.serving.store import import_alias, write_manifest

        alias = alias or self.cfg.serve_alias
        started = time.perf_counter()
        with self._reload_lock:  # one reload at a time; requests are never blocked by it
            entries, skipped = import_alias(alias, self.cfg.models)
            if not entries:
                raise LookupError(f"no model has a version with alias {alias!r}")
            manifest = {"alias": alias, "models": {k: vars(v) for k, v in entries.items()}}
            fresh = load_bundle(manifest, self.variant, self.cfg.models)
            old, self.bundle = self.bundle, fresh  # the swap: one reference assignment
            try:
                write_manifest(entries, alias)  # a restart serves what this instance serves now
            except OSError as exc:
                log.warning("could not update the serving manifest: %s", exc)
            self._publish_versions(fresh, old)
        return S.ReloadResponse(reloaded=True, variant=self.variant, alias=alias, versions=fresh.versions(),
                                seconds=round(time.perf_counter() - started, 3))

    # ---------------------------------------------------------------------- logging

    def _log(self, endpoint: str, bundle: Bundle, model: str, request_id: str, ukey: str, inputs: list,
             outputs: list, started: float, status: str = "ok") -> None:
        e = bundle.models[model].entry
        ts, ms = now_ts()
        latency = (time.perf_counter() - started) * 1000
        base = {"request_id": request_id, "ts": ts, "ts_ms": ms, "endpoint": endpoint, "model": model,
                "registered_name": e["registered_name"], "version": e["version"], "variant": bundle.variant,
                "unit_key": ukey, "latency_ms": round(latency, 3), "status": status}
        rows = [{**base, "item": i, "inputs": x, "outputs": y} for i, (x, y) in enumerate(zip(inputs, outputs, strict=True))]
        dropped = self.predictions.append(rows)
        m = self.metrics
        m.predictions.labels(model, bundle.variant).inc(len(rows))
        if dropped:
            m.log_dropped.labels("predictions").inc(dropped)

    def _timed(self, model: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.metrics.model_latency.labels(model, self.variant).observe(time.perf_counter() - t0)
        return out

    # -------------------------------------------------------------------- endpoints

    def classify(self, req: S.ClassifyRequest, request_id: str) -> S.ClassifyResponse:
        started = time.perf_counter()
        b = self.bundle
        g, md = b.get("genre"), b.get("mood")
        rows = [t.model_dump(exclude_none=True) for t in req.tracks]
        fine, coarse = self._timed("genre", g.predictor.proba, rows)
        mood_p = self._timed("mood", md.predictor.proba, rows)
        gp, mp = g.predictor, md.predictor
        k = req.top_k
        top_f, top_c = gp.top(fine, gp.fine_classes, k), gp.top(coarse, gp.coarse_classes, k)
        intensity = mp.intensity(mood_p)
        best = mood_p.argmax(axis=1)
        results, g_out, m_out = [], [], []
        m = self.metrics
        for i, t in enumerate(req.tracks):
            mood = mp.moods[best[i]]
            mprobs = {mo: float(mood_p[i, j]) for j, mo in enumerate(mp.moods)}
            results.append(S.Classification.model_construct(
                track_id=t.track_id,
                genre=[S.Scored.model_construct(label=lab, p=p) for lab, p in top_f[i]],
                super_genre=[S.Scored.model_construct(label=lab, p=p) for lab, p in top_c[i]],
                mood=mood, mood_probabilities=mprobs, mood_intensity=float(intensity[i])))
            g_out.append({"genre": top_f[i], "super_genre": top_c[i]})
            m_out.append({"mood": mood, "p": mprobs, "intensity": float(intensity[i])})
            m.top_genre.labels(b.variant, top_c[i][0][0]).inc()
            m.top_mood.labels(b.variant, mood).inc()
        resp = S.ClassifyResponse.model_construct(request_id=request_id, models=[b.ref("genre"), b.ref("mood")],
                                                  results=results)
        ukey = unit_key(self.cfg.unit_key_salt, request_key=req.request_key, request_id=request_id)
        self._log("classify", b, "genre", request_id, ukey, rows, g_out, started)
        self._log("classify", b, "mood", request_id, ukey, rows, m_out, started)
        return resp

    def popularity(self, req: S.PopularityRequest, request_id: str) -> S.PopularityResponse:
        started = time.perf_counter()
        b = self.bundle
        p = b.get("popularity")
        rows = [t.model_dump(exclude_none=True, exclude={"popularity"}) for t in req.tracks]
        out = self._timed("popularity", p.predictor.predict, rows, explain=req.explain, top=req.top_features)
        results, logged = [], []
        hist = self.metrics.popularity.labels(b.variant)
        for i, t in enumerate(req.tracks):
            contrib = None
            if req.explain:
                contrib = [S.Contribution.model_construct(feature=f, shap=round(v, 4)) for f, v in out["contributions"][i]]
            val, lo, hi = float(out["pred"][i]), float(out["lower"][i]), float(out["upper"][i])
            results.append(S.PopularityResult.model_construct(track_id=t.track_id, popularity=val, lower_80=lo,
                                                              upper_80=hi, contributions=contrib))
            logged.append({"popularity": val, "lower_80": lo, "upper_80": hi})
            hist.observe(val)
        resp = S.PopularityResponse.model_construct(request_id=request_id, models=[b.ref("popularity")],
                                                    results=results)
        ukey = unit_key(self.cfg.unit_key_salt, request_key=req.request_key, request_id=request_id)
        self._log("popularity", b, "popularity", request_id, ukey, rows, logged, started)
        return resp

    def audio_features(self, req: S.AudioFeaturesRequest, request_id: str) -> S.AudioFeaturesResponse:
        started = time.perf_counter()
        b = self.bundle
        a = b.get("audio_features")
        rows = [t.model_dump(exclude_none=True) for t in req.tracks]
        df = self._timed("audio_features", a.predictor.predict, rows)
        feats = a.predictor.features
        pred = df[[f"{f}_pred" for f in feats]].to_numpy(float)
        std = df[[f"{f}_std" for f in feats]].to_numpy(float)
        conf, comp = df["confidence"].to_numpy(float), df["completeness"].to_numpy(float)
        results, logged = [], []
        for i, t in enumerate(req.tracks):
            fe = {f: S.FeatureEstimate.model_construct(value=float(pred[i, j]), std=float(std[i, j]))
                  for j, f in enumerate(feats)}
            results.append(S.AudioFeaturesResult.model_construct(track_id=t.track_id, features=fe,
                                                                 confidence=float(conf[i]), completeness=float(comp[i])))
            logged.append({**{f: float(pred[i, j]) for j, f in enumerate(feats)}, "confidence": float(conf[i])})
        resp = S.AudioFeaturesResponse.model_construct(request_id=request_id, models=[b.ref("audio_features")],
                                                       results=results)
        ukey = unit_key(self.cfg.unit_key_salt, request_key=req.request_key, request_id=request_id)
        self._log("audio-features", b, "audio_features", request_id, ukey, rows, logged, started)
        return resp

    def recommend(self, req: S.RecommendRequest, request_id: str) -> S.RecommendResponse:
        started = time.perf_counter()
        b = self.bundle
        r = b.get("recommender")
        rec, cold = self._timed("recommender", r.predictor.recommend, req.user_id, req.k, req.exclude,
                                req.seed_artists, req.seed_tracks, req.only_linked)
        items = []
        for row in rec.itertuples(index=False):
            items.append(S.RecommendedItem.model_construct(
                rank=len(items) + 1, artist_id=_int(row.artist_id), artist_name=_str(row.artist_name),
                track_id=_str(row.track_id), track_name=_str(row.track_name), score=float(row.score),
                reason=str(row.reason)))
        if cold:
            self.metrics.cold_start.labels(b.variant).inc()
        resp = S.RecommendResponse.model_construct(request_id=request_id, models=[b.ref("recommender")],
                                                   user_id=req.user_id, cold_start=cold, items=items)
        ukey = unit_key(self.cfg.unit_key_salt, user_id=req.user_id, request_key=req.request_key,
                        request_id=request_id)
        inputs = req.model_dump(exclude={"user_id", "request_key"})  # the user id only as the hashed unit_key
        outputs = {"items": [[i.artist_id, i.track_id, round(i.score, 5), i.reason] for i in items], "cold_start": cold}
        self._log("recommend", b, "recommender", request_id, ukey, [inputs], [outputs], started)
        return resp

    def similar(self, req: S.SimilarRequest, request_id: str) -> S.SimilarResponse:
        started = time.perf_counter()
        b = self.bundle
        r = b.get("recommender")
        neighbours = []
        if req.artist_id is not None:
            found = self._timed("recommender", r.predictor.similar_artists, req.artist_id, req.k)
            if found is None:
                raise bad_input(("artist_id",), "unknown artist id (not in the recommender's catalogue)", req.artist_id)
            for a, name, s in found:
                neighbours.append(S.Neighbour.model_construct(rank=len(neighbours) + 1, score=s, artist_id=a,
                                                              artist_name=_str(name)))
            query = f"artist:{req.artist_id}"
        else:
            if req.track_id is not None and req.track_id not in r.python_model.track_pos:
                raise bad_input(("track_id",), "unknown track id: send `track` with its audio features instead",
                                req.track_id)
            track = req.track.model_dump(exclude_none=True) if req.track is not None else None
            df = self._timed("recommender", r.predictor.similar_tracks, req.track_id, track, req.k)
            for row in df.itertuples(index=False):
                neighbours.append(S.Neighbour.model_construct(
                    rank=len(neighbours) + 1, score=float(row.score), track_id=_str(row.track_id),
                    track_name=_str(row.track_name), artist_id=_int(row.artist_id), artist_name=_str(row.artist_name)))
            query = f"track:{req.track_id or (req.track.track_id if req.track else None) or 'features'}"
        resp = S.SimilarResponse.model_construct(request_id=request_id, models=[b.ref("recommender")], query=query,
                                                 neighbours=neighbours)
        ukey = unit_key(self.cfg.unit_key_salt, request_key=req.request_key, request_id=request_id)
        outputs = {"neighbours": [[n.track_id or n.artist_id, round(n.score, 5)] for n in neighbours]}
        self._log("similar", b, "recommender", request_id, ukey, [req.model_dump(exclude_none=True)], [outputs],
                  started)
        return resp

    def streams(self, req: S.StreamsRequest, request_id: str) -> S.StreamsResponse:
        started = time.perf_counter()
        b = self.bundle
        s = b.get("streams")
        if req.region not in s.predictor.regions:
            known = ", ".join(sorted(s.predictor.regions)[:20])
            raise bad_input(("region",), f"unknown region (the model knows: {known})", req.region)
        history = [h.model_dump() for h in req.history]
        out = self._timed("streams", s.predictor.predict, req.track_id, req.region, history)
        if out is None:
            raise bad_input(("history",), "no top200 chart day in the history: nothing to forecast from", None)
        resp = S.StreamsResponse.model_construct(
            request_id=request_id, models=[b.ref("streams")], track_id=req.track_id, region=req.region,
            week_anchor=out["anchor"], streams_next_week=out["streams"], log_streams_next_week=out["log"],
            charts_next_week_probability=out["charts_p"])
        ukey = unit_key(self.cfg.unit_key_salt, request_key=req.request_key, request_id=request_id)
        self._log("streams", b, "streams", request_id, ukey,
                  [{"track_id": req.track_id, "region": req.region, "history_days": len(history)}], [out], started)
        return resp

    def feedback_event(self, req: S.FeedbackRequest) -> S.FeedbackResponse:
        ts, ms = now_ts()
        fid = new_request_id()
        row = {"feedback_id": fid, "request_id": req.request_id, "ts": ts, "ts_ms": ms, "event": req.event,
               "item": req.item, "label": req.label, "value": req.value,
               "unit_key": unit_key(self.cfg.unit_key_salt, request_key=req.request_key, request_id=req.request_id),
               "variant": self.variant}
        dropped = self.feedback.append([row])
        if dropped:
            self.metrics.log_dropped.labels("feedback").inc(dropped)
        return S.FeedbackResponse(accepted=True, request_id=req.request_id, feedback_id=fid)

    def version(self) -> dict:
        b = self.bundle
        models = {name: {"registered_name": m.entry["registered_name"], "version": m.entry["version"],
                         "alias": m.entry["alias"], "run_id": m.entry["run_id"],
                         "lake_fingerprint": m.entry["fingerprint"], "bento_model": m.entry["tag"],
                         "variant": b.variant} for name, m in b.models.items()}
        return {"variant": b.variant, "alias": b.alias, "models": models, "not_served": b.skipped,
                "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(b.loaded_at)),
                "load_seconds": round(b.load_seconds, 2)}


def _str(v) -> str | None:
    if v is None or (isinstance(v, float) and v != v) or v is getattr(np, "nan", None):
        return None
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _int(v) -> int | None:
    s = _str(v)
    return None if s is None else int(float(s))
