"""Per-phone expansion of token rows."""

from __future__ import annotations

import numpy as np
import pytest

from hayakoe_core.bert import expand_to_phones


def test_rows_repeat_in_order_and_padding_rows_are_ignored() -> None:
    hidden = np.arange(12, dtype=np.float64).reshape(4, 3)  # 4 token rows, hidden 3
    out = expand_to_phones(hidden, [3, 0, 2])
    assert out.dtype == np.float32
    assert out.shape == (3, 5)
    np.testing.assert_array_equal(out.T, [hidden[0]] * 3 + [hidden[2]] * 2)


def test_more_counts_than_rows() -> None:
    with pytest.raises(ValueError, match="only 2 token rows"):
        expand_to_phones(np.zeros((2, 3)), [1, 1, 1])


def test_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        expand_to_phones(np.zeros((2, 3)), [1, -1])
