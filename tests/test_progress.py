"""Progress display: labelled lines, and a stream whose reader went away."""
import io

from minidqn import experiments as ex
from minidqn.progress import Labelled
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
