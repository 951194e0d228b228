"""Progress display for the training loop: one line updated in place, or plain periodic lines.

Only presentation lives here (``train.py`` owns the loop and what is recorded): a line of steps,
steps per second, ε, the recent mean return and the recent loss, written to a text stream. A
``Labelled`` stream prefixes each line with the run's name (the demo trains five runs in a row).
A stream whose reader has gone (``BrokenPipeError``) turns the display off; training goes on.
"""
from __future__ import annotations

import numbers
import sys
import time

import numpy as np

RECENT = 50  # episodes in the "recent mean return" of the progress line


def epsilon_of(agent, step):
    """The agent's current ε for display, whether an attribute, a method or a schedule; or None."""
    eps = getattr(agent, "epsilon", None)
    if callable(eps):
        try:
            eps = eps()
        except TypeError:  # a schedule of the step count, stored as given
            try:
                eps = eps(step)
            except (TypeError, ValueError):
                return None
    return float(eps) if isinstance(eps, numbers.Real) else None


class Labelled:
    """A text stream (stderr unless given) for ``train(progress=Labelled("shop/dqn"))``: every
    progress line starts with ``label``, so lines of several runs can be told apart."""

    def __init__(self, label: str, stream=None):
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {label!r}")
        self.progress_label = label
        self.stream = sys.stderr if stream is None else stream

    def write(self, text):
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return callable(getattr(self.stream, "isatty", None)) and self.stream.isatty()


class Progress:
    """One line rewritten in place on a TTY (at most ~10 times a second); otherwise a plain line
    every tenth of the run; nothing when off. Lines start with ``"<label>: "`` when the stream
    is ``Labelled``."""

    def __init__(self, progress, total):
        if progress is True:
            stream = sys.stderr
        elif progress is False or progress is None:
            stream = None
        elif callable(getattr(progress, "write", None)):
            stream = progress
        else:
            raise TypeError(f"progress must be a bool or a text stream, got {progress!r}")
        self.stream, self.total = stream, total
        self.tty = stream is not None and callable(getattr(stream, "isatty", None)) and stream.isatty()
        self.every = 100 if self.tty else -(-total // 10)
        self.next_step = total + 1 if stream is None else min(self.every, total)
        self.start = self.last_write = time.perf_counter()
        self.width = 0
        label = getattr(stream, "progress_label", None)
        self.prefix = f"{label}: " if label else ""

    def _write(self, text, newline):
        text = self.prefix + text
        try:
            if self.tty:
                self.stream.write("\r" + text.ljust(self.width) + ("\n" if newline else ""))
                self.width = 0 if newline else len(text)
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except BrokenPipeError:  # nobody reads the lines any more (`| head`): stop writing them
            self.stream, self.next_step = None, self.total + 1

    def update(self, t, history, agent):
        if self.stream is None:
            return
        self.next_step = min(t + self.every, self.total)
        now = time.perf_counter()
        if self.tty and t < self.total and now - self.last_write < 0.1:
            return
        self.last_write = now
        parts = [f"step {t:,}/{self.total:,}", f"{t / max(now - self.start, 1e-9):,.0f} steps/s"]
        eps = epsilon_of(agent, t)
        if eps is not None:
            parts.append(f"eps {eps:.3f}")
        if history.episode_returns:
            n = min(len(history.episode_returns), RECENT)
            parts.append(f"return {history.recent_return():.3f} (last {n} episodes)")
        if history.losses:
            parts.append(f"loss {np.mean(history.losses[-100:]):.4g}")
        self._write(" | ".join(parts), newline=False)
        if t >= self.total:
            self.next_step = self.total + 1

    def message(self, text):
        if self.stream is not None:
            self._write(text, newline=True)

    def close(self):
        if self.stream is not None and self.tty:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except BrokenPipeError:
                self.stream = None
