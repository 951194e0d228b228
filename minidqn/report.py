"""Presenting results: metric tables with standard errors, a shopper's visit, learning-curve plots.

Text only, except ``plot_curves``, which uses matplotlib when it is installed (the optional extra
``pip install 'minidqn[plot]'``) and says so clearly when it is not. Nothing here trains or
evaluates; it formats what ``train``/``evaluate`` returned.
"""
from __future__ import annotations

import os
import textwrap

import numpy as np

from .explain import explain

COLUMNS = (("mean_return", "return"), ("revenue_per_session", "revenue/session"),
           ("mean_length", "length"), ("click_rate", "click rate"), ("conversion_rate", "conversion"),
           ("categories_per_session", "categories/visit"), ("coverage", "coverage"))


def _cell(metrics: dict, key: str) -> str:
    if key not in metrics:
        return "-"
    se = metrics.get(key + "_se", float("nan"))
    return f"{metrics[key]:.3f}" + ("" if not np.isfinite(se) else f" ± {se:.3f}")


def text_table(headers: list, rows: list) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for j, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def metrics_table(results: dict) -> str:
    """One row per agent (``name -> evaluate() metrics``), the columns any of them has."""
    columns = [(k, label) for k, label in COLUMNS if any(k in m for m in results.values())]
    rows = [[name] + [_cell(m, k) for k, _ in columns] for name, m in results.items()]
    return text_table(["agent"] + [label for _, label in columns], rows)


def format_metrics(metrics: dict) -> str:
    return metrics_table({"evaluation": metrics})


def exact_table(values: dict, optimal: float) -> str:
    """Rows ``name -> exact value``, with each value's share of ``optimal``."""
    rows = [[name, f"{v:.2f}", f"{v / optimal:.1%}"] for name, v in values.items()]
    return text_table(["policy", "exact value", "share of optimum"], rows)


def file_labels(paths: list) -> list:
    """A short label per path, for table rows: the file name, with as many parent folders as it
    takes to tell apart files of the same name; a path given twice gets `` [2]``, `` [3]``..."""
    parts = [os.path.abspath(str(p)).split(os.sep) for p in paths]
    labels = []
    for p in parts:
        k = 1
        while k < len(p) and any(q != p and q[-k:] == p[-k:] for q in parts):
            k += 1
        labels.append("/".join(p[-k:]))
    counts: dict = {}
    for i, label in enumerate(labels):
        counts[label] = counts.get(label, 0) + 1
        if counts[label] > 1:
            labels[i] = f"{label} [{counts[label]}]"
    return labels


# What one episode of each env is called, and what its actions are: a shopper's visit in the
# shops, a season in dynamic pricing; anything else is an episode.
NOUNS = {"ShopEnv": "shopper", "TabularShop": "shopper", "PricingEnv": "season"}


def show_visit(agent, env, k: int = 5, seed: int = 7, steps: int = 5, explain_first: bool = False) -> str:
    """Follow one episode for up to ``steps`` steps (a shopper's visit, a pricing season): the
    agent's ranked top-``k`` with Q-values, and what came of the action taken (the top one)."""
    obs, info = env.reset(seed=seed)
    mask = info.get("action_mask")
    lines = [f"{NOUNS.get(type(env).__name__, 'episode')} #{seed}"]
    for t in range(steps):
        top = agent.recommend(obs, k, action_mask=mask) if mask is not None else agent.recommend(obs, k)
        q = agent.q_values(obs)
        lines.append(f"step {t + 1}: top {len(top)} by Q")
        for rank, a in enumerate(top, 1):
            lines.append(f"  {rank}. {_describe(env, int(a))}  Q={q[a]:.3f}")
        if explain_first and t == 0:
            lines += ["  " + line for line in explain_lines(agent, env, obs, min(k, 3), mask)]
        obs, reward, terminated, truncated, info = env.step(int(top[0]))
        mask = info.get("action_mask")
        lines.append(f"  {_outcome(env, int(top[0]), info)}; reward {reward:.2f}")
        if terminated or truncated:
            lines.append("  the episode ended" if terminated else "  the episode reached its time limit")
            break
    return "\n".join(lines)


ATTRIBUTION_NOTE = ("attribution = feature value x dQ(s,a)/d feature (gradient x input): a first-order, "
                    "local attribution of the Q-value itself, not a decomposition of the advantage; the "
                    "attributions of all features need not add up to Q (what the network's biases and "
                    "curvature contribute is attributed to no feature).")


def explain_lines(agent, env, obs, k: int, mask=None) -> list:
    """``explain``'s top-``k`` as text; for a Q-network, with the sum of every feature's
    attribution next to Q and the advantage, and a note on how they relate."""
    from .explain import input_gradients
    names = getattr(env, "feature_names", None)
    if names is not None and hasattr(agent, "d_item"):  # an ItemDQNAgent: the product's features too
        names = list(names) + list(env.item_feature_names)
    explanations = explain(agent, obs, k=k, action_mask=mask, feature_names=names)
    network = hasattr(agent, "online")
    if network:
        x, grads = input_gradients(agent, obs, [e.action for e in explanations])
        sums = (grads * x).sum(axis=1)
    lines = []
    for i, e in enumerate(explanations):
        text = str(e).split("\n")
        if network:
            text[0] += f"  sum of all attributions={sums[i]:+.3f}"
        lines += text
    if network:
        lines += textwrap.wrap(ATTRIBUTION_NOTE, 96)
    return lines


def _describe(env, a: int) -> str:
    if hasattr(env, "price") and hasattr(env, "category"):
        return (f"product {a:3d} (category {int(env.category[a])}, price {env.price[a]:.2f}, "
                f"quality {env.quality[a]:.2f}, appeal {env.appeal[a]:.2f})")
    if type(env).__name__ == "PricingEnv":
        return f"price {env.prices[a]:g}"
    if type(env).__name__ == "TabularShop":
        from .envs.tabular_shop import PRICES, PRODUCTS
        return f"{PRODUCTS[a]} (price {PRICES[a]:g})"
    names = getattr(env, "product_names", None)
    return f"action {a}" if names is None else f"{names[a]}"


def _outcome(env, a: int, info: dict) -> str:
    if type(env).__name__ == "PricingEnv":
        return f"priced at {env.prices[a]:g}: sold {int(info.get('sold', 0))} of a demand of {int(info.get('demand', 0))}"
    events = [e for e in ("clicked", "purchased", "left") if info.get(e)]
    shown = f"#{a}" if hasattr(env, "category") else _describe(env, a)
    return f"shown {shown}: {', '.join(events) or 'ignored'}"


def require_matplotlib():
    """``matplotlib.pyplot`` (headless), or an ``ImportError`` naming the extra to install."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib, an optional extra: pip install 'minidqn[plot]' "
                          "(the CSV log works without it)") from None
    return plt


def check_plot_path(flag: str, path: str) -> None:
    """Before any work: matplotlib is there and can write ``path``'s format (by its extension)."""
    plt = require_matplotlib()
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if ext and ext not in formats:
        raise ValueError(f"{flag} {path}: matplotlib cannot write .{ext} files; use one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")


def plot_curves(panels: dict, path: str, references: dict | None = None, window: int = 200) -> None:
    """Episode return against steps (moving average over ``window`` episodes), one panel per
    problem: ``panels`` is ``title -> {run name -> History}``; ``references`` is
    ``title -> {name -> value}``, drawn as dashed horizontal lines in that panel. Each panel has
    its own y axis (returns of ~30 and ~300 do not share one). Saved to ``path``."""
    plt = require_matplotlib()
    references = references or {}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (title, histories) in zip(axes[0], panels.items()):
        for name, h in histories.items():
            returns = np.asarray(h.episode_returns, float)
            if returns.size == 0:
                continue
            w = max(1, min(window, returns.size // 5 or 1))
            smooth = np.convolve(returns, np.ones(w) / w, mode="valid")
            ax.plot(np.asarray(h.episode_ends)[w - 1:], smooth, label=f"{name} (mean of {w} episodes)")
        for name, value in references.get(title, {}).items():
            ax.axhline(value, linestyle="--", linewidth=1, label=name, color="gray")
        ax.set_title(title)
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
