"""LinearSchedule: a ramp from start to end over duration steps, then flat."""
import pytest
from hypothesis import given, strategies as st

from minidqn.schedules import LinearSchedule


def test_ramp_values():
    s = LinearSchedule(1.0, 0.1, 10)
    assert [s(t) for t in (0, 5, 10, 11, 10**9)] == [1.0, pytest.approx(0.55), 0.1, 0.1, 0.1]
    assert LinearSchedule(0.0, 2.0, 4)(1) == 0.5  # can rise too


def test_zero_duration_is_end_from_the_first_step():
    assert LinearSchedule(1.0, 0.05, 0)(0) == 0.05


@given(st.floats(-10, 10), st.floats(-10, 10), st.integers(1, 10**6), st.integers(0, 2 * 10**6))
def test_value_stays_between_start_and_end_and_moves_monotonically(start, end, duration, t):
    s = LinearSchedule(start, end, duration)
    lo, hi = min(start, end), max(start, end)
    assert lo - 1e-9 <= s(t) <= hi + 1e-9
    assert (s(t + 1) - s(t)) * (end - start) >= -1e-12


@pytest.mark.parametrize("args, call, error, text", [
    ((1.0, 0.0, -1), None, ValueError, "duration"), ((1.0, 0.0, 2.5), None, TypeError, "duration"),
    ((float("nan"), 0.0, 1), None, ValueError, "start"), (("1", 0.0, 1), None, TypeError, "start"),
    ((1.0, 0.0, 5), -1, ValueError, "step"), ((1.0, 0.0, 5), 1.5, TypeError, "step"),
])
def test_bad_arguments_are_named(args, call, error, text):
    with pytest.raises(error, match=text):
        LinearSchedule(*args)(call)


def test_repr():
    assert repr(LinearSchedule(1.0, 0.1, 10)) == "LinearSchedule(start=1.0, end=0.1, duration=10)"
