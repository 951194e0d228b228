"""End-to-end: SlateQ with its defaults, on a small budget, beats the myopic slate oracle on fresh shoppers."""
from minidqn import GreedySlateAgent, SlateQAgent, SlateShopEnv
from minidqn.train import evaluate, train


def test_slateq_with_default_settings_beats_the_myopic_slate_oracle_after_10k_steps():
    agent = SlateQAgent.for_env(SlateShopEnv(), seed=0)
    train(agent, SlateShopEnv(seed=0), 10_000, seed=0, progress=False)
    env = SlateShopEnv()
    ratio = (evaluate(agent, env, 200, seed=99)["revenue_per_session"]
             / evaluate(GreedySlateAgent(env), env, 200, seed=99)["revenue_per_session"])
    # SlateQAgent's defaults, 10,000 steps, the same 200 fresh shoppers, seeds 0-9: revenue per session
    # over the myopic oracle's min 1.066, median 1.164, max 1.438 (seed 0: 1.066). Threshold 1.03.
    # (At 6,000 steps: min 0.827, median 1.178: too early to pin.) After 100,000 steps: 1.70 (1.64-1.80).
    assert ratio >= 1.03, ratio
