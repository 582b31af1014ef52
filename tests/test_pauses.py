"""Sentence pauses: boundaries in phone ids, predicted seconds, trailing silence and joining."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hayakoe_core.pauses import (
    MIN_PAUSE_S,
    boundary_marks,
    boundary_positions,
    join_with_pauses,
    mark_near,
    pause_targets,
    predicted_pauses,
    trailing_silence,
)

G2P_GOLDEN = Path(__file__).parent / "fixtures" / "text" / "g2p_golden.json"
CASES = json.loads(G2P_GOLDEN.read_text(encoding="utf-8"))["cases"]
SR = 1000  # 10 samples per 10 ms window keeps the arithmetic readable


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_boundaries_match_goldens(case: dict) -> None:
    assert boundary_positions(case["whole"]["phone_ids"]) == case["boundary_punct_positions"]


def test_run_of_marks_counts_once_at_its_last_mark() -> None:
    # _ e ! ? , . . . (blanks between) -> the `!?` run and the `...` run
    ids = [0, 0, 0, 23, 0, 103, 0, 104, 0, 106, 0, 107, 0, 107, 0, 107, 0, 0, 0]
    assert boundary_positions(ids) == [7, 15]
    assert boundary_positions([107, 107]) == [1]
    assert boundary_positions([]) == []


def test_predicted_pause_adds_neighbouring_blanks() -> None:
    ids = [0, 8, 0, 107, 0, 8, 0, 104, 0]
    durations = [1, 5, 2, 3, 4, 5, 0, 0, 1]
    # boundary 3: 2 + 3 + 4 frames; boundary 7: 0 + 0 + 1 frame -> below the 80 ms floor
    assert predicted_pauses(ids, durations, hop_length=512, sampling_rate=44100) == pytest.approx(
        [9 * 512 / 44100, MIN_PAUSE_S]
    )


def test_predicted_pause_ignores_neighbours_that_are_not_blanks() -> None:
    assert predicted_pauses([8, 107, 8], [10, 20, 30], 100, 1000) == pytest.approx([2.0])


def test_predicted_pause_needs_one_duration_per_id() -> None:
    with pytest.raises(ValueError, match="2 durations for 3"):
        predicted_pauses([0, 107, 0], [1, 2], 512, 44100)


def test_pause_targets() -> None:
    assert pause_targets(3) == [MIN_PAUSE_S, MIN_PAUSE_S]
    assert pause_targets(1, [0.5]) == []
    assert pause_targets(0) == []
    assert pause_targets(4, [0.3, 0.01]) == [0.3, MIN_PAUSE_S, MIN_PAUSE_S]


def test_trailing_silence_counts_whole_quiet_windows() -> None:
    audio = np.concatenate([np.full(30, 0.5), np.full(25, 0.01), np.zeros(2)])
    # 57 samples = 5 windows from the end (+7 leftover at the start); 0.01 <= 2 % of 0.5
    assert trailing_silence(audio, SR) == pytest.approx(0.020)
    assert trailing_silence(np.full(40, 0.5), SR) == 0.0
    assert trailing_silence(np.concatenate([np.full(20, 0.5), np.full(20, 0.011)]), SR) == 0.0
    assert trailing_silence(np.zeros(35), SR) == pytest.approx(0.030)
    assert trailing_silence(np.zeros(5), SR) == 0.0


def test_join_inserts_target_minus_existing_silence() -> None:
    loud, quiet_end = np.full(50, 0.5), np.concatenate([np.full(50, 0.5), np.zeros(30)])
    out = join_with_pauses([loud, quiet_end, loud], [0.1, 0.02], SR)
    assert out.dtype == np.float32
    # gap 1: 100 samples; gap 2: 20 ms target already covered by 30 ms of silence -> nothing
    assert len(out) == 50 + 100 + 80 + 0 + 50
    assert not out[50:150].any()
    np.testing.assert_array_equal(out[150:230], quiet_end)


def test_join_checks_pause_count() -> None:
    with pytest.raises(ValueError, match="1 pauses for 1 pieces"):
        join_with_pauses([np.zeros(3)], [0.1], SR)
    assert join_with_pauses([], [], SR).shape == (0,)


MULTI = [c for c in CASES if len(c["sentences"]) > 1]


@pytest.mark.parametrize("case", MULTI, ids=[c["id"] for c in MULTI])
def test_boundary_marks_from_segment_phone_counts_match_goldens(case: dict) -> None:
    """The marks found from each sentence's own phone count are the golden boundaries."""
    counts = [len(unit["phones"]) - 2 for unit in case["units"]]
    marks = boundary_marks(case["whole"]["phone_ids"], counts[:-1], [True] * (len(counts) - 1))
    assert marks == case["boundary_punct_positions"][: len(counts) - 1]


def test_boundary_marks_skip_what_is_not_looked_for_and_keep_counting() -> None:
    # _ a a , a a a . a _ with blanks: "," at 7, "." at 15
    ids = [0, 0, 0, 8, 0, 8, 0, 106, 0, 8, 0, 8, 0, 8, 0, 107, 0, 8, 0, 0, 0]
    assert boundary_marks(ids, [3, 4], [True, True]) == [7, 15]
    assert boundary_marks(ids, [3, 4], [False, True]) == [None, 15]
    # a cut with no mark: counting goes on from where the segment's phones say it ends
    assert boundary_marks(ids, [2, 5], [True, True]) == [7, 15]
    assert boundary_marks([0, 0, 0, 8, 0, 8, 0, 0, 0], [1], [True]) == [None]


def test_mark_near_picks_the_nearest_run_and_its_last_mark() -> None:
    ids = [0, 8, 0, 103, 0, 104, 0, 8, 0, 8, 0, 106, 0]
    assert mark_near(ids, 3, 2) == 5  # "!?" counts at its "?"
    assert mark_near(ids, 9, 2) == 11
    assert mark_near(ids, 8, 3) == 11  # a tie: the "?" at 5 and the "," at 11 are both 3 away
    assert mark_near(ids, 8, 1) is None
    assert mark_near([], 0, 6) is None
