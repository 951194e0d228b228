"""History: one row per episode and per evaluation, losses counted once, CSV round trip."""
import csv

import numpy as np

from minidqn.history import History


def recorded():
    """Episodes end at steps 3, 5, 5 and 9 (two copies of a vector env end together at 5);
    evaluations at 5 and 8; losses 1..9 at steps 1..9."""
    return History(episode_ends=[3, 5, 5, 9], episode_returns=[6.0, 4.0, 7.0, 1.0],
                   episode_lengths=[3, 2, 5, 4], episode_truncated=[False, True, False, False],
                   episode_epsilons=[0.5, 0.4, 0.4, None],
                   loss_steps=list(range(1, 10)), losses=[float(i) for i in range(1, 10)],
                   evals=[(5, {"mean_return": 2.5, "episodes": 4}), (8, {"mean_return": 3.0, "episodes": 4})],
                   total_steps=9)


def test_every_episode_gets_its_row_even_when_two_end_on_the_same_step():
    rows = recorded().to_rows()
    episodes = [r for r in rows if r["episode"] is not None]
    assert [r["episode"] for r in episodes] == [1, 2, 3, 4]
    assert [r["return"] for r in episodes] == [6.0, 4.0, 7.0, 1.0]
    assert [r["step"] for r in rows] == [3, 5, 5, 5, 8, 9]


def test_evaluations_have_rows_of_their_own_after_the_episodes_of_their_step():
    rows = recorded().to_rows()
    evals = [r for r in rows if r["episode"] is None]
    assert [(r["step"], r["eval_mean_return"]) for r in evals] == [(5, 2.5), (8, 3.0)]
    assert rows[3]["episode"] is None and rows[3]["return"] is None
    assert rows[0]["eval_mean_return"] is None


def test_each_loss_counts_in_exactly_one_row():
    rows = recorded().to_rows()
    # windows: (0,3] -> 1,2,3; (3,5] -> 4,5; the other rows at 5 get none; (5,8] -> 6,7,8; (8,9] -> 9
    assert [r["loss"] for r in rows] == [2.0, 4.5, None, None, 7.0, 9.0]


def test_csv_has_a_header_and_one_line_per_row(tmp_path):
    h = recorded()
    h.write_csv(tmp_path / "h.csv")
    with open(tmp_path / "h.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == list(History.BASE_COLUMNS) + ["eval_mean_return", "eval_episodes"]
    assert len(table) == 6 and table[2]["episode"] == "3" and table[3]["episode"] == ""
    assert table[1]["truncated"] == "True" and table[3]["eval_episodes"] == "4"


def test_recent_return_and_rate():
    h = recorded()
    assert h.recent_return(2) == 4.0 and History().recent_return() is None
    h.wall_time = 3.0
    assert h.steps_per_second == 3.0 and np.isnan(History().steps_per_second)
