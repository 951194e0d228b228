"""The command line end to end on tiny budgets, through ``main(argv)``."""
import csv

import pytest

from minidqn.__main__ import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_for_every_subcommand(capsys):
    for command in ("demo", "train", "evaluate", "compare", "recommend"):
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0
        assert command in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "--env", "moon"], "invalid choice: 'moon'"),
    (["train", "--steps", "0"], "expected a number >= 1"),
    (["train", "--steps", "ten"], "expected a whole number"),
    (["train", "--hidden", "64,x"], "expected widths like 64,64"),
    (["train", "--env", "shop", "--agent", "q"], "Q-learning needs a finite state space"),
    (["train", "--env", "pricing", "--agent", "dqn", "--gamma", "1.5", "--steps", "10"], "gamma must be <= 1"),
    (["evaluate", "--load", "/nonexistent/agent.npz"], "No such file"),
    (["compare", "--agents", "random,psychic"], "unknown ['psychic']"),
    (["recommend"], "--load"),
    (["compare", "--env", "shop", "--agents", "oracle"], "the oracle needs an exact model"),
    (["train", "--env", "pricing", "--num-envs", "4"], "--num-envs is for --env shop only"),
])
def test_bad_arguments_exit_non_zero_with_a_message(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_train_save_log_then_evaluate_compare_and_recommend(capsys, tmp_path):
    agent, log = tmp_path / "agent.npz", tmp_path / "curve.csv"
    code, out, _ = run(capsys, "train", "--env", "shop", "--agent", "dqn", "--steps", "600", "--num-envs", "4",
                       "--hidden", "16", "--no-progress", "--save", str(agent), "--log", str(log))
    assert code == 0 and "trained dqn on shop" in out and agent.exists()
    with open(log) as f:
        rows = list(csv.DictReader(f))
    assert rows and {"step", "episode", "return", "length", "truncated", "epsilon", "loss",
                     "eval_mean_return", "eval_revenue_per_session"} <= set(rows[0])
    assert [int(r["step"]) for r in rows] == sorted(int(r["step"]) for r in rows)

    code, out, _ = run(capsys, "evaluate", "--load", str(agent), "--episodes", "5")
    assert code == 0 and "revenue/session" in out
    code, out, _ = run(capsys, "compare", "--agents", "random,greedy", "--load", str(agent), "--episodes", "5")
    assert code == 0 and "greedy" in out and "agent.npz" in out
    code, out, _ = run(capsys, "recommend", "--load", str(agent), "--k", "3", "--steps", "2", "--explain")
    assert code == 0 and "1. product" in out and "3. product" in out and "advantage" in out


def test_train_tabular_reports_the_exact_share(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--env", "tabular-shop", "--agent", "q", "--steps", "3000", "--no-progress")
    assert code == 0 and "of the optimum" in out


def test_plot_without_matplotlib_names_the_extra(capsys, tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(SystemExit) as e:
        main(["train", "--env", "pricing", "--agent", "q", "--steps", "100", "--plot", str(tmp_path / "c.png")])
    assert e.value.code == 2
    assert "pip install 'minidqn[plot]'" in capsys.readouterr().err


def test_quick_demo_runs_end_to_end(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--quick", "--out", str(tmp_path), "--episodes", "10")
    assert code == 0
    for heading in ("Tabular shop", "Dynamic pricing", "Feature shop", "share of optimum"):
        assert heading in out
    assert (tmp_path / "shop_dqn.npz").exists() and (tmp_path / "curve_shop_dqn.csv").exists()


def test_compare_learns_popularity_from_a_random_log_so_it_differs_from_random(capsys):
    code, out, _ = run(capsys, "compare", "--env", "tabular-shop", "--agents", "random,popularity", "--episodes", "200")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:]}
    assert code == 0 and rows["random"] != rows["popularity"]
