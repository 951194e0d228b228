from types import SimpleNamespace

import numpy as np
import pytest

from conftest import assert_grad_close, numerical_grad
from minidqn.dqn import DQNAgent
from minidqn.explain import explain, input_gradients
from minidqn.report import explain_lines


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_input_gradients_match_finite_differences_of_q(activation):
    agent = DQNAgent(5, 4, hidden=(16, 16), activation=activation, dtype=np.float64, reward_scale=0.1, seed=2)
    obs = np.random.default_rng(0).normal(size=5)
    actions = np.array([3, 0, 2])
    _, grads = input_gradients(agent, obs, actions)
    for a, g in zip(actions, grads):
        numeric = numerical_grad(lambda: float(agent.q_values(obs)[a]), obs)
        assert_grad_close(g, numeric, what=f"dQ(s,{a})/ds")


def test_the_feature_that_drives_q_ranks_first():
    # Q(s) = s @ W with one hidden ReLU unit per feature: action 0 leans on feature 2, action 1 on 0
    agent = DQNAgent(3, 2, hidden=(3,), dtype=np.float64, seed=0)
    agent.online.weights[0][:] = np.eye(3)
    agent.online.biases[0][:] = 0
    agent.online.weights[1][:] = [[0.1, 5.0], [0.2, 0.1], [4.0, 0.1]]
    agent.online.biases[1][:] = 0
    obs = np.array([1.0, 1.0, 1.0])  # Q = (4.3, 5.2)
    ex = explain(agent, obs, k=2, feature_names=["views", "clicks", "price"], top_features=2)
    assert [e.action for e in ex] == [1, 0]
    assert ex[0].features[0][0] == "views" and ex[1].features[0][0] == "price"
    assert ex[0].features[0][2] == pytest.approx(5.0)   # attribution = s_j * dQ/ds_j
    assert ex[0].q == pytest.approx(5.2) and ex[0].advantage == pytest.approx(0.45)
    assert ex[0].gap == pytest.approx(0.9) and ex[1].gap == 0.0
    assert "views" in str(ex[0])


def test_explain_leaves_the_agent_gradients_alone_and_respects_masks():
    agent = DQNAgent(3, 4, seed=0)
    agent.online.grads[:] = 7.0
    ex = explain(agent, np.ones(3), k=4, action_mask=np.array([True, False, True, False]))
    assert {e.action for e in ex} == {0, 2}
    assert [e.action for e in explain(agent, np.ones(3), k=4, action_mask=np.array([1, 0, 1, 0], np.int8))] == \
        [e.action for e in ex]  # Gymnasium's int8 masks mean the same
    with pytest.raises(TypeError, match="action_mask must be a bool or integer 0/1"):
        explain(agent, np.ones(3), action_mask=np.ones(4) * 0.5)
    with pytest.raises(ValueError, match=r"action_mask must have shape \(4,\)"):
        explain(agent, np.ones(3), action_mask=np.ones(3, bool))
    assert np.all(agent.online.grads == 7.0)
    with pytest.raises(ValueError, match="feature_names"):
        explain(agent, np.ones(3), feature_names=["a"])


def _printed(lines, key):
    return [float(line.split(key + "=")[1].split()[0]) for line in lines if key + "=" in line]


@pytest.mark.parametrize("bias, adds_up", [(0.0, True), (0.5, False)])
def test_explain_lines_print_the_sum_of_attributions_next_to_q_and_how_the_two_relate(bias, adds_up):
    # A ReLU network without biases is positively homogeneous, Q(s) = sum_j s_j dQ/ds_j (Euler):
    # then, and only then, the attributions add up to Q; with biases part of Q is nobody's.
    agent = DQNAgent(3, 2, hidden=(4,), dtype=np.float64, seed=1)
    for b in agent.online.biases:
        b[:] = bias
    env = SimpleNamespace(feature_names=["views", "clicks", "price"])
    lines = explain_lines(agent, env, np.array([0.5, -1.0, 2.0]), k=2)
    q, sums = _printed(lines, "Q"), _printed(lines, "sum of all attributions")
    assert len(q) == len(sums) == 2
    assert (np.round(q, 3) == np.round(sums, 3)).all() == adds_up
    note = " ".join(lines)
    assert "first-order" in note and "not a decomposition of the advantage" in note


def test_a_dueling_agent_is_explained_with_the_mask_of_the_observation():
    agent = DQNAgent(5, 4, hidden=(16,), dueling=True, dtype=np.float64, reward_scale=0.1, seed=2)
    obs, mask = np.random.default_rng(0).normal(size=5), np.array([1, 0, 1, 1], np.int8)
    _, grads = input_gradients(agent, obs, np.array([3, 0]), action_mask=mask)
    for a, g in zip([3, 0], grads):  # Q(s, a) with the mean over the allowed actions, as acted on
        numeric = numerical_grad(lambda: float(agent.q_values(obs, action_mask=mask)[a]), obs)
        assert_grad_close(g, numeric, what=f"dQ(s,{a})/ds")
    ex = explain(agent, obs, k=3, action_mask=mask)
    q = agent.q_values(obs, action_mask=mask)
    assert [e.q for e in ex] == sorted(q[[0, 2, 3]], reverse=True)
