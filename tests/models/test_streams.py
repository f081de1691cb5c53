"""Streams model: leakage-safe weekly chart features, temporal split, persistence baseline, roundtrip."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ml.evaluation.metrics import regression_report
from ml.evaluation.splits import assert_temporal, chart_split
from ml.features.charts import (
    FEATURE_NAMES,
    assert_no_leakage,
    build_features,
    features_from_history,
    leakage_audit,
    truncation_check,
)
from ml.models import streams
from ml.models.streams import SPEC, add_split_columns, persistence

URL = "https://open.spotify.com/track/"


def _rows(track, region, days, streams_per_day, rank=10, chart="top200"):
    return [
        {"title": f"song {track}", "rank": rank, "date": str(d.date()), "artist": "someone", "url": URL + track,
         "region": region, "chart": chart, "trend": "SAME_POSITION",
         "streams": streams_per_day if chart == "top200" else None}
        for d in pd.date_range(*days)
    ]


def tiny_history() -> pd.DataFrame:
    """Weeks: 1 = Mon 2021-01-04..Sun 01-10, 2 = ..01-17, 3 = ..01-24 (data ends Sun 01-24).

    trackA / Global: 100 streams a day in week 1, 200 in week 2, 400 on Fri-Sun of week 3.
    trackB / Sweden: week 1 only (drops out), then enters Global on Fri-Sun of week 3.
    """
    rows = (_rows("trackA", "Global", ("2021-01-04", "2021-01-10"), 100, rank=5)
            + _rows("trackA", "Global", ("2021-01-11", "2021-01-17"), 200, rank=3)
            + _rows("trackA", "Global", ("2021-01-22", "2021-01-24"), 400, rank=1)
            + _rows("trackB", "Sweden", ("2021-01-04", "2021-01-10"), 50, rank=150)
            + _rows("trackB", "Sweden", ("2021-01-06", "2021-01-07"), 0, rank=7, chart="viral50")
            + _rows("trackB", "Global", ("2021-01-22", "2021-01-24"), 90, rank=180))
    return pd.DataFrame(rows)


def _ingest_frame(df: pd.DataFrame, lake_dir: Path):
    """A hand-made frame in the raw charts schema -> a lake dataset through the real ingest."""
    from ml.lake.catalog import connect
    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake
    from ml.sources.base import SourceDataset

    lake = Lake.from_uri(str(lake_dir))
    table = pa.Table.from_pandas(df, preserve_index=False)
    ds = SourceDataset(name="spotify_charts", contract="spotify_charts", source_uri="test://tiny",
                       batches=lambda: iter(table.to_batches(max_chunksize=7)))
    manifest = ingest(ds, lake, "2024-01")
    assert manifest.rows_accepted == len(df)
    return connect(lake)


@pytest.fixture
def tiny_con(tmp_path):
    con = _ingest_frame(tiny_history(), tmp_path / "lake")
    yield con
    con.close()


def _row(feats: pd.DataFrame, track: str, region: str, anchor: str) -> pd.Series:
    hit = feats[(feats.track_id == track) & (feats.region == region) & (feats.anchor == pd.Timestamp(anchor))]
    assert len(hit) == 1, f"{track}/{region}/{anchor}: {len(hit)} rows"
    return hit.iloc[0]


def test_features_on_a_tiny_history_have_the_known_values(tiny_con):
    f = build_features(tiny_con)
    # week 3 (anchor 01-24) has no complete next week in the data: not labelled
    assert set(f.anchor.dt.strftime("%Y-%m-%d")) == {"2021-01-10", "2021-01-17"}
    a1, a2 = _row(f, "trackA", "Global", "2021-01-10"), _row(f, "trackA", "Global", "2021-01-17")
    assert a1.log_streams == pytest.approx(math.log1p(700))
    assert a1.days_charted == 7 and a1.best_rank == 5 and a1.last_day_gap == 0
    assert np.isnan(a1.lag1_log_streams) and a1.weeks_charted_to_date == 1
    assert a1.target_log_streams == pytest.approx(math.log1p(1400)) and a1.charts_next == 1
    assert a2.lag1_log_streams == pytest.approx(math.log1p(700))
    assert a2.diff1_log_streams == pytest.approx(math.log1p(1400) - math.log1p(700))
    assert a2.peak_log_streams_to_date == pytest.approx(math.log1p(1400))
    assert a2.days_since_first_chart == 13 and a2.in_global == 1
    # the target reads week 3 only: run-rate 7 x 400 over its 3 charting days
    assert a2.target_log_streams == pytest.approx(math.log1p(2800))
    assert a2.target_days_charted == 3 and a2.target_best_rank == 1

    b1 = _row(f, "trackB", "Sweden", "2021-01-10")
    assert b1.charts_next == 0 and np.isnan(b1.target_log_streams)
    assert b1.viral_days == 2 and b1.viral_best_rank == 7
    assert b1.n_markets == 1 and b1.in_global == 0
    # trackB reaches a leader market (Global) only in week 3: unknown at the week-1 anchor
    assert np.isnan(b1.days_since_first_leader_chart)


def test_features_never_read_the_target_week(tmp_path):
    """Change everything after an anchor: that week's features stay, only its target moves."""
    hist = tiny_history()
    later = pd.to_datetime(hist["date"]) > pd.Timestamp("2021-01-17")
    changed = hist.copy()
    changed.loc[later, "streams"] = changed.loc[later, "streams"] * 10
    changed.loc[later, "rank"] = 200  # same-day ranks of the target week change too
    base = features_from_history(hist, with_target=True)
    moved = features_from_history(changed, with_target=True)
    a, b = _row(base, "trackA", "Global", "2021-01-17"), _row(moved, "trackA", "Global", "2021-01-17")
    for name in FEATURE_NAMES:
        assert a[name] == pytest.approx(b[name], nan_ok=True), name
    assert b.target_log_streams == pytest.approx(math.log1p(28_000))
    assert a.target_log_streams != pytest.approx(b.target_log_streams)
    assert b.target_best_rank == 200

    # the same on the lake: features recomputed with the future deleted are identical
    con = _ingest_frame(hist, tmp_path / "lake")
    check = truncation_check(con, anchor="2021-01-10")
    assert (check["rows_compared"] == 2).all()
    assert (check["max_abs_diff_when_future_deleted"] < 1e-9).all()  # float summation order may differ

    # the declared read windows stop at the anchor; a target or undeclared feature is refused
    audit = leakage_audit()
    assert (audit.loc[audit.kind == "feature", "last_day_read"] <= 0).all()
    assert_no_leakage(FEATURE_NAMES)
    with pytest.raises(AssertionError):
        assert_no_leakage([*FEATURE_NAMES, "target_log_streams"])
    with pytest.raises(AssertionError):
        assert_no_leakage(["next_week_rank"])


def test_persistence_baseline_on_a_tiny_example():
    f = features_from_history(tiny_history(), with_target=True)
    lab = f[f.target_log_streams.notna()].sort_values("anchor")
    pred = persistence(lab)
    # week 1 -> 2: log1p(700) forecasts log1p(1400); week 2 -> 3: log1p(1400) forecasts log1p(2800)
    np.testing.assert_allclose(pred, [math.log1p(700), math.log1p(1400)])
    errors = np.array([math.log1p(1400) - math.log1p(700), math.log1p(2800) - math.log1p(1400)])
    report = regression_report(lab.target_log_streams, pred)
    assert report["rmse"] == pytest.approx(float(np.sqrt(np.mean(errors**2))))
    assert report["mae"] == pytest.approx(float(np.mean(np.abs(errors))))


def _weekly_frame(n_weeks=20, per_week=30) -> pd.DataFrame:
    anchors = pd.date_range("2021-01-10", periods=n_weeks, freq="7D")
    rows = [{"track_id": f"t{i}", "region": "Global", "anchor": a, "week_idx": k}
            for k, a in enumerate(anchors) for i in range(per_week)]
    return add_split_columns(pd.DataFrame(rows))


def test_temporal_split_never_lets_a_later_date_into_training():
    df = _weekly_frame()
    tr, va, te, (valid_start, test_start) = chart_split(df, test_frac=0.2, valid_frac=0.15)
    assert len(tr) and len(va) and len(te) and len(tr) + len(va) + len(te) == len(df)
    last_read_train = (df.loc[tr, "anchor"] + pd.Timedelta(days=7)).max()  # target week end
    first_target_valid = (df.loc[va, "anchor"] + pd.Timedelta(days=1)).min()
    first_target_test = (df.loc[te, "anchor"] + pd.Timedelta(days=1)).min()
    assert last_read_train < first_target_valid < first_target_test
    assert (df.loc[va, "anchor"] + pd.Timedelta(days=7)).max() < first_target_test
    assert df.loc[te, "anchor"].min() > df.loc[tr, "anchor"].max()
    assert_temporal(df, tr, te)
    assert_temporal(df, tr, va)
    # the guard fires when a single later row sneaks into training
    with pytest.raises(AssertionError):
        assert_temporal(df, tr.append(te[-1:]), te)
    with pytest.raises(ValueError):
        chart_split(_weekly_frame(n_weeks=2))


# ---------------------------------------------------------------- train + predict roundtrip


@pytest.fixture(scope="module")
def synthetic_result(tmp_path_factory):
    """A small generated chart lake (8 regions, ~16 weeks), loaded and trained with the fast config."""
    from ml.lake.catalog import connect
    from ml.lake.ingest import ingest
    from ml.lake.storage import Lake
    from ml.settings import Settings
    from ml.sources import load_source
    from ml.sources.synthetic import generate

    work = tmp_path_factory.mktemp("streams")
    generate(work / "syn", seed=7, tracks=2_000, users=20, chart_rows=8 * 250 * 112, regions=8)
    lake = Lake.from_uri(str(work / "lake"))
    for ds in load_source("synthetic", work / "syn", Settings()):
        if ds.name == "synthetic_spotify_charts":
            ingest(ds, lake, "2024-01")
    con = connect(lake)
    data = SPEC.load(con)
    hist = con.execute(
        "SELECT * FROM synthetic_spotify_charts WHERE region = 'Global' AND date >= DATE '2017-03-13' "
        "AND date <= DATE '2017-04-09'"
    ).df()
    con.close()
    t0 = time.perf_counter()
    result = SPEC.train(data, SPEC.config.fast())
    return data, result, hist, time.perf_counter() - t0


def test_fast_train_and_predict_roundtrip(synthetic_result, tmp_path):
    data, result, hist, seconds = synthetic_result
    assert seconds < 60
    assert data.dataset == "synthetic_spotify_charts"
    assert "truncation_check" in data.tables and result.config == SPEC.config.fast()
    for key in ("rmse", "mae", "r2", "charts_next_auc"):
        assert key in result.metrics and key in result.baseline
    assert "spotify2023_r2" not in result.metrics  # no spotify_2023 in this lake: skipped, not failed
    assert result.metrics["rmse"] < result.baseline["rmse"]  # beats persistence even in the fast config
    assert result.n_train > result.n_test > 0
    assert {"leakage_audit.csv", "per_region_error.csv", "feature_importance.csv"} <= set(result.tables)
    assert {"pred_vs_actual.png", "residuals_by_region_horizon.png", "feature_importance.png"} <= set(result.figures)
    audit = result.tables["leakage_audit.csv"]
    feats = audit[audit.kind == "feature"]
    assert (feats["max_abs_diff_when_future_deleted"] < 1e-9).all() and (feats["rows_compared"] > 0).all()

    example = result.input_example
    pred = result.model.predict(None, example)
    assert list(pred.columns[-3:]) == streams.OUTPUTS and len(pred) == len(example)
    np.testing.assert_allclose(pred["streams_next_week_pred"], np.expm1(pred["log_streams_next_week_pred"]))
    assert pred["charts_next_week_proba"].between(0, 1).all()
    with pytest.raises(ValueError, match="missing column"):
        result.model.predict(None, example.drop(columns=["lag1_log_streams"]))

    # single row, fast
    one = example.iloc[[0]]
    result.model.predict(None, one)
    t0 = time.perf_counter()
    for _ in range(20):
        result.model.predict(None, one)
    assert (time.perf_counter() - t0) / 20 < 0.05

    # raw chart history in the lake schema is accepted too: one prediction per charting week
    from_hist = result.model.predict(None, hist)
    assert len(from_hist) == len(features_from_history(hist)) and from_hist["log_streams_next_week_pred"].notna().all()

    # pickled, loaded back in a fresh process, same predictions
    (tmp_path / "model.pkl").write_bytes(cloudpickle.dumps(result.model))
    example.to_parquet(tmp_path / "example.parquet")
    code = (
        "import cloudpickle, pandas as pd, sys;"
        f"m = cloudpickle.loads(open(r'{tmp_path / 'model.pkl'}', 'rb').read());"
        f"p = m.predict(None, pd.read_parquet(r'{tmp_path / 'example.parquet'}'));"
        f"p.to_parquet(r'{tmp_path / 'pred.parquet'}')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
    again = pd.read_parquet(tmp_path / "pred.parquet")
    np.testing.assert_allclose(again["log_streams_next_week_pred"], pred["log_streams_next_week_pred"], rtol=1e-6)


def test_spotify_2023_part_on_real_data(real_con):
    """The real spotify_2023 view, no charts: the cross-sectional part alone, grouped by artist."""
    data = SPEC.load(real_con)
    assert len(data.frame) == 0 and data.dataset is None and "spotify_2023" in data.tables
    result = SPEC.train(data, SPEC.config.fast())
    assert set(result.metrics) == {"spotify2023_r2"} and set(result.baseline) == {"spotify2023_r2"}
    assert result.metrics["spotify2023_r2"] > 0.3
    assert result.metrics["spotify2023_r2"] > result.extra["spotify2023_mean_baseline"]["spotify2023_r2"]
    folds = result.tables["spotify2023_folds.csv"]
    assert folds["n_test"].sum() == result.params["spotify2023_rows"]
    with pytest.raises(RuntimeError, match="without chart data"):
        result.model.predict_df(pd.DataFrame({c: [1.0] for c in FEATURE_NAMES}).assign(region="Global"))
