"""Discrete and Box: seeded sampling, membership, and the attributes agents read."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidqn.spaces import Box, Discrete


def test_discrete_attributes_and_uniform_seeded_samples():
    space = Discrete(4, seed=0)
    assert space.n == 4 and space.shape == () and space.dtype == np.int64
    samples = [space.sample() for _ in range(4000)]
    assert all(type(x) is int for x in samples)
    assert np.all(np.abs(np.bincount(samples, minlength=4) - 1000) < 110)  # ~3.7 sd
    again = Discrete(4, seed=0)
    assert samples == [again.sample() for _ in range(4000)]
    space.seed(0)
    assert [space.sample() for _ in range(100)] == samples[:100]


@pytest.mark.parametrize("x, inside", [
    (0, True), (3, True), (4, False), (-1, False), (np.int64(2), True), (np.array(2), True),
    (np.array([2]), False), (2.0, False), (np.array(2.0), False), (True, False), (np.bool_(True), False),
    ("1", False),
])
def test_discrete_contains(x, inside):
    assert Discrete(4).contains(x) is inside and (x in Discrete(4)) is inside


def test_discrete_equality_repr_and_bad_sizes():
    assert Discrete(3) == Discrete(3, seed=5) and Discrete(3) != Discrete(4) and Discrete(3) != 3
    assert repr(Discrete(3)) == "Discrete(3)"
    with pytest.raises(ValueError, match="n must be >= 1"):
        Discrete(0)
    with pytest.raises(TypeError, match="n must be an integer"):
        Discrete(2.0)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.sampled_from(["both", "low", "high", "none"]), min_size=1,
                                           max_size=6),
       st.sampled_from([np.float32, np.float64]))
def test_box_samples_lie_in_the_box_whatever_the_bounds(seed, kinds, dtype):
    rng = np.random.default_rng(seed)
    low = np.where([k in ("both", "low") for k in kinds], rng.uniform(-5, 0, len(kinds)), -np.inf)
    high = np.where([k in ("both", "high") for k in kinds], rng.uniform(0, 5, len(kinds)), np.inf)
    space = Box(low, high, dtype=dtype, seed=seed)
    for _ in range(20):
        x = space.sample()
        assert x.shape == (len(kinds),) and x.dtype == dtype and space.contains(x)


def test_box_integer_samples_cover_both_bounds():
    space = Box(0, 2, shape=(3000,), dtype=np.int64, seed=0)
    x = space.sample()
    assert x.dtype == np.int64 and space.contains(x)
    assert np.all(np.abs(np.bincount(x, minlength=3) - 1000) < 110)


def test_box_scalar_shape_broadcast_bounds_and_seeding():
    space = Box(0.0, 1.0, seed=0)
    assert space.shape == () and space.contains(space.sample())
    space = Box(np.zeros(3), 1.0, seed=1)
    assert space.shape == (3,) and space.high.tolist() == [1.0, 1.0, 1.0]
    a, b = Box(-1, 1, shape=(4,), seed=3), Box(-1, 1, shape=(4,), seed=3)
    assert all(np.array_equal(a.sample(), b.sample()) for _ in range(5))
    a.seed(3)
    assert np.array_equal(a.sample(), Box(-1, 1, shape=(4,), seed=3).sample())


@pytest.mark.parametrize("x, inside", [
    ([0.5, 0.5], True), (np.array([1.0, 0.0]), True), (np.array([1, 0]), True),
    (np.array([1.5, 0.0]), False), (np.array([0.5, np.nan]), False), (np.zeros(3), False),
    (np.zeros((2, 1)), False), (np.array([0.5, 0.5], dtype=np.complex128), False),
])
def test_box_contains(x, inside):
    assert Box(0.0, 1.0, shape=(2,)).contains(x) is inside


def test_box_equality_repr_and_bad_bounds():
    assert Box(0, 1, shape=(2,)) == Box(np.zeros(2), np.ones(2))
    assert Box(0, 1, shape=(2,)) != Box(0, 2, shape=(2,))
    assert repr(Box(0, 1, shape=(2,))) == "Box(shape=(2,), dtype=float32)"
    with pytest.raises(ValueError, match="low must be <= high"):
        Box(1.0, 0.0, shape=(2,))
    with pytest.raises(ValueError, match="NaN"):
        Box(np.nan, 1.0, shape=(2,))
    with pytest.raises(ValueError, match="shape entry"):
        Box(0, 1, shape=(0,))
