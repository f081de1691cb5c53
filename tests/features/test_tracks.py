"""Track facts every model shares: the `explicit` column and title / album keyword flags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features.tracks import AUDIO_KEYWORDS, POPULARITY_KEYWORDS, add_derived_columns, explicit_flag, keyword_flags


def test_explicit_flag_reads_every_spelling_and_keeps_unknown_unknown():
    np.testing.assert_array_equal(explicit_flag(pd.Series([True, False])), [1.0, 0.0])
    np.testing.assert_array_equal(explicit_flag(pd.Series([1, 0])), [1.0, 0.0])
    got = explicit_flag(pd.Series(["True", "false", " 1", "YES", "no", "maybe", "", None, np.nan]))
    np.testing.assert_array_equal(got[:5], [1.0, 0.0, 1.0, 1.0, 0.0])
    assert np.isnan(got[5:]).all()
    np.testing.assert_array_equal(explicit_flag(pd.Series([True, None], dtype="boolean")), [1.0, np.nan])
    assert explicit_flag(pd.Series([], dtype=object)).shape == (0,)


def test_request_rows_get_a_nullable_explicit_not_a_silent_false():
    df = add_derived_columns(pd.DataFrame({"artists": ["A;B", "C"], "track_name": ["x", "y"], "explicit": ["true", None]}))
    assert str(df["explicit"].dtype) == "boolean"
    assert df["explicit"].iloc[0] is True or df["explicit"].iloc[0] == True  # noqa: E712
    assert pd.isna(df["explicit"].iloc[1])
    assert df["artist_key"].notna().all() and df["primary_artist"].tolist() == ["A", "C"]


def test_keyword_flags_match_each_vocabulary():
    texts = ["song (live at wembley) | greatest hits", "sonata no. 3 op. 2 | piano works", "intro | mixtape"]
    pop = keyword_flags(texts, POPULARITY_KEYWORDS)
    audio = keyword_flags(texts, AUDIO_KEYWORDS)
    assert pop.shape == (3, len(POPULARITY_KEYWORDS)) and audio.shape == (3, len(AUDIO_KEYWORDS))
    assert pop.dtype == np.float32 and set(np.unique(pop)) <= {0.0, 1.0}
    col = {k: i for i, k in enumerate(POPULARITY_KEYWORDS)}
    assert pop[0, col["live"]] == 1 and pop[1, col["classical"]] == 1 and pop[2, col["live"]] == 0
    acol = {k: i for i, k in enumerate(AUDIO_KEYWORDS)}
    assert audio[1, acol["piano"]] == 1 and audio[2, acol["speech"]] == 1
    assert keyword_flags([], AUDIO_KEYWORDS).shape == (0, len(AUDIO_KEYWORDS))
