import pytest

from cnnlab.metrics import wilson_interval


def test_wilson_interval_matches_a_worked_example():
    # 4 of 28 (seed 001's wrong photos): Wilson's 95% interval is about 5.7% to 31.5%.
    low, high = wilson_interval(4, 28)
    assert low == pytest.approx(5.70, abs=0.01) and high == pytest.approx(31.49, abs=0.01)
    assert wilson_interval(0, 10)[0] == pytest.approx(0) and wilson_interval(10, 10)[1] == \
        pytest.approx(100)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="cannot exceed"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="trials"):
        wilson_interval(0, 0)
