"""The command line end to end on tiny budgets, through ``main(argv)``."""
import csv
import os
import re
import signal
import subprocess
import sys

import pytest

from minidqn import experiments as ex
from minidqn import report
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
    code, out, err = run(capsys, "demo", "--quick", "--out", str(tmp_path), "--episodes", "10")
    assert code == 0
    for heading in ("Tabular shop", "Dynamic pricing", "Feature shop", "share of optimum"):
        assert heading in out
    assert (tmp_path / "shop_dqn.npz").exists() and (tmp_path / "curve_shop_dqn.csv").exists()
    # it says plainly that a quick run cannot learn, next to the lift it prints
    assert out.startswith("Quick run: every budget is cut 20-fold, too small for the agents to learn")
    assert "against greedy after a quick run of 5,000 steps, too few for it to learn" in out
    # every progress line says which run it belongs to
    lines = err.strip().splitlines()
    assert lines and all(line.split(": ")[0] in {f"{e}/{a}" for e, a in ex.DEMO_RUNS} for line in lines)
    assert {line.split(": ")[0] for line in lines} == {f"{e}/{a}" for e, a in ex.DEMO_RUNS}


def test_demo_plot_has_one_panel_per_problem(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    from minidqn.train import train
    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, **kw: saved.append(
        [(ax.get_title(), [line.get_label() for line in ax.get_lines()]) for ax in fig.axes]))
    runs = {}
    for env_name in ("tabular-shop", "pricing"):
        env = ex.make_env(env_name, seed=0, agent="q")
        runs[env_name] = train(ex.make_agent("q", env), env, 300, progress=False)
    report.plot_curves({"tabular shop": {"Q-learning": runs["tabular-shop"]},
                        "dynamic pricing": {"Q-learning": runs["pricing"]}}, str(tmp_path / "c.png"),
                       {"dynamic pricing": {"optimal": 390.8}})
    (panels,) = saved
    assert [title for title, _ in panels] == ["tabular shop", "dynamic pricing"]
    assert panels[0][1][0].startswith("Q-learning") and panels[1][1][-1] == "optimal"


def test_compare_learns_popularity_from_a_random_log_so_it_differs_from_random(capsys):
    code, out, _ = run(capsys, "compare", "--env", "tabular-shop", "--agents", "random,popularity", "--episodes", "200")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:]}
    assert code == 0 and rows["random"] != rows["popularity"]


# ------------------------------------------------------------------ as a user runs it: a subprocess
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*argv, cwd=None):
    """``python -m minidqn argv`` in a fresh interpreter importing this checkout."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "minidqn", *map(str, argv)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def refused(result, *fragments):
    """Exit 2, one message naming every fragment, no traceback, and nothing trained."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "trained" not in result.stdout
    for fragment in fragments:
        assert fragment in result.stderr


TRAIN_Q = ("train", "--env", "tabular-shop", "--agent", "q", "--steps", "200", "--no-progress")


def test_output_paths_are_checked_before_training(tmp_path):
    folder, file = tmp_path / "folder", tmp_path / "file"
    folder.mkdir()
    file.write_text("not a folder")
    refused(cli(*TRAIN_Q, "--log", folder), "--log", str(folder), "is a folder")
    refused(cli(*TRAIN_Q, "--save", folder), "--save", str(folder), "is a folder")
    refused(cli(*TRAIN_Q, "--save", tmp_path / "missing" / "a.npz"), "--save", str(tmp_path / "missing"),
            "does not exist")
    refused(cli(*TRAIN_Q, "--log", file / "log.csv"), "--log", str(file), "is not a folder")
    refused(cli(*TRAIN_Q, "--save", tmp_path / "x", "--log", tmp_path / "x"), "--save and --log both name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]  # nothing written


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_output_path_in_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    refused(cli(*TRAIN_Q, "--save", locked / "a.npz"), "--save", "no permission to write")


def test_plot_path_of_a_format_matplotlib_cannot_write_is_refused_before_training(tmp_path):
    pytest.importorskip("matplotlib")
    refused(cli(*TRAIN_Q, "--plot", tmp_path / "curve.txt"), "--plot", "cannot write .txt files")


def test_demo_out_that_is_a_file_or_holds_a_folder_in_the_way_is_refused(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    refused(cli("demo", "--quick", "--out", file), "--out", str(file), "not a folder")
    (tmp_path / "out" / "shop_dqn.npz").mkdir(parents=True)
    refused(cli("demo", "--quick", "--out", tmp_path / "out"), "--out", "shop_dqn.npz", "is a folder")


@pytest.mark.parametrize("agent, flag, value", [("q", "--lr", "0.1"), ("q", "--hidden", "8"),
                                               ("q", "--batch-size", "4"), ("dqn", "--alpha", "0.1")])
def test_a_flag_for_the_other_learner_is_refused_naming_which_flags_apply(agent, flag, value):
    result = cli("train", "--env", "pricing", "--agent", agent, "--steps", "100", "--no-progress", flag, value)
    refused(result, f"{flag} does not apply to --agent {agent}", "--agent dqn (DQN) takes --lr, --hidden, "
            "--batch-size", "--agent q (Q-learning) takes --alpha", "--gamma applies to both")


def _mislabelled(tmp_path, name, agent, env):
    path = tmp_path / name
    agent.save(path, metadata={"env": env, "agent": "?"})
    return path


def test_an_agent_that_does_not_fit_its_env_is_refused_before_anything_runs(tmp_path):
    from minidqn.dqn import DQNAgent
    from minidqn.tabular import TabularQAgent
    table = _mislabelled(tmp_path, "table.npz", TabularQAgent(12, 5), "pricing")
    features = _mislabelled(tmp_path, "features.npz", DQNAgent(4, 5, hidden=(8,)), "shop")
    one_hot = _mislabelled(tmp_path, "onehot.npz", DQNAgent(12, 5, hidden=(8,), one_hot=True), "pricing")
    refused(cli("evaluate", "--load", table), "does not fit env 'pricing'", "a Q-table of 12 states",
            "the env gives state indices 0..144 (145 states)")
    refused(cli("recommend", "--load", features), "does not fit env 'shop'", "feature vectors of 4 numbers",
            "chooses among 5 actions", "feature vectors of 47 numbers and has 100 actions")
    refused(cli("compare", "--env", "pricing", "--load", one_hot), "does not fit env 'pricing'",
            "one-hot, 12 states", "feature vectors of 4 numbers")


def test_compare_shows_one_row_per_file_labelled_apart(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        result = cli("train", "--env", "pricing", "--agent", "q", "--steps", "200", "--no-progress",
                     "--seed", ord(folder), "--save", tmp_path / folder / "agent.npz")
        assert result.returncode == 0, result.stderr
    result = cli("compare", "--env", "pricing", "--agents", "random", "--episodes", "5",
                 "--load", tmp_path / "a" / "agent.npz", tmp_path / "b" / "agent.npz")
    assert result.returncode == 0, result.stderr
    labels = [" ".join(line.split()[:2]) for line in result.stdout.splitlines()[3:]]
    assert labels[0].startswith("random") and labels[1:] == ["q (a/agent.npz)", "q (b/agent.npz)"]


def test_file_labels_use_as_much_of_the_path_as_tells_files_apart():
    assert report.file_labels(["x/a/agent.npz", "x/b/agent.npz", "c.npz"]) == ["a/agent.npz", "b/agent.npz", "c.npz"]
    assert report.file_labels(["m.npz", "./m.npz", "m.npz"]) == ["m.npz", "m.npz [2]", "m.npz [3]"]


def test_ctrl_c_during_train_saves_what_was_learned_and_exits_130(tmp_path):
    from minidqn.tabular import TabularQAgent
    from minidqn.train import History
    save, log = tmp_path / "agent.npz", tmp_path / "curve.csv"
    env = {**os.environ, "PYTHONPATH": ROOT}
    argv = [sys.executable, "-m", "minidqn", "train", "--env", "tabular-shop", "--agent", "q", "--steps", "10_000_000",
            "--eval-every", "500", "--save", str(save), "--log", str(log)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as p:
        assert "eval at step 500" in p.stderr.readline()  # training has started
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "Traceback" not in err
    assert f"saved the agent as trained so far to {save}" in err
    assert TabularQAgent.load(save).steps >= 500
    if hasattr(History(), "interrupted"):  # train() returns the partial History: the log has it too
        with open(log) as f:
            steps = [int(row["step"]) for row in csv.DictReader(f)]
        assert 500 <= steps[-1] < 10_000_000 and "steps done to" in err
    else:
        assert not log.exists() and "--log: nothing written" in err


def test_output_into_a_closed_pipe_still_writes_the_files_and_exits_quietly(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT}
    for closed in ("stdout", "stderr"):
        save, log = tmp_path / f"{closed}.npz", tmp_path / f"{closed}.csv"
        argv = [sys.executable, "-m", "minidqn", *TRAIN_Q[:-1], "--save", str(save), "--log", str(log)]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as p:
            getattr(p, closed).close()  # the reader went away (`| head -0`)
            other = (p.stderr if closed == "stdout" else p.stdout).read().decode()
            p.wait(timeout=120)
        assert save.exists() and log.exists(), closed
        if closed == "stdout":
            assert p.returncode == 141 and "Error" not in other and "step 200/200" in other
        else:  # only the progress lines were lost
            assert p.returncode == 0 and "trained q on tabular-shop" in other


def test_train_help_shows_the_defaults_and_every_recipe():
    result = cli("train", "--help")
    text = " ".join(result.stdout.split())
    for default in ("default: shop", "default: dqn", "(default: 0)"):
        assert default in text
    for (env, agent), recipe in ex.RECIPES.items():
        assert f"{env}/{agent} {recipe.steps:,} steps" in text
    # the recipes are budgets only (ItemDQNAgent's own defaults hold its settings); one trains in parallel
    assert text.count("the agent's defaults") == len(ex.RECIPES) == 7
    assert "8 shoppers in parallel" in text and "gamma=0.8" not in text


@pytest.mark.parametrize("command, phrase", [("evaluate", "Run a saved agent greedily"),
                                             ("compare", "Baselines and saved agents on the same"),
                                             ("recommend", "Follow one episode")])
def test_every_subcommand_has_a_description(command, phrase):
    assert phrase in " ".join(cli(command, "--help").stdout.split())


def test_recommend_on_pricing_speaks_of_seasons_and_prices_and_explains_the_attribution(capsys, tmp_path):
    agent = tmp_path / "pricing.npz"
    code, _, _ = run(capsys, "train", "--env", "pricing", "--agent", "dqn", "--steps", "300", "--hidden", "8",
                     "--no-progress", "--save", str(agent))
    assert code == 0
    code, out, _ = run(capsys, "recommend", "--load", str(agent), "--k", "2", "--steps", "1", "--explain")
    assert code == 0 and out.startswith("season #7") and "shopper" not in out
    assert "1. price " in out and "sum of all attributions=" in out
    assert "not a decomposition of the advantage" in " ".join(out.split())


def test_a_damaged_checkpoint_is_refused_with_its_name_not_a_traceback(tmp_path):
    from minidqn.tabular import TabularQAgent
    path = tmp_path / "agent.npz"
    TabularQAgent(12, 5).save(path, metadata={"env": "tabular-shop"})
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the last member's entry in the zip's central directory
    data[entry + 10] = 99              # its compression method: one zipfile does not know
    path.write_bytes(bytes(data))
    for command in ("evaluate", "recommend"):
        refused(cli(command, "--load", path), str(path))


def test_train_item_dqn_on_the_shop_then_evaluate_and_recommend_with_it(capsys, tmp_path):
    path = str(tmp_path / "item.npz")
    code, out, _ = run(capsys, "train", "--env", "shop", "--agent", "item-dqn", "--steps", "400", "--num-envs", "2",
                       "--save", path, "--no-progress")
    assert code == 0 and "trained item-dqn on shop: 400 steps" in out
    code, out, _ = run(capsys, "evaluate", "--load", path, "--episodes", "3")
    assert code == 0 and out.startswith("item-dqn on shop, 3 fresh episodes")
    code, out, _ = run(capsys, "recommend", "--load", path, "--explain")
    assert code == 0 and "Q=" in out
    with pytest.raises(SystemExit) as e:
        run(capsys, "train", "--env", "pricing", "--agent", "item-dqn", "--steps", "10")
    assert e.value.code == 2 and "features: --env shop" in capsys.readouterr().err


def test_compare_cold_start_puts_saved_agents_on_new_catalogues(capsys, tmp_path):
    item, dqn = str(tmp_path / "item.npz"), str(tmp_path / "dqn.npz")
    for agent, path in (("item-dqn", item), ("dqn", dqn)):
        code, _, _ = run(capsys, "train", "--env", "shop", "--agent", agent, "--steps", "300", "--num-envs", "2",
                         "--save", path, "--no-progress")
        assert code == 0
    code, out, _ = run(capsys, "compare", "--cold-start", "--agents", "random,greedy", "--load", item, dqn,
                       "--episodes", "4")
    assert code == 0 and out.startswith("Cold start: revenue per session on 4 fresh shoppers")
    table = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[1:6]]
    assert table[0] == ["catalogue", "myopic oracle", "random", "item-dqn (item.npz)", "dqn (dqn.npz)"]
    rows = {cells[0]: cells[1:] for cells in table[2:]}
    assert list(rows) == ["training (100 products)", "100 new products", "1,000 new products"]
    for cells in rows.values():  # each agent's ratio is its revenue over the oracle's, as printed
        oracle = float(cells[0])
        for cell in cells[1:]:
            if cell != "cannot score them":
                revenue, ratio = cell.split()
                assert abs(float(revenue) / oracle - float(ratio.strip("()x"))) <= 0.006
    assert rows["100 new products"][3].endswith("x)")       # the DQN run by id: 100 outputs, 100 products
    assert rows["1,000 new products"][3] == "cannot score them"
    assert rows["1,000 new products"][2].endswith("x)")     # the item DQN scores all 1,000


def test_compare_cold_start_is_for_the_shop_and_its_baselines(capsys):
    for argv, message in ((["--env", "pricing"], "--cold-start compares catalogues of --env shop"),
                          (["--agents", "oracle"], "the cold start compares ('random', 'popularity', 'greedy')")):
        with pytest.raises(SystemExit) as e:
            main(["compare", "--cold-start", "--episodes", "2", *argv])
        assert e.value.code == 2 and message in capsys.readouterr().err
