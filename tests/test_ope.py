"""ope and fqe: hand-computed estimates, exact unbiasedness over every trajectory of tiny random
problems, the textbook identities, standard errors against the spread of many logs, refusals."""
import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidqn.baselines import RandomAgent
from minidqn.logs import Log, collect_log, epsilon_greedy_policy
from minidqn.ope import (Estimate, direct_method, doubly_robust, fqe, ips, per_decision_is,
                         sequential_dr, snips, weighted_per_decision_is)
from minidqn.spaces import Discrete


def se(x):
    return np.std(x, ddof=1) / np.sqrt(len(x))


# ------------------------------------------------------------------------------------ by hand
def test_one_step_estimators_by_hand():
    r, mu, pi = [1.0, 0.0, 2.0], [0.5, 0.25, 1.0], [1.0, 0.5, 0.5]   # rho = 2, 2, 0.5
    assert ips(r, mu, pi) == Estimate(1.0, pytest.approx(se([2.0, 0.0, 1.0])))
    value, err = snips(r, mu, pi)                                   # (2 + 0 + 1) / (2 + 2 + 0.5)
    assert value == pytest.approx(2 / 3)
    resid = np.array([2.0, 2.0, 0.5]) * (np.array(r) - 2 / 3)
    assert err == pytest.approx(np.sqrt(np.sum(resid ** 2) / 6) / 1.5)
    assert direct_method([1.0, 2.0, 6.0]) == Estimate(3.0, pytest.approx(se([1, 2, 6])))
    q, v = [0.5, 1.0, 1.0], [1.0, 1.0, 2.0]                          # v + rho (r - q) = 2, -1, 2.5
    assert doubly_robust(r, mu, pi, q, v) == Estimate(pytest.approx(3.5 / 3), pytest.approx(se([2, -1, 2.5])))


# Two episodes: rho = (2, 0.5) with r = (1, 4), and rho = (0.5,) with r = (2,); gamma = 0.5.
EP, R, MU, PI = [0, 0, 1], [1.0, 4.0, 2.0], [0.5, 0.5, 1.0], [1.0, 0.25, 0.5]


def test_per_decision_is_by_hand():
    # episode 0: 2 * 1 + 0.5 * (2 * 0.5) * 4 = 4; episode 1: 0.5 * 2 = 1
    assert per_decision_is(EP, R, MU, PI, gamma=0.5) == Estimate(2.5, pytest.approx(se([4, 1])))


def test_weighted_per_decision_is_by_hand():
    # t = 0: weights (2, 0.5), rewards (1, 2) -> 3 / 2.5; t = 1: weights (1, 0.5 kept), rewards (4, 0) -> 4 / 1.5
    value, err = weighted_per_decision_is(EP, R, MU, PI, gamma=0.5)
    assert value == pytest.approx(1.2 + 0.5 * 4 / 1.5)
    psi = [2 * (1 - 1.2) / 1.25 + 0.5 * 1 * (4 - 8 / 3) / 0.75,     # psi_i, the delta method's terms
           0.5 * (2 - 1.2) / 1.25 + 0.5 * 0.5 * (0 - 8 / 3) / 0.75]
    assert err == pytest.approx(se(psi))


def recursive_dr(episode, r, mu, pi, q, v, gamma):
    """Jiang & Li's recursion, step by step from each episode's end (independent of ope's unrolled sum)."""
    values = {}
    for i in reversed(range(len(r))):
        after = values.get(episode[i], 0.0) if i + 1 < len(r) and episode[i + 1] == episode[i] else 0.0
        values[episode[i]] = v[i] + pi[i] / mu[i] * (r[i] + gamma * after - q[i])
    return [values[e] for e in dict.fromkeys(episode)]


def test_sequential_dr_by_hand_and_by_recursion():
    q, v = [1.0, 3.0, 1.0], [2.0, 1.0, 0.5]
    # episode 0: V(1) = 1 + 0.5 (4 - 3) = 1.5; V(0) = 2 + 2 (1 + 0.5 * 1.5 - 1) = 3.5; episode 1: 0.5 + 0.5 (2 - 1) = 1
    assert sequential_dr(EP, R, MU, PI, q, v, gamma=0.5) == Estimate(2.25, pytest.approx(se([3.5, 1.0])))
    rng = np.random.default_rng(0)
    episode = np.repeat([3, 0, 7, 1, 2, 5], [1, 4, 2, 3, 1, 5])  # any ids, each episode's rows together
    r, mu, pi, q, v = rng.uniform(0.1, 1, size=(5, episode.size))
    want = recursive_dr(episode.tolist(), r, mu, pi, q, v, 0.9)
    got = sequential_dr(episode, r, mu, pi, q, v, gamma=0.9)
    assert got.value == pytest.approx(np.mean(want)) and got.se == pytest.approx(se(want))


# ------------------------------------------------------------------------------------ tiny problems
class Tiny:
    """A random episodic problem with exact answers: ``S`` states, ``A`` actions, ``H`` steps.

    Start distribution ``p0 (S,)``, transitions ``P[t, s, a, s']`` (one-hot with ``deterministic``),
    rewards ``R[t, s, a, s']``; the behavior ``mu[t, s, a] > 0``, the target ``pi[t, s, a]`` (some
    entries 0) and a model ``q_hat[t, s, a]`` that is wrong on purpose (``v_hat`` its value under pi).
    """

    def __init__(self, seed, S=2, A=2, H=2, deterministic=False):
        rng = np.random.default_rng(seed)
        self.S, self.A, self.H = S, A, H
        self.p0 = rng.dirichlet(np.ones(S))
        self.P = rng.dirichlet(np.ones(S), size=(H, S, A))
        if deterministic:
            self.P = np.eye(S)[self.P.argmax(axis=-1)]
        self.R = rng.normal(size=(H, S, A, S))
        self.mu = rng.dirichlet(np.ones(A), size=(H, S)) * 0.9 + 0.1 / A
        self.pi = rng.dirichlet(np.ones(A), size=(H, S)) * (rng.random((H, S, A)) < 0.7) + 1e-12
        self.pi /= self.pi.sum(axis=-1, keepdims=True)
        self.q_hat = rng.normal(size=(H, S, A))
        self.v_hat = (self.pi * self.q_hat).sum(axis=-1)

    def truth(self, gamma):
        """``(Q[t, s, a], V[t, s], E_p0 V[0])`` of pi by backward induction."""
        Q, V = np.zeros((self.H, self.S, self.A)), np.zeros((self.H + 1, self.S))
        for t in reversed(range(self.H)):
            Q[t] = (self.P[t] * (self.R[t] + gamma * V[t + 1])).sum(axis=-1)
            V[t] = (self.pi[t] * Q[t]).sum(axis=-1)
        return Q, V[:-1], float(self.p0 @ V[0])

    def all_trajectories(self):
        """Every trajectory as ``(probability under mu, s (H,), a (H,), r (H,))``."""
        for s0 in range(self.S):
            for steps in itertools.product(itertools.product(range(self.A), range(self.S)), repeat=self.H):
                s, p, states, actions, rewards = s0, self.p0[s0], [], [], []
                for t, (a, s_next) in enumerate(steps):
                    p *= self.mu[t, s, a] * self.P[t, s, a, s_next]
                    states.append(s), actions.append(a), rewards.append(self.R[t, s, a, s_next])
                    s = s_next
                if p > 0:
                    yield p, np.array(states), np.array(actions), np.array(rewards)

    def exact_expectation(self, estimator, gamma, one_step=False):
        """``E_mu[estimator(a one-episode log)]`` over every trajectory, in one call.

        The estimators are linear in ``(r, q_hat, v_hat)`` for fixed weights, so trajectory k,
        scaled by ``N * P(k)``, contributes ``P(k) * estimate(k)`` to the mean over the N episodes."""
        rows = {k: [] for k in ("episode", "r", "mu", "pi", "q", "v")}
        trajectories = list(self.all_trajectories())
        t = np.arange(self.H)
        for k, (p, s, a, r) in enumerate(trajectories):
            c = len(trajectories) * p
            for key, value in (("episode", np.full(self.H, k)), ("r", c * r), ("mu", self.mu[t, s, a]),
                               ("pi", self.pi[t, s, a]), ("q", c * self.q_hat[t, s, a]), ("v", c * self.v_hat[t, s])):
                rows[key].append(value)
        ep, r, mu, pi, q, v = (np.concatenate(rows[k]) for k in ("episode", "r", "mu", "pi", "q", "v"))
        if one_step:
            return estimator(r, mu, pi, q, v).value
        return estimator(ep, r, mu, pi, q, v, gamma).value


problems = st.builds(Tiny, seed=st.integers(0, 2**32 - 1), S=st.integers(1, 2), A=st.integers(2, 3),
                     H=st.integers(1, 3))


@settings(max_examples=40)
@given(problems, st.sampled_from([1.0, 0.8]))
def test_pdis_and_sequential_dr_are_exactly_unbiased(problem, gamma):
    truth = problem.truth(gamma)[2]
    pdis = problem.exact_expectation(lambda ep, r, mu, pi, q, v, g: per_decision_is(ep, r, mu, pi, g), gamma)
    dr = problem.exact_expectation(sequential_dr, gamma)
    assert pdis == pytest.approx(truth, abs=1e-9) and dr == pytest.approx(truth, abs=1e-9)


@settings(max_examples=40)
@given(st.builds(Tiny, seed=st.integers(0, 2**32 - 1), S=st.integers(1, 3), A=st.integers(2, 4), H=st.just(1)))
def test_ips_and_doubly_robust_are_exactly_unbiased_on_bandits(problem):
    truth = problem.truth(1.0)[2]
    assert problem.exact_expectation(lambda r, mu, pi, q, v: ips(r, mu, pi), 1.0, one_step=True) == \
        pytest.approx(truth, abs=1e-9)
    assert problem.exact_expectation(doubly_robust, 1.0, one_step=True) == pytest.approx(truth, abs=1e-9)


def test_weighted_estimators_are_biased_where_the_plain_ones_are_not():
    # the reason both kinds exist: with one episode, WPDIS returns the logged return, whatever pi is
    problem = Tiny(seed=4, S=2, A=2, H=2)
    problem.pi = np.eye(2)[problem.mu.argmin(axis=-1)]  # the action the behavior takes less often
    problem.v_hat = (problem.pi * problem.q_hat).sum(axis=-1)
    truth = problem.truth(1.0)[2]
    assert problem.exact_expectation(sequential_dr, 1.0) == pytest.approx(truth, abs=1e-9)
    wpdis = sum(p * weighted_per_decision_is(np.zeros(2, int), r, problem.mu[[0, 1], s, a],
                                              problem.pi[[0, 1], s, a]).value
                for p, s, a, r in problem.all_trajectories())
    assert abs(wpdis - truth) > 0.05


# ------------------------------------------------------------------------------------ identities
@settings(max_examples=30)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_textbook_identities(seed, gamma):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    episode = np.sort(np.r_[0, 5, rng.integers(0, 6, size=n - 2)])  # two episodes at least: an se
    r, mu, pi = rng.normal(size=n), rng.uniform(0.05, 1, size=n), rng.uniform(0, 1, size=n)
    zeros = np.zeros(n)
    assert doubly_robust(r, mu, pi, zeros, zeros) == ips(r, mu, pi)            # reward model 0: DR = IPS
    seq, pdis = sequential_dr(episode, r, mu, pi, zeros, zeros, gamma), per_decision_is(episode, r, mu, pi, gamma)
    assert seq.value == pytest.approx(pdis.value, abs=1e-12) and seq.se == pytest.approx(pdis.se, abs=1e-12)
    w = rng.uniform(0.2, 2.0, size=n)
    w /= w.mean()                                                              # weights averaging one
    mu_small = rng.uniform(0.01, 0.09, size=n)  # w <= 2 / 0.2 = 10, so w * mu stays a probability
    assert snips(r, mu_small, w * mu_small).value == pytest.approx(ips(r, mu_small, w * mu_small).value, abs=1e-12)
    on_policy = weighted_per_decision_is(episode, r, mu, mu, gamma)            # pi = mu: the logged mean
    discounted = np.bincount(np.unique(episode, return_inverse=True)[1],
                             weights=r * gamma ** (np.arange(n) - np.searchsorted(episode, episode)))
    assert on_policy.value == pytest.approx(discounted.mean(), abs=1e-12)
    assert per_decision_is(episode, r, mu, mu, gamma).value == pytest.approx(discounted.mean(), abs=1e-12)


# ------------------------------------------------------------------------------------ many logs
def simulate(problem, episodes, rng):
    """``episodes`` episodes of mu on ``problem``, as flat rows ``(episode, r, mu, pi)``."""
    s = rng.choice(problem.S, size=episodes, p=problem.p0)
    rows = []
    for t in range(problem.H):
        a = (rng.random((episodes, 1)) > problem.mu[t, s].cumsum(axis=1)).sum(axis=1)
        s_next = (rng.random((episodes, 1)) > problem.P[t, s, a].cumsum(axis=1)).sum(axis=1)
        rows.append((problem.R[t, s, a, s_next], problem.mu[t, s, a], problem.pi[t, s, a]))
        s = s_next
    r, mu, pi = (np.stack([row[i] for row in rows], axis=1).reshape(-1) for i in range(3))
    return np.repeat(np.arange(episodes), problem.H), r, mu, pi


def test_standard_errors_match_the_spread_over_many_logs():
    problem, rng = Tiny(seed=11, S=2, A=3, H=3), np.random.default_rng(0)
    truth = problem.truth(1.0)[2]
    estimates = np.array([per_decision_is(*simulate(problem, 200, rng)) for _ in range(400)])  # (value, se)
    spread = estimates[:, 0].std(ddof=1)
    assert abs(estimates[:, 0].mean() - truth) < 4 * spread / np.sqrt(400)   # unbiased, as it should be
    assert estimates[:, 1].mean() == pytest.approx(spread, rel=0.15)          # se: the spread of one log's estimate
    covered = np.abs(estimates[:, 0] - truth) <= 1.96 * estimates[:, 1]
    assert 0.9 <= covered.mean() <= 0.99


# ------------------------------------------------------------------------------------ fqe
class TinyEnv:
    """A deterministic ``Tiny`` as an env; observations number (step, state) pairs: t * S + s."""

    def __init__(self, problem):
        self.problem = problem
        self.action_space = Discrete(problem.A)

    def reset(self, seed=None, options=None):
        self.rng = np.random.default_rng(seed)
        self.t, self.s = 0, int(self.rng.choice(self.problem.S, p=self.problem.p0))
        return self.t * self.problem.S + self.s, {}

    def step(self, action):
        p = self.problem
        s_next = int(p.P[self.t, self.s, action].argmax())
        reward = float(p.R[self.t, self.s, action, s_next])
        self.t, self.s = self.t + 1, s_next
        return self.t * p.S + s_next, reward, self.t == p.H, False, {}


@pytest.mark.parametrize("gamma", [1.0, 0.7])
def test_fqe_is_exact_on_a_deterministic_table_and_then_dr_has_no_noise(gamma):
    problem = Tiny(seed=5, S=3, A=3, H=3, deterministic=True)
    log = collect_log(RandomAgent(3, seed=0), TinyEnv(problem), 300, seed=0, epsilon=1.0)
    target = problem.pi.reshape(-1, 3)[log.obs]                   # pi(. | s_t) at each logged row
    model = fqe(log, target, gamma=gamma, ridge=1e-9)
    Q, V, truth = problem.truth(gamma)
    assert np.allclose(model.q_logged, Q.reshape(-1, 3)[log.obs, log.action], atol=1e-6)
    assert np.allclose(model.v_target, V.reshape(-1)[log.obs], atol=1e-6)
    rho_args = (log.episode, log.reward, log.behavior_prob, target[np.arange(len(log)), log.action])
    dr = sequential_dr(*rho_args, model.q_logged, model.v_target, gamma)
    dm = direct_method(model.v_target[log.step == 0])
    assert dr.value == pytest.approx(dm.value, abs=1e-6) and dr.se == pytest.approx(dm.se, abs=1e-6)
    assert dm.value == pytest.approx(truth, abs=4 * dm.se)
    assert per_decision_is(*rho_args, gamma).se > 2 * dr.se  # only the start state varies DR; PDIS has the weights too


def test_fqe_builds_targets_with_epsilon_greedy_policy_and_refuses_bad_ones():
    problem = Tiny(seed=5, S=2, A=3, H=2)
    log = collect_log(RandomAgent(3, seed=0), TinyEnv(problem), 20, seed=0, epsilon=1.0)
    greedy = np.zeros(len(log), int)
    target = epsilon_greedy_policy(greedy, log.action_mask, 0.3)
    assert np.allclose(target[0], [0.8, 0.1, 0.1])
    assert fqe(log, target).q.shape == (len(log), 3)
    with pytest.raises(ValueError, match="summing to 1"):
        fqe(log, target * 0.5)
    with pytest.raises(ValueError, match="target_policy must have shape"):
        fqe(log, target[:, :2])
    with pytest.raises(ValueError, match="gamma"):
        fqe(log, target, gamma=1.5)
    with pytest.raises(ValueError, match="ridge"):
        fqe(log, target, ridge=0.0)
    huge = Log(**{f.name: getattr(log, f.name) for f in dataclasses.fields(Log) if f.name != "reward"},
               reward=np.full(len(log), 1e308))
    with pytest.raises(FloatingPointError, match="diverged"):
        fqe(huge, target, ridge=1e-9)                              # 1e308 + 1e308 is no longer finite


# ------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("call, error, match", [
    (lambda: ips([1.0, 2.0], [0.5, 0.0], [0.5, 0.5]), ValueError, r"behavior_prob must be in \(0, 1\]"),
    (lambda: ips([1.0, 2.0], [0.5, 1.5], [0.5, 0.5]), ValueError, r"behavior_prob must be in \(0, 1\]"),
    (lambda: ips([1.0, 2.0], [0.5, 0.5], [0.5, -0.1]), ValueError, "target_prob must be probabilities"),
    (lambda: ips([1.0, 2.0], [0.5, 0.5], [0.5]), ValueError, r"target_prob must have shape \(2,\)"),
    (lambda: ips([1.0, np.nan], [0.5, 0.5], [0.5, 0.5]), ValueError, "rewards must be finite"),
    (lambda: ips([], [], []), ValueError, "empty"),
    (lambda: snips([1.0, 2.0], [0.5, 0.5], [0.0, 0.0]), ValueError, "every importance weight is 0"),
    (lambda: doubly_robust([1.0], [0.5], [0.5], [0.0, 1.0], [0.0]), ValueError, "q_logged"),
    (lambda: per_decision_is([0, 1, 0], [1.0] * 3, [0.5] * 3, [0.5] * 3), ValueError, r"episode ids \[0\]"),
    (lambda: per_decision_is([0.0, 1.0], [1.0] * 2, [0.5] * 2, [0.5] * 2), TypeError, "integer episode ids"),
    (lambda: per_decision_is([0, 0], [1.0] * 2, [0.5] * 2, [0.5] * 2, gamma=1.5), ValueError, "gamma"),
    (lambda: weighted_per_decision_is([0, 0, 1], [1.0] * 2, [0.5] * 2, [0.5] * 2), ValueError, "shape"),
    (lambda: sequential_dr([0, 0], [1.0] * 2, [0.5] * 2, [0.5] * 2, [0.0] * 2, [0.0]), ValueError, "v_target"),
])
def test_bad_input_is_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_overflowing_weights_are_reported_not_propagated():
    n = 400  # a weight of 10 per step: 10^400 overflows float64
    with pytest.raises(FloatingPointError, match="overflow"):
        per_decision_is(np.zeros(n, int), np.ones(n), np.full(n, 0.1), np.ones(n))


def test_estimate_interval_and_a_single_sample():
    assert Estimate(1.0, 0.5).interval() == (1.0 - 0.98, 1.0 + 0.98)
    one = ips([2.0], [0.5], [0.25])
    assert one.value == 1.0 and np.isnan(one.se)


def test_weighted_pdis_with_every_weight_zero_says_nothing():
    # the target never takes a logged action: value 0 by convention, and no interval
    est = weighted_per_decision_is([0, 0, 1, 1], [1.0, 2.0, 3.0, 4.0], [0.5] * 4, [0.0] * 4)
    assert est.value == 0.0 and np.isnan(est.se)
