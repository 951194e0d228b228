import numpy as np
import pytest
from hypothesis import given, strategies as st

from minidqn.replay import Batch, ReplayBuffer


def transitions(n, obs_dim=3, start=0):
    """Transition k has obs filled with k, action k % 5, reward k / 2, terminated every 4th."""
    k = np.arange(start, start + n)
    obs = np.repeat(k[:, None], obs_dim, axis=1).astype(np.float32)
    return obs, k % 5, k / 2.0, obs + 0.5, k % 4 == 0


@given(capacity=st.integers(1, 20), chunks=st.lists(st.integers(1, 9), min_size=1, max_size=8))
def test_holds_exactly_the_last_min_n_capacity_transitions(capacity, chunks):
    buf = ReplayBuffer(capacity, 3)
    total = 0
    for n in chunks:
        buf.add(*transitions(n, start=total))
        total += n
    assert len(buf) == min(total, capacity)
    held = np.sort(buf.obs[: len(buf), 0])
    np.testing.assert_array_equal(held, np.arange(total - len(buf), total))
    i = np.argsort(buf.obs[: len(buf), 0])
    k = np.arange(total - len(buf), total)
    np.testing.assert_array_equal(buf.actions[: len(buf)][i], k % 5)
    np.testing.assert_array_equal(buf.rewards[: len(buf)][i], k / 2.0)
    np.testing.assert_array_equal(buf.terminated[: len(buf)][i], k % 4 == 0)
    np.testing.assert_array_equal(buf.next_obs[: len(buf)][i], buf.obs[: len(buf)][i] + 0.5)


@given(capacity=st.integers(1, 15), n=st.integers(1, 30))
def test_batch_add_equals_adds_one_by_one(capacity, n):
    one, many = ReplayBuffer(capacity, 3), ReplayBuffer(capacity, 3)
    obs, act, rew, nxt, term = transitions(n)
    many.add(obs, act, rew, nxt, term)
    for i in range(n):
        one.add(obs[i], int(act[i]), float(rew[i]), nxt[i], bool(term[i]))
    assert (one.pos, one.size) == (many.pos, many.size)
    for name in ("obs", "actions", "rewards", "next_obs", "terminated"):
        np.testing.assert_array_equal(getattr(one, name), getattr(many, name))


@given(capacity=st.integers(2, 30), n=st.integers(1, 29), seed=st.integers(0, 100))
def test_samples_come_only_from_the_filled_part(capacity, n, seed):
    buf = ReplayBuffer(capacity, 3, seed=seed)
    buf.add(*transitions(min(n, capacity), start=1))  # obs values 1..n, never the zeros of empty slots
    batch = buf.sample(len(buf))
    assert np.all(batch.obs >= 1)
    assert set(np.unique(buf.sample_indices(len(buf)))) <= set(range(len(buf)))


def test_same_seed_same_samples_and_types_preserved():
    a, b = ReplayBuffer(50, (2, 2), obs_dtype=np.float64, seed=7), ReplayBuffer(50, (2, 2), obs_dtype=np.float64, seed=7)
    obs = np.arange(40, dtype=np.float64).reshape(10, 2, 2)
    for buf in (a, b):
        buf.add(obs, np.arange(10), np.ones(10), obs, np.zeros(10, bool))
    s1, s2 = a.sample(6), b.sample(6)
    assert isinstance(s1, Batch)
    for x, y in zip(s1, s2):
        np.testing.assert_array_equal(x, y)
    assert s1.obs.shape == (6, 2, 2) and s1.obs.dtype == np.float64
    assert s1.actions.dtype == np.int64 and s1.rewards.dtype == np.float64 and s1.terminated.dtype == bool
    assert ReplayBuffer(5, 1).rewards.dtype == np.float64  # rewards are kept exact in a float32 buffer too
    assert not np.array_equal(ReplayBuffer(50, 1, seed=8).rng.integers(10, size=20),
                              ReplayBuffer(50, 1, seed=7).rng.integers(10, size=20))


def test_batch_gathers_the_transitions_at_the_given_indices():
    buf = ReplayBuffer(10, 3)
    buf.add(*transitions(10))
    idx = np.array([3, 3, 9])
    got = buf.batch(idx)
    for name, x in zip(got._fields, got):
        np.testing.assert_array_equal(x, getattr(buf, name)[idx])


def test_next_action_masks_default_to_all_allowed():
    buf = ReplayBuffer(4, 1, n_actions=3)
    buf.add(np.zeros(1), 0, 0.0, np.zeros(1), False)
    buf.add(np.zeros(1), 1, 0.0, np.zeros(1), False, next_action_mask=np.array([True, False, True]))
    np.testing.assert_array_equal(buf.next_action_mask[:2], [[True, True, True], [True, False, True]])


def test_state_dict_round_trip_continues_identically():
    a = ReplayBuffer(8, 3, seed=3, n_actions=5)
    a.add(*transitions(11))
    b = ReplayBuffer(8, 3, seed=99, n_actions=5)
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.sample(5), b.sample(5)):
        np.testing.assert_array_equal(x, y)
    a.add(*transitions(3, start=20)), b.add(*transitions(3, start=20))
    np.testing.assert_array_equal(a.obs, b.obs)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(9, 3, n_actions=5).load_state_dict(a.state_dict())


@pytest.mark.parametrize("call, error, match", [
    (lambda b: b.add(np.zeros(2), 0, 0.0, np.zeros(3), False), ValueError, r"obs must have shape \(3,\)"),
    (lambda b: b.add(np.zeros(3), 0, 0.0, np.zeros(2), False), ValueError, "next_obs must have shape"),
    (lambda b: b.add(np.zeros(3), 1.5, 0.0, np.zeros(3), False), TypeError, "action must be an integer"),
    (lambda b: b.add(np.zeros(3), 4, 0.0, np.zeros(3), False), ValueError, r"action must be in \[0, 4\)"),
    (lambda b: b.add(np.zeros(3), -1, 0.0, np.zeros(3), False), ValueError, "action must be in"),
    (lambda b: b.add(np.zeros(3), 0, np.nan, np.zeros(3), False), ValueError, "reward must be finite"),
    (lambda b: b.add(np.full(3, np.inf), 0, 0.0, np.zeros(3), False), ValueError, "obs must be finite"),
    (lambda b: b.add(np.zeros(3), 0, 0.0, np.zeros(3), "yes"), TypeError, "terminated"),
    (lambda b: b.add(np.zeros((2, 3)), [0, 1], [0.0], np.zeros((2, 3)), [False, True]), ValueError, "reward must have shape"),
    (lambda b: b.add(np.zeros(3), 0, 0.0, np.zeros(3), False, np.ones(3, bool)), ValueError, "next_action_mask must have shape"),
    (lambda b: b.add(np.zeros(3), 0, 0.0, np.zeros(3), False, np.ones(4)), TypeError, "next_action_mask must be a bool or integer"),
    (lambda b: b.add(np.zeros(3), 0, 0.0, np.zeros(3), False, np.full(4, 2)), ValueError, "only 0 and 1"),
    (lambda b: b.sample(1), RuntimeError, "holding 0 transitions"),
    (lambda b: b.sample(0), ValueError, "batch_size must be >= 1"),
])
def test_bad_input_is_refused_and_nothing_is_written(call, error, match):
    buf = ReplayBuffer(5, 3, n_actions=4)
    with pytest.raises(error, match=match):
        call(buf)
    assert len(buf) == 0 and buf.pos == 0 and not buf.obs.any()


def test_a_failed_add_leaves_a_filled_buffer_exactly_as_it_was():
    buf = ReplayBuffer(5, 3, n_actions=4)
    buf.add(*transitions(3, start=1))
    before = buf.state_dict()
    for bad in [dict(reward=-np.inf), dict(reward=np.nan), dict(action=7), dict(terminated=1)]:
        args = dict(obs=np.full(3, 9.0), action=1, reward=1.0, next_obs=np.full(3, 9.0), terminated=False) | bad
        with pytest.raises((ValueError, TypeError)):
            buf.add(**args)
        after = buf.state_dict()
        for key in before:
            np.testing.assert_array_equal(after[key], before[key])


def test_state_dict_is_a_snapshot_and_corrupt_states_are_refused():
    buf = ReplayBuffer(6, 3, n_actions=5)
    buf.add(*transitions(4))
    snap = buf.state_dict()
    buf.add(*transitions(2, start=50))
    assert snap["obs"].max() < 50
    for key, value in [("actions", np.array([0, 1, 9, 2])), ("rewards", np.array([0.0, np.nan, 1.0, 2.0])),
                       ("actions", np.zeros(3, np.int64)), ("pos", np.array(2)), ("rng_state", np.array("{}"))]:
        fresh = ReplayBuffer(6, 3, n_actions=5)
        with pytest.raises(ValueError, match="replay state"):
            fresh.load_state_dict(snap | {key: value})
        assert len(fresh) == 0 and not fresh.obs.any()


def test_integer_0_1_masks_are_stored_as_bools():
    buf = ReplayBuffer(4, 1, n_actions=3)
    buf.add(np.zeros((2, 1)), [0, 1], [0.0, 1.0], np.zeros((2, 1)), [False, True],
            next_action_mask=np.array([[1, 0, 1], [0, 0, 0]], np.int8))
    np.testing.assert_array_equal(buf.next_action_mask[:2], [[True, False, True], [False, False, False]])


def test_terminal_next_states_may_allow_nothing_others_must_allow_something():
    buf = ReplayBuffer(4, 1, n_actions=2)
    buf.add(np.zeros(1), 0, 1.0, np.zeros(1), True, next_action_mask=np.zeros(2, bool))
    with pytest.raises(ValueError, match="non-terminal"):
        buf.add(np.zeros(1), 0, 1.0, np.zeros(1), False, next_action_mask=np.zeros(2, bool))


@pytest.mark.parametrize("kw, match", [({"capacity": 0}, "capacity"), ({"obs_shape": (0,)}, "obs_shape"),
                                       ({"n_actions": 0}, "n_actions"), ({"seed": "a"}, "seed"),
                                       ({"gamma": 1.5}, "gamma must be <= 1")])
def test_bad_construction(kw, match):
    args = {"capacity": 5, "obs_shape": 3, **kw}
    with pytest.raises((ValueError, TypeError), match=match):
        ReplayBuffer(**args)


def test_discounts_are_kept_with_gamma_default_to_it_and_survive_a_round_trip():
    buf = ReplayBuffer(4, 1, n_actions=2, gamma=0.9)
    buf.add(np.zeros((3, 1)), [0, 1, 0], [1.0, 2.0, 3.0], np.ones((3, 1)), [False] * 3, discount=[0.729, 0.81, 0.9])
    buf.add(np.zeros(1), 1, 4.0, np.ones(1), True)  # none given: gamma
    np.testing.assert_array_equal(buf.discounts, np.float32([0.729, 0.81, 0.9, 0.9]))
    copy = ReplayBuffer(4, 1, n_actions=2, gamma=0.5)
    copy.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(copy.discounts, buf.discounts)  # the stored ones, not this buffer's gamma
    assert ReplayBuffer(4, 1).discounts is None


@pytest.mark.parametrize("make, call, error, match", [
    (dict(gamma=0.9), lambda b: b.add(np.zeros(1), 0, 0.0, np.zeros(1), False, discount=1.5), ValueError,
     r"discount must be in \[0, 1\]"),
    (dict(gamma=0.9), lambda b: b.add(np.zeros(1), 0, 0.0, np.zeros(1), False, discount=np.nan), ValueError,
     "discount must be finite"),
    (dict(gamma=0.9), lambda b: b.add(np.zeros((2, 1)), [0, 0], [0.0, 0.0], np.zeros((2, 1)), [False, False],
                                      discount=[0.5]), ValueError, r"discount must have shape \(2,\)"),
    (dict(), lambda b: b.add(np.zeros(1), 0, 0.0, np.zeros(1), False, discount=0.5), ValueError, "without gamma"),
    (dict(), lambda b: b.load_state_dict(ReplayBuffer(5, 1, gamma=0.9).state_dict()), ValueError, "without gamma"),
])
def test_bad_discounts_are_refused_and_nothing_is_written(make, call, error, match):
    buf = ReplayBuffer(5, 1, **make)
    with pytest.raises(error, match=match):
        call(buf)
    assert len(buf) == 0 and not buf.obs.any()


def test_masks_of_obs_are_kept_only_when_asked_default_to_all_allowed_and_survive_a_round_trip():
    buf = ReplayBuffer(4, 1, n_actions=3, keep_action_mask=True)
    buf.add(np.zeros((2, 1)), [0, 2], [1.0, 2.0], np.ones((2, 1)), [False, True],
            action_mask=np.array([[1, 0, 0], [0, 1, 1]], np.int8))
    buf.add(np.zeros(1), 1, 3.0, np.ones(1), False)  # none given: everything allowed
    np.testing.assert_array_equal(buf.action_mask[:3], [[True, False, False], [False, True, True], [True] * 3])
    copy = ReplayBuffer(4, 1, n_actions=3, keep_action_mask=True)
    copy.load_state_dict(buf.state_dict())
    np.testing.assert_array_equal(copy.action_mask, buf.action_mask)
    plain = ReplayBuffer(4, 1, n_actions=3)  # checked, not kept
    plain.add(np.zeros(1), 0, 0.0, np.ones(1), False, action_mask=np.array([True, False, False]))
    assert plain.action_mask is None and "action_mask" not in plain.state_dict()
    for a, b in ((buf, plain), (plain, copy)):
        with pytest.raises(ValueError, match="disagree on whether masks of obs"):
            b.load_state_dict(a.state_dict())


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("call, error, match", [
    (lambda b: b.add(np.zeros(1), 1, 0.0, np.zeros(1), False, action_mask=np.array([True, False, True])),
     ValueError, "action must be allowed by action_mask.*action 1 is not, in row 0"),
    (lambda b: b.add(np.zeros((2, 1)), [0, 2], [0.0, 0.0], np.zeros((2, 1)), [False, False],
                     action_mask=np.array([[1, 0, 0], [1, 1, 0]])), ValueError, "action 2 is not, in row 1"),
    (lambda b: b.add(np.zeros(1), 0, 0.0, np.zeros(1), True, action_mask=np.zeros(3, bool)), ValueError,
     "action_mask allows no action"),
    (lambda b: b.add(np.zeros(1), 0, 0.0, np.zeros(1), False, action_mask=np.ones(2, bool)), ValueError,
     r"action_mask must have shape \(3,\)"),
    (lambda b: b.add(np.zeros(1), 0, 0.0, np.zeros(1), False, action_mask=np.ones(3)), TypeError,
     "action_mask must be a bool or integer"),
])
def test_a_bad_mask_of_obs_is_refused_and_nothing_is_written(keep, call, error, match):
    buf = ReplayBuffer(5, 1, n_actions=3, keep_action_mask=keep)
    with pytest.raises(error, match=match):
        call(buf)
    assert len(buf) == 0 and not buf.obs.any()


def test_keeping_masks_of_obs_needs_n_actions():
    with pytest.raises(ValueError, match="keep_action_mask=True needs n_actions"):
        ReplayBuffer(5, 1, keep_action_mask=True)
    with pytest.raises(TypeError, match="keep_action_mask must be a bool"):
        ReplayBuffer(5, 1, n_actions=2, keep_action_mask="yes")
