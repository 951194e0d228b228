"""evaluate: greedy seeded episodes, metrics with standard errors, the episode cap, refusals."""
import numpy as np
import pytest

from doubles import ScriptedEnv, RecordingAgent, MinimalAgent, GymLike, EndlessEnv
from minidqn.baselines import RandomAgent
from minidqn.envs.tabular_shop import TabularShop
from minidqn.tabular import TabularQAgent
from minidqn.evaluation import evaluate


def test_evaluate_reports_shop_metrics_with_standard_errors():
    m = evaluate(RecordingAgent(), ScriptedEnv(clicks=True), episodes=6, seed=0)
    assert m["episodes"] == 6 and m["mean_length"] == 2.5 and m["mean_return"] == 5.0
    assert m["std_return"] == 1.0
    assert m["mean_return_se"] == pytest.approx(np.std([6, 4] * 3, ddof=1) / 6 ** 0.5)
    assert m["revenue_per_session"] == 25.0 and m["revenue_per_session_se"] > 0
    assert m["conversion_rate"] == 1.0 and m["conversion_rate_se"] == 0.0  # action 1 always bought here
    assert m["click_rate"] == 0.0
    assert "click_rate" not in evaluate(RecordingAgent(), ScriptedEnv(), episodes=2)
    assert "revenue_per_session" not in evaluate(MinimalAgent(), GymLike(), episodes=2)


def test_evaluate_is_reproducible_and_its_episodes_are_not_training_s():
    agent = TabularQAgent.for_env(TabularShop(), seed=0)
    agent.Q[:] = np.random.default_rng(0).normal(size=agent.Q.shape)  # a fixed policy, no ties
    env = TabularShop()
    m1, m2 = evaluate(agent, env, 200, seed=3), evaluate(agent, env, 200, seed=3)
    assert m1 == m2
    assert evaluate(agent, env, 200, seed=4) != m1
    # episode i's shopper depends on (seed, i) only: the first 50 of 200 are the 50 of 50
    seeds_200, seeds_50 = [], []
    for n, out in ((200, seeds_200), (50, seeds_50)):
        class Spy(TabularShop):
            def reset(self, seed=None, options=None):
                out.append(seed)
                return super().reset(seed=seed)
        evaluate(agent, Spy(), n, seed=3)
    assert seeds_200[:50] == seeds_50 and len(set(seeds_200)) == 200
    assert not set(seeds_200) & set(range(1000))  # not the small ints train seeds its env with


def test_evaluate_on_tabular_shop_reports_revenue_and_conversion():
    m = evaluate(RandomAgent(5, seed=0), TabularShop(), 400, seed=0)
    assert m["revenue_per_session"] == m["mean_return"]
    assert 0 < m["conversion_rate"] < 1 and 0 < m["conversion_rate_se"] < 0.05


def test_one_episode_gives_nan_standard_errors_without_warnings():
    m = evaluate(MinimalAgent(), GymLike(), 1)
    assert m["mean_return"] == 4.0 and np.isnan(m["mean_return_se"])
    with pytest.raises(ValueError, match="episodes"):
        evaluate(MinimalAgent(), GymLike(), 0)


def test_a_vector_env_is_refused_by_evaluate():
    class Vector:
        num_envs = 4

        def reset(self, seed=None):
            raise AssertionError("not reached")

        def step(self, action):
            raise AssertionError("not reached")
    with pytest.raises(TypeError, match="single env"):
        evaluate(RandomAgent(2), Vector(), 3)


def test_evaluate_reports_coverage_and_categories_per_session():
    from minidqn.baselines import GreedyAgent
    from minidqn.envs.shop import ShopEnv

    env = ShopEnv()
    m = evaluate(RandomAgent(env.n_items, seed=0), env, 30, seed=1)
    lengths_total = m["mean_length"] * 30
    assert 0 < m["coverage"] <= 1 and m["coverage"] > min(lengths_total, 100) / 100 * 0.5
    assert 1 <= m["categories_per_session"] <= 10 and m["categories_per_session_se"] > 0
    env = ShopEnv()
    greedy = evaluate(GreedyAgent(env, seed=0), env, 30, seed=1)
    assert greedy["coverage"] < m["coverage"]  # a myopic oracle keeps to a few products


def test_evaluate_cuts_endless_episodes_at_the_cap_and_counts_them_as_truncated():
    m = evaluate(RandomAgent(2, seed=0), EndlessEnv(), episodes=3, seed=0, max_episode_steps=7)
    assert m["mean_length"] == 7.0 and m["mean_return"] == 7.0
    assert m["episodes_truncated"] == 3 and m["truncated_rate"] == 1.0 and m["episodes_capped"] == 3
    env = EndlessEnv()
    env.spec = type("Spec", (), {"max_episode_steps": 5})()  # as gymnasium.make sets it
    assert evaluate(RandomAgent(2), env, episodes=2)["mean_length"] == 5.0
    assert evaluate(RandomAgent(2), env, episodes=2, max_episode_steps=3)["mean_length"] == 3.0  # the caller wins
    env.spec.max_episode_steps = None  # a spec without a time limit: the default cap
    from minidqn.train import DEFAULT_MAX_EPISODE_STEPS
    assert evaluate(RandomAgent(2), env, episodes=1)["mean_length"] == DEFAULT_MAX_EPISODE_STEPS == 10_000
    for bad, error in ((0, ValueError), (2.5, TypeError)):
        with pytest.raises(error, match="max_episode_steps"):
            evaluate(RandomAgent(2), EndlessEnv(), episodes=1, max_episode_steps=bad)


def test_evaluate_tells_the_envs_own_truncations_from_the_caps_cuts():
    m = evaluate(RecordingAgent(), ScriptedEnv(), episodes=4, seed=0)
    assert m["episodes_truncated"] == 2 and m["truncated_rate"] == 0.5 and m["episodes_capped"] == 0
    m = evaluate(RecordingAgent(), ScriptedEnv(), episodes=4, seed=0, max_episode_steps=2)
    assert m["mean_length"] == 2.0 and m["episodes_truncated"] == 4 and m["episodes_capped"] == 2


def test_a_non_finite_reward_stops_the_evaluation_with_its_step():
    class NaNOnThirdStep(GymLike):
        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, float("nan") if self.t == 3 else reward, terminated, truncated, info

    with pytest.raises(ValueError, match="non-finite reward nan at step 3"):
        evaluate(MinimalAgent(), NaNOnThirdStep(), 2)


class ClickFlags(GymLike):
    """Reports ``clicked`` at steps 2 and 3 of 4, as the flag ``kind`` makes it."""

    def __init__(self, kind):
        self.kind = kind

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {"clicked": self.kind(self.t in (2, 3))}


@pytest.mark.parametrize("kind", [bool, int, np.int64, lambda x: np.array(x), np.bool_])
def test_a_click_flag_counts_only_when_true_whatever_its_type(kind):
    assert evaluate(MinimalAgent(), ClickFlags(kind), episodes=2)["click_rate"] == 0.5


def test_a_slate_envs_clicked_is_a_slot_index_and_slot_zero_is_a_click():
    from minidqn.spaces import Slate

    class SlateClicks(GymLike):
        action_space = Slate(4, 2)
        slots = {1: -1, 2: 0, 3: 1, 4: -1}

        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, reward, terminated, truncated, {"clicked": self.slots[self.t]}

    class TwoProducts:
        def act(self, obs, explore=True):
            return np.array([2, 3])

        def observe(self, *args, **kw):
            return None
    assert evaluate(TwoProducts(), SlateClicks(), episodes=2)["click_rate"] == 0.5
