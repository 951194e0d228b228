import numpy as np
import pytest

from minidqn.baselines import GreedyAgent, PopularityAgent
from minidqn.envs.shop import ShopEnv
from minidqn.ranking import PurchaseLog, agent_scores, log_purchases, ranking_metrics


def one_case(scores, bought, mask=None):
    scores = np.array([scores], float)
    mask = np.ones_like(scores, bool) if mask is None else np.array([mask])
    return PurchaseLog(np.zeros((1, 1)), mask, np.array([bought]), scores), scores


def test_rank_one_three_and_masked_competitors_by_hand():
    log, s = one_case([0.9, 0.5, 0.1, 0.3], bought=0)
    assert ranking_metrics(s, log, 1)["hit_rate@1"] == 1.0 and ranking_metrics(s, log, 1)["ndcg@1"] == 1.0
    log, s = one_case([0.9, 0.5, 0.1, 0.3], bought=3)            # rank 3
    assert ranking_metrics(s, log, 2)["hit_rate@2"] == 0.0
    assert ranking_metrics(s, log, 3)["ndcg@3"] == pytest.approx(1 / np.log2(4))
    log, s = one_case([0.9, 0.5, 0.1, 0.3], bought=3, mask=[False, False, True, True])  # rank 1 among allowed
    assert ranking_metrics(s, log, 1)["hit_rate@1"] == 1.0


def test_ties_count_as_their_expected_position():
    log, s = one_case([0.0, 0.0, 0.0, 0.0], bought=2)            # uniform on positions 1..4
    m = ranking_metrics(s, log, 2)
    assert m["hit_rate@2"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx((1 + 1 / np.log2(3)) / 4)


def test_logged_purchases_and_the_agents_scores_on_the_shop():
    log = log_purchases(ShopEnv(), visits=60, seed=1)
    n = len(log.bought)
    assert n > 10 and log.obs.shape == (n, 47) and log.action_mask[np.arange(n), log.bought].all()
    greedy = ranking_metrics(agent_scores(GreedyAgent(ShopEnv()), log), log, 10)
    chance = ranking_metrics(np.zeros(log.action_mask.shape), log, 10)
    assert greedy["hit_rate@10"] > 2 * chance["hit_rate@10"]  # the true purchase odds rank well
    assert agent_scores(PopularityAgent(100), log).shape == log.action_mask.shape
    with pytest.raises(ValueError, match="scores must have shape"):
        ranking_metrics(np.zeros((n, 3)), log, 5)
