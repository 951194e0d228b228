"""Slate baselines: the myopic oracle is the exact best slate, and the three rank as they should."""
import numpy as np
import pytest

from minidqn.envs.shop import ShopConfig, ShopEnv
from minidqn.envs.slate_shop import SlateShopEnv
from minidqn.slate_baselines import GreedySlateAgent, PopularitySlateAgent, RandomSlateAgent
from minidqn.slate_choice import enumerate_best_slate, slate_value
from minidqn.train import evaluate, train


def test_greedy_slate_agent_shows_the_enumerated_best_slate_on_a_small_catalogue():
    env = SlateShopEnv(ShopConfig(n_items=8, n_categories=2), slate_size=3, seed=0)
    agent = GreedySlateAgent(env)
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        env._bought[seed] = True                          # a masked product must be left out
        v, rho, r, mask = env.slate_model()
        slate = agent.act(obs, action_mask=~env._bought)
        _, best = enumerate_best_slate(v, r, rho, mask)
        assert slate_value(v, r, rho, slate) == pytest.approx(best, rel=1e-12) and seed not in slate
    with pytest.raises(TypeError, match="slate_model"):
        GreedySlateAgent(ShopEnv())


def test_random_and_popularity_slates():
    env = SlateShopEnv(seed=0)
    rand = RandomSlateAgent.for_env(env, seed=0)
    mask = np.zeros(100, bool)
    mask[[3, 5, 8, 9]] = True
    slates = np.array([rand.act(None, action_mask=mask) for _ in range(200)])
    assert set(slates.ravel()) == {3, 5, 8, 9} and all(np.unique(s).size == 3 for s in slates)
    pop = PopularitySlateAgent.for_env(env, seed=0)
    nxt = np.zeros(env.observation_space.shape, np.float32)
    nxt[-2] = 1.0                                         # slot 1 clicked
    for _ in range(3):
        pop.observe(None, np.array([4, 7, 2]), 1.5, nxt, False)
    pop.observe(None, np.array([9, 2, 4]), 1.0, nxt, False)
    pop.observe(None, np.array([9, 5, 4]), 0.0, nxt, False)   # no reward: not counted
    assert pop.counts[7] == 3 and pop.counts[2] == 1 and pop.counts[5] == 0
    np.testing.assert_array_equal(pop.act(None)[:2], [7, 2])
    with pytest.raises(TypeError, match="Slate"):
        RandomSlateAgent.for_env(ShopEnv())


def test_popularity_takes_the_clicked_slot_and_reads_observations_only_of_the_slate_shop():
    nxt = np.zeros(SlateShopEnv(seed=0).observation_space.shape, np.float32)
    nxt[-1] = 1.0                                         # the slate shop's way of saying: slot 2
    pop = PopularitySlateAgent(10, 3)                     # not built for a SlateShopEnv: never reads obs
    with pytest.raises(TypeError, match=r"needs clicked= \(the slot in the env's info\['clicked'\]"):
        pop.observe(None, np.array([4, 7, 2]), 1.0, nxt, False)
    pop.observe(None, np.array([4, 7, 2]), 1.0, nxt, False, clicked=0)
    with pytest.raises(ValueError, match="clicked must be <= 2"):
        pop.observe(None, np.array([4, 7, 2]), 1.0, nxt, False, clicked=3)
    shop = PopularitySlateAgent.for_env(SlateShopEnv(seed=0))
    shop.observe(None, np.array([4, 7, 2]), 1.0, nxt, False)
    shop.observe(None, np.array([4, 7, 9]), 1.0, nxt, False, clicked=1)   # given: it wins over obs
    assert pop.counts[4] == 1 and pop.counts.sum() == 1
    assert shop.counts[2] == 1 and shop.counts[7] == 1 and shop.counts.sum() == 2


def test_myopic_oracle_beats_popularity_beats_random():
    env = SlateShopEnv(seed=0)
    pop = PopularitySlateAgent.for_env(env, seed=0, epsilon=1.0)
    train(pop, env, 3000, seed=1, progress=False)
    rev = {name: evaluate(agent, env, episodes=100, seed=7)["revenue_per_session"]
           for name, agent in (("random", RandomSlateAgent.for_env(env)), ("popularity", pop),
                               ("myopic", GreedySlateAgent(env)))}
    # measured: random 1.68, popularity 3.01, myopic 4.19 revenue per session
    assert rev["myopic"] > 1.25 * rev["popularity"] and rev["popularity"] > 1.4 * rev["random"], rev
    m = evaluate(RandomSlateAgent.for_env(env), env, 5, seed=0)
    assert m["coverage"] > 0.1                       # every product of every slate counts as shown
    clicks, steps = 0, 0                             # info["clicked"] is a slot (-1: none): count clicks
    agent = RandomSlateAgent.for_env(env)            # replays evaluate's episodes exactly
    for s in np.random.SeedSequence(0).generate_state(5):
        obs, info = env.reset(seed=int(s))
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(agent.act(obs, action_mask=info["action_mask"]))
            clicks, steps, done = clicks + (info["clicked"] >= 0), steps + 1, term or trunc
    assert m["click_rate"] == pytest.approx(clicks / steps, rel=1e-12) and 0 < clicks < steps
