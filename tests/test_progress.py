"""Progress display: plain and TTY lines, labelled lines, ε found wherever the agent keeps it, a stream whose reader went away."""
import io

from doubles import FakeTTY, RecordingAgent, ScriptedEnv
from minidqn import experiments as ex
from minidqn.envs.tabular_shop import TabularShop
from minidqn.progress import Labelled, epsilon_of
from minidqn.schedules import LinearSchedule
from minidqn.tabular import TabularQAgent
from minidqn.train import train


def _run(progress, steps=100):
    env = ex.make_env("pricing", seed=0, agent="q")
    return train(ex.make_agent("q", env), env, steps, progress=progress)


def test_labelled_progress_lines_start_with_the_run_name():
    stream = io.StringIO()
    _run(Labelled("pricing/q", stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and all(line.startswith("pricing/q: step ") for line in lines)


class ClosedPipe(io.StringIO):
    def write(self, text):
        self.writes = getattr(self, "writes", 0) + 1
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_progress_stream_stops_the_display_not_the_training():
    stream = ClosedPipe()
    history = _run(stream, steps=1_000)
    assert history.total_steps == 1_000 and stream.writes == 1


def test_no_progress_output_when_off(capsys):
    train(RecordingAgent(), ScriptedEnv(), 50, progress=False)
    assert capsys.readouterr() == ("", "")


def test_progress_goes_to_stderr_by_default(capsys):
    train(RecordingAgent(), ScriptedEnv(), 50)
    out, err = capsys.readouterr()
    assert out == "" and "step 50/50" in err


def test_plain_progress_prints_about_ten_lines_with_rate_epsilon_and_return():
    stream = io.StringIO()
    agent = TabularQAgent.for_env(TabularShop(), epsilon=LinearSchedule(1.0, 0.1, 1000))
    train(agent, TabularShop(seed=0), 1000, progress=stream, eval_env=TabularShop(), eval_every=500,
          eval_episodes=3)
    lines = stream.getvalue().splitlines()
    steps = [line for line in lines if line.startswith("step ")]
    assert len(steps) == 10 and "\r" not in stream.getvalue()
    assert steps[-1].startswith("step 1,000/1,000") and "eps 0.100" in steps[-1]
    assert all("steps/s" in line and "return" in line and "loss" in line for line in steps[1:])
    assert sum(line.startswith("eval at step") for line in lines) == 2


def test_tty_progress_rewrites_one_line_and_ends_it():
    stream = FakeTTY()
    train(RecordingAgent(), ScriptedEnv(), 300, progress=stream)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    assert "step 300/300" in text.split("\r")[-1] and "eps 0.250" in text


def test_epsilon_is_found_as_attribute_method_or_schedule():
    class Method:
        def epsilon(self):
            return 0.3

    class Schedule:
        epsilon = LinearSchedule(1.0, 0.0, 10)

    class Nothing:
        pass
    assert epsilon_of(Method(), 0) == 0.3
    assert epsilon_of(Schedule(), 5) == 0.5
    assert epsilon_of(Nothing(), 5) is None
