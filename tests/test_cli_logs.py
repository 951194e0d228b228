"""``minidqn log``, ``minidqn ope`` and ``minidqn train --offline`` end to end on tiny budgets."""
import csv

import numpy as np
import pytest

from minidqn.__main__ import main
from minidqn.dqn import DQNAgent
from minidqn.logs import Log


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def refused(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    assert e.value.code == 2
    return capsys.readouterr().err


def test_help_for_the_log_commands(capsys):
    for command, phrase in (("log", "probability the logging policy had"), ("ope", "sequential doubly robust")):
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0 and phrase in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--offline LOG" in capsys.readouterr().out


def test_log_a_baseline_train_offline_then_estimate_and_log_the_saved_agent(capsys, tmp_path):
    log_path, csv_path, agent_path = tmp_path / "shop.npz", tmp_path / "shop.csv", tmp_path / "agent.npz"
    code, out, _ = run(capsys, "log", "--agent", "greedy", "--episodes", 40, "--epsilon", 0.3, "--seed", 1,
                       "--out", log_path, "--csv", csv_path)
    log = Log.load(log_path)
    returns = np.bincount(log.episode, weights=log.reward)
    assert code == 0 and log.n_episodes == 40 and log.epsilon == 0.3
    assert f"logged 40 episodes ({len(log):,} steps) of greedy with epsilon=0.3 on shop: mean return " \
           f"{returns.mean():.3f}" in out
    with open(csv_path) as f:
        assert len(list(csv.reader(f))) == len(log) + 1

    code, out, _ = run(capsys, "train", "--offline", log_path, "--updates", 200, "--batch-size", 16,
                       "--hidden", 16, "--no-progress", "--save", agent_path)
    assert code == 0 and f"from the log {log_path} alone ({len(log):,} transitions, 40 episodes): 200 updates " \
                          "with cql_alpha=0.5 " in out
    agent = DQNAgent.load(agent_path)
    assert agent.updates == 200 and agent.config.cql_alpha == 0.5 and agent.steps == 0
    code, _, _ = run(capsys, "train", "--offline", log_path, "--updates", 5, "--cql-alpha", 0, "--no-progress",
                     "--batch-size", 16, "--save", agent_path)
    assert code == 0 and DQNAgent.load(agent_path).config.cql_alpha == 0.0

    code, out, _ = run(capsys, "ope", "--load", agent_path, "--log", log_path)
    assert code == 0
    rows = {line.split("  ")[0].strip(): line.split() for line in out.splitlines()}
    assert float(rows["logged mean (the logging policy)"][-5]) == pytest.approx(returns.mean(), abs=1e-3)
    for name in ("PDIS", "WPDIS", "DM (FQE)", "seq. DR (FQE)"):
        estimate, se = (float(x) for x in rows[name][-5:-3])
        # five updates from scratch: this agent never takes a logged first action, every weight is 0,
        # and WPDIS has no interval to give
        assert np.isfinite(estimate) and (se >= 0 or (name == "WPDIS" and np.isnan(se) and "se nan" in out))
    assert "effective sample size" in out

    code, out, _ = run(capsys, "log", "--load", agent_path, "--episodes", 5, "--epsilon", 0, "--out", log_path)
    assert code == 0 and "of dqn with epsilon=0 on shop" in out
    assert np.all(Log.load(log_path).behavior_prob == 1.0)  # greedy: each logged action had probability 1


def test_log_and_train_offline_on_the_tabular_shop_report_the_exact_share(capsys, tmp_path):
    log_path = tmp_path / "tab.npz"
    assert run(capsys, "log", "--agent", "random", "--env", "tabular-shop", "--episodes", 30, "--out", log_path)[0] == 0
    code, out, _ = run(capsys, "train", "--env", "tabular-shop", "--offline", log_path, "--updates", 50,
                       "--batch-size", 16, "--no-progress")
    assert code == 0 and "exact value of its greedy policy" in out


@pytest.mark.parametrize("argv, message", [
    (["log", "--out", "x.npz"], "one of the arguments --load --agent is required"),
    (["log", "--agent", "greedy", "--out", "x.npz", "--epsilon", "1.5"], "--epsilon must be <= 1"),
    (["log", "--agent", "psychic", "--out", "x.npz"], "invalid choice: 'psychic'"),
    (["log", "--agent", "greedy", "--out", "/nonexistent/x.npz"], "--out /nonexistent/x.npz"),
    (["ope", "--load", "/nonexistent/agent.npz", "--log", "x.npz"], "No such file"),
    (["train", "--updates", "5"], "--updates is for --offline LOG"),
    (["train", "--offline", "/nonexistent/log.npz"], "No such file"),
    (["log", "--agent", "random", "--env", "slate-shop", "--out", "x.npz"],
     "--env slate-shop: logs (minidqn log, ope, train --offline) cover one product per step; pages of "
     "products (slates) are not covered"),
])
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    assert message in refused(capsys, *argv)


def test_a_log_of_another_env_or_flags_that_do_not_apply_are_refused(capsys, tmp_path):
    log_path, agent_path = tmp_path / "shop.npz", tmp_path / "agent.npz"
    run(capsys, "log", "--agent", "random", "--episodes", 5, "--out", log_path)
    err = refused(capsys, "train", "--env", "pricing", "--offline", log_path)
    assert f"{log_path} is not a log of env 'pricing': it holds observations of shape (47,)" in err
    for flags, message in ((["--steps", "10"], "--steps does not apply to --offline"),
                           (["--log", tmp_path / "c.csv", "--num-envs", "2"], "--num-envs, --log does not apply"),
                           (["--agent", "q", "--env", "tabular-shop"], "--offline trains --agent dqn, not --agent q")):
        assert message in refused(capsys, "train", "--offline", log_path, *flags)
    assert "--cql-alpha does not apply to --agent q" in refused(capsys, "train", "--agent", "q", "--env",
                                                               "tabular-shop", "--cql-alpha", "1")
    run(capsys, "train", "--env", "tabular-shop", "--steps", 50, "--no-progress", "--save", agent_path)
    assert f"{log_path} is not a log of env 'tabular-shop'" in refused(capsys, "ope", "--load", agent_path,
                                                                       "--log", log_path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert "bad.npz" in refused(capsys, "ope", "--load", agent_path, "--log", tmp_path / "bad.npz")


def test_log_estimates_of_the_policy_that_wrote_the_log_are_its_logged_mean():
    from minidqn import experiments as ex
    from minidqn.envs.shop import ShopEnv
    from minidqn.logs import collect_log
    env = ShopEnv()
    agent = DQNAgent.for_env(env, seed=4)
    log = collect_log(agent, env, 60, seed=2, epsilon=0.3)
    same = ex.log_estimates(agent, log, epsilon=0.3)  # the target is the logging policy: every weight is 1
    assert same["ess"] == pytest.approx(1.0)
    for name in ("PDIS", "WPDIS"):
        assert same[name].value == pytest.approx(same["logged mean"].value, rel=1e-12)
    greedy = ex.log_estimates(agent, log, epsilon=0.0)  # explored steps get weight 0, greedy ones 1 / 0.703
    assert greedy["ess"] < 0.5 and greedy["PDIS"].value != same["PDIS"].value
