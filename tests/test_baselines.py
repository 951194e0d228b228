"""Baselines: each does exactly what it claims, and they rank as they should on TabularShop."""
import numpy as np
import pytest

from minidqn.baselines import GreedyAgent, OracleAgent, PopularityAgent, RandomAgent
from minidqn.envs.tabular_shop import TabularShop
from minidqn.tabular import policy_evaluation, value_iteration
from minidqn.train import evaluate


def test_random_agent_is_uniform_seeded_and_respects_masks():
    agent = RandomAgent(4, seed=0)
    picks = [agent.act(0) for _ in range(4000)]
    assert np.all(np.abs(np.bincount(picks, minlength=4) - 1000) < 110)
    again = RandomAgent(4, seed=0)
    assert picks == [again.act(0) for _ in range(4000)]
    mask = np.array([False, True, False, True])
    assert {agent.act(0, action_mask=mask) for _ in range(200)} == {1, 3}
    assert agent.observe(0, 1, 1.0, 0, False) is None
    assert RandomAgent.for_env(TabularShop()).n_actions == 5
    with pytest.raises(ValueError, match="action_mask"):
        agent.act(0, action_mask=np.zeros(4, dtype=bool))


def test_baselines_take_integer_0_1_masks_and_refuse_other_masks():
    env = TabularShop(seed=0)
    env.reset(seed=0)
    int_mask = np.array([0, 1, 0, 1, 0], np.int8)  # Gymnasium's dtype
    for agent in (RandomAgent(5, seed=0), PopularityAgent(5, seed=0), GreedyAgent(env), OracleAgent(env)):
        assert {agent.act(0, action_mask=int_mask) for _ in range(50)} <= {1, 3}
        with pytest.raises(ValueError, match="only 0 and 1"):
            agent.act(0, action_mask=int_mask * 2)
        with pytest.raises(TypeError, match="action_mask must be a bool or integer"):
            agent.act(0, action_mask=int_mask.astype(float))
    random_agent = RandomAgent(5, seed=0)
    assert {random_agent.act(0, action_mask=int_mask) for _ in range(50)} == {1, 3}


def test_popularity_agent_recommends_the_most_rewarded_action_and_skips_masked_ones():
    agent = PopularityAgent(3, seed=0)
    assert {agent.act(0) for _ in range(100)} == {0, 1, 2}  # untried: ties at random
    for action, reward in ((2, 5.0), (2, 1.0), (1, 3.0), (0, 0.0), (0, 0.0), (0, 0.0)):
        assert agent.observe(0, action, reward, 0, False) is None
    assert agent.counts.tolist() == [0, 1, 2]
    assert agent.act(0) == 2
    assert agent.act(0, action_mask=np.array([True, True, False])) == 1
    with pytest.raises(ValueError, match="action"):
        agent.observe(0, 3, 1.0, 0, False)


def test_greedy_agent_takes_the_best_immediate_expected_reward_of_the_env_s_state():
    env = TabularShop(seed=0)
    P, R = env.model()
    agent = GreedyAgent(env)
    s, _ = env.reset()
    for _ in range(200):
        a = agent.act(s)
        assert a == R[s].argmax()
        s, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            s, _ = env.reset()
    with pytest.raises(TypeError, match="expected_reward"):
        GreedyAgent(object())


def test_oracle_acts_by_q_star():
    env = TabularShop()
    agent = OracleAgent(env)
    Q, V = value_iteration(*env.model(), 1.0, tol=1e-10)
    np.testing.assert_allclose(agent.V_star, V, atol=1e-8)
    assert [agent.act(s) for s in range(12)] == Q.argmax(axis=1).tolist()
    assert agent.act(np.array(3)) == Q[3].argmax()
    with pytest.raises(ValueError, match="obs"):
        agent.act(12)
    with pytest.raises(TypeError, match="model"):
        OracleAgent(object())


def test_measured_returns_match_exact_values_and_rank_oracle_greedy_random():
    env = TabularShop()
    P, R = env.model()
    d0 = env.initial_distribution()
    exact = {"oracle": d0 @ value_iteration(P, R, 1.0)[1],
             "greedy": d0 @ policy_evaluation(P, R, R.argmax(axis=1), 1.0),
             "random": d0 @ policy_evaluation(P, R, np.full((12, 5), 0.2), 1.0)}
    agents = {"oracle": OracleAgent(env), "greedy": GreedyAgent(env), "random": RandomAgent(5, seed=0)}
    measured = {name: evaluate(agent, env, episodes=3000, seed=1) for name, agent in agents.items()}
    for name, m in measured.items():
        assert abs(m["mean_return"] - exact[name]) < 4 * m["mean_return_se"], name
    assert measured["oracle"]["mean_return"] > measured["greedy"]["mean_return"] + 5
    assert measured["greedy"]["mean_return"] > measured["random"]["mean_return"] + 5


def test_popularity_with_epsilon_one_logs_random_recommendations_then_exploits_its_counts():
    agent = PopularityAgent(4, seed=0, epsilon=1.0)
    assert {agent.act(None) for _ in range(200)} == {0, 1, 2, 3}  # exploring: uniform
    agent.observe(None, 2, 5.0, None, False)
    assert {agent.act(None, explore=False) for _ in range(20)} == {2}
    with pytest.raises(ValueError, match="epsilon"):
        PopularityAgent(4, epsilon=1.5)
