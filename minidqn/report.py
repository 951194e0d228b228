"""Presenting results: metric tables with standard errors, a shopper's visit, learning-curve plots.

Text only, except ``plot_curves``, which uses matplotlib when it is installed (the optional extra
``pip install 'minidqn[plot]'``) and says so clearly when it is not. Nothing here trains or
evaluates; it formats what ``train``/``evaluate`` returned.
"""
from __future__ import annotations

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


def show_visit(agent, env, k: int = 5, seed: int = 7, steps: int = 5, explain_first: bool = False) -> str:
    """Follow one shopper for up to ``steps`` recommendations: the agent's ranked top-``k`` with
    Q-values, and what the shopper did with the product shown (the top one)."""
    obs, info = env.reset(seed=seed)
    mask = info.get("action_mask")
    lines = [f"shopper #{seed}"]
    for t in range(steps):
        top = agent.recommend(obs, k, action_mask=mask) if mask is not None else agent.recommend(obs, k)
        q = agent.q_values(obs)
        lines.append(f"step {t + 1}: top {k} by Q")
        for rank, a in enumerate(top, 1):
            lines.append(f"  {rank}. {_describe(env, int(a))}  Q={q[a]:.3f}")
        if explain_first and t == 0:
            names = getattr(env, "feature_names", None)
            for e in explain(agent, obs, k=min(k, 3), action_mask=mask, feature_names=names):
                lines.append("  " + str(e).replace("\n", "\n  "))
        obs, reward, terminated, truncated, info = env.step(int(top[0]))
        mask = info.get("action_mask")
        events = [e for e in ("clicked", "purchased", "left") if info.get(e)]
        lines.append(f"  shown #{int(top[0])}: {', '.join(events) or 'ignored'}; reward {reward:.2f}")
        if terminated or truncated:
            lines.append("  the visit ended" if terminated else "  the visit reached its time limit")
            break
    return "\n".join(lines)


def _describe(env, a: int) -> str:
    if hasattr(env, "price") and hasattr(env, "category"):
        return (f"product {a:3d} (category {int(env.category[a])}, price {env.price[a]:.2f}, "
                f"quality {env.quality[a]:.2f}, appeal {env.appeal[a]:.2f})")
    names = getattr(env, "product_names", None)
    return f"action {a}" if names is None else f"{names[a]}"


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


def plot_curves(histories: dict, baselines: dict, path: str, window: int = 200) -> None:
    """Episode return against steps (moving average over ``window`` episodes) for each
    ``name -> History``, with ``name -> value`` baselines as horizontal lines; saved to ``path``."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, h in histories.items():
        returns = np.asarray(h.episode_returns, float)
        if returns.size == 0:
            continue
        w = max(1, min(window, returns.size // 5 or 1))
        smooth = np.convolve(returns, np.ones(w) / w, mode="valid")
        ax.plot(np.asarray(h.episode_ends)[w - 1:], smooth, label=f"{name} (mean of {w} episodes)")
    for name, value in baselines.items():
        ax.axhline(value, linestyle="--", linewidth=1, label=name, color="gray")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
