"""The command line with ``--env slate-shop``: train SlateQ, evaluate and compare it, refusals."""
import pytest

from minidqn.__main__ import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_slateq_then_evaluate_and_compare_with_the_slate_baselines(capsys, tmp_path):
    agent = tmp_path / "slateq.npz"
    code, out, _ = run(capsys, "train", "--env", "slate-shop", "--agent", "slateq", "--steps", "1500",
                       "--no-progress", "--save", str(agent))
    assert code == 0 and "trained slateq on slate-shop" in out and agent.exists()
    code, out, _ = run(capsys, "evaluate", "--load", str(agent), "--episodes", "5")
    assert code == 0 and "slateq on slate-shop, 5 fresh episodes" in out
    code, out, _ = run(capsys, "compare", "--env", "slate-shop", "--load", str(agent), "--episodes", "5")
    assert code == 0 and all(name in out for name in ("random", "popularity", "greedy", "slateq (slateq.npz)"))
    with pytest.raises(SystemExit) as e:
        main(["recommend", "--load", str(agent)])
    assert e.value.code == 2 and "shows pages" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--env", "slate-shop", "--agent", "dqn", "--steps", "10"], "pages of products need --agent slateq"),
    (["train", "--env", "shop", "--agent", "slateq", "--steps", "10"], "SlateQ shows pages of products"),
    (["compare", "--env", "slate-shop", "--agents", "oracle"], "the oracle needs an exact model"),
])
def test_slate_mismatches_are_refused_with_a_message(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err
