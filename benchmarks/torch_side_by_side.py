"""minidqn's DQN update against the same update written in PyTorch: step by step, then over training.

Two questions, two subcommands:

``check``: is minidqn's update the textbook one? A PyTorch Q-network gets minidqn's exact initial
weights; both learners take the SAME batches (the indices minidqn's own replay samples) for
``--updates`` updates in float64, and the script prints the largest relative differences of the
loss, the gradient norm before clipping and the parameters. Agreement to ~1e-10 means the two
updates are the same function; the check runs on stored shop transitions for a few configurations
(defaults, plain DQN, MSE, clipping active, soft target, no reward scale). One more row shows what
the automatic reward scale ``1/M`` (``M = max |r|``) is: raw rewards into a network whose output is
multiplied by ``M`` (Huber's delta ``M``) follow exactly the same parameters, because Adam does
not see a constant factor on the gradient. So in reward units every Adam step moves Q ``M`` times
as far as in a network trained on raw rewards.

``train``: where does the overestimation come from? Full training runs on ``ShopEnv`` (single env,
``DQNAgent``'s defaults otherwise) of variants that each switch one of minidqn's differences from a
plain PyTorch DQN. Every variant runs in the same loop with the same acting, replay, ε schedule and
masks (``TorchDQN`` is a ``DQNAgent`` whose network and ``train_step`` are PyTorch's), so only
the named difference changes. Variants named ``m_...`` switch the same things on ``DQNAgent``
itself (faster; the check shows the updates are one function). Logged over training: ``Q(s0)``, the mean over fresh shoppers of
``max_a Q(s0, a)`` in reward units, and at the evaluation points the true value of the greedy
policy (mean discounted return from the start over ``--eval-shoppers`` shoppers) and its revenue
per session. Prints, per variant, medians over seeds (and the range).

The README's figures from ``train`` were taken before ``DQNConfig``'s defaults changed (issue 11):
at ``gamma=0.99, lr=1e-3, train_freq=1``, a hard copy every 500 updates; ``train`` now starts
from the new defaults, so its rows differ.

PyTorch is never a dependency of minidqn: this script runs only where ``torch`` is importable and
exits 0 with a message otherwise. E.g. from the repository root, in a venv with torch::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/torch_side_by_side.py check
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/torch_side_by_side.py train \
        --variants minidqn torch_plain --seeds 0 1 2 --steps 50000 --out runs.jsonl
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np

from _timing import print_table  # the benchmarks' table (importing it also sets one BLAS thread)
from minidqn.dqn import DQNAgent
from minidqn.envs.shop import ShopEnv
from minidqn.losses import huber



# ---------------------------------------------------------------------------------------------- networks
def torch_mlp(torch, sizes, dtype, init_params=None, seed=0):
    """``nn.Sequential`` of Linear/ReLU for ``sizes``; ``init_params`` (minidqn's flat vector, laid
    out ``W_0 (in, out), b_0, W_1, b_1, ...``) copies minidqn's weights, else PyTorch's default
    init (Kaiming-uniform with a = sqrt(5), bias U(±1/sqrt(fan_in))) seeded with ``seed``."""
    nn = torch.nn
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    if init_params is not None:
        load_flat(torch, net, init_params)
    return net


def linears(net):
    return [m for m in net if hasattr(m, "weight")]


def load_flat(torch, net, flat) -> None:
    """Write minidqn's flat parameter layout into ``net`` (PyTorch's weight is ``W.T``)."""
    offset = 0
    with torch.no_grad():
        for lin in linears(net):
            out_f, in_f = lin.weight.shape
            W = flat[offset:offset + in_f * out_f].reshape(in_f, out_f)
            b = flat[offset + in_f * out_f:offset + (in_f + 1) * out_f]
            lin.weight.copy_(torch.as_tensor(np.ascontiguousarray(W.T)))
            lin.bias.copy_(torch.as_tensor(np.array(b)))
            offset += (in_f + 1) * out_f


def flat_of(net, which="data") -> np.ndarray:
    """``net``'s parameters (``which="data"``) or gradients (``"grad"``) in minidqn's flat layout."""
    parts = []
    for lin in linears(net):
        W, b = (lin.weight, lin.bias) if which == "data" else (lin.weight.grad, lin.bias.grad)
        parts += [W.detach().numpy().T.reshape(-1), b.detach().numpy().reshape(-1)]
    return np.concatenate(parts)


# ---------------------------------------------------------------------------------------------- the PyTorch learner
class TorchDQN(DQNAgent):
    """A ``DQNAgent`` whose Q-network, optimizer and update are PyTorch's: acting, replay, the ε
    schedule, the train schedule and the reward scale's rule are minidqn's own code, so a run
    differs from minidqn's only in the update and in the switches below.

    ``init``: ``"he"`` (minidqn's initial weights, copied) or ``"torch"`` (PyTorch's default).
    ``delta_raw``: Huber's delta in reward units; ``None`` is delta 1 in the learner's (scaled)
    units, as minidqn does; ``"max_r"`` is delta = max |r| at the first update (= 1 / the
    automatic scale). ``adam_eps``: PyTorch Adam's eps. ``target_masks``: the target's argmax
    over allowed actions only (minidqn) or over all actions. ``torch_clip``: PyTorch's
    ``clip_grad_norm_``, which scales by ``max_norm / (norm + 1e-6)``, or (False) the textbook
    ``max_norm / norm`` that minidqn uses; the two differ by 1e-6 / norm in every clipped step.
    ``out_mult``: Q is the network's output times this (1 for a plain network).
    """

    def __init__(self, obs_dim, n_actions, torch, init="he", delta_raw=None, adam_eps=1e-8, target_masks=True,
                 torch_clip=True, out_mult=1.0, **hyperparameters):
        super().__init__(obs_dim, n_actions, **hyperparameters)
        cfg = self.config
        self.torch = torch
        self.tdtype = torch.float64 if cfg.dtype == np.float64 else torch.float32
        sizes = [obs_dim, *cfg.hidden, n_actions]
        seed = int(self.rng.integers(2**31)) if init == "torch" else 0
        self.q_net = torch_mlp(torch, sizes, self.tdtype, self.online.params if init == "he" else None, seed)
        self.q_target = torch_mlp(torch, sizes, self.tdtype)
        self.q_target.load_state_dict(self.q_net.state_dict())
        self.opt = torch.optim.Adam(self.q_net.parameters(), lr=cfg.lr, eps=adam_eps)
        self.delta_raw, self.target_masks, self.torch_clip = delta_raw, target_masks, torch_clip
        self.out_mult = out_mult
        self.n_updates = 0
        self.last_norm = None

    @property
    def updates(self) -> int:
        return self.n_updates

    def _finite_q(self, x):
        with self.torch.no_grad():
            return (self.q_net(self.torch.from_numpy(x)) * self.out_mult).numpy()

    def huber_delta(self) -> float:
        if self.delta_raw is None:
            return 1.0
        if self.delta_raw == "max_r":           # max |r| stored at the first update, then fixed
            self.delta_raw = float(np.max(np.abs(self.buffer.rewards[:self.buffer.size])))
        return self.delta_raw * self.reward_scale  # in the learner's units

    def train_step(self, idx=None) -> float:
        """The textbook Double-DQN step (CleanRL's shape); ``idx`` replaces the sampled indices."""
        torch, F, cfg, buf = self.torch, self.torch.nn.functional, self.config, self.buffer
        if idx is None:
            idx = buf.sample_indices(cfg.batch_size)
        if self._reward_scale is None:
            self._fix_reward_scale()
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        obs, act, rew, next_obs, done = (t(a) for a in buf.batch(idx))
        next_mask, discount = t(buf.next_action_mask[idx]), t(buf.discounts[idx])
        with torch.no_grad():
            next_q_target = self.q_target(next_obs) * self.out_mult
            chooser = self.q_net(next_obs) * self.out_mult if cfg.double else next_q_target
            if self.target_masks:
                chooser = chooser.masked_fill(~next_mask, -math.inf)
            next_a = chooser.argmax(dim=1, keepdim=True)
            next_q = next_q_target.gather(1, next_a).squeeze(1)
            y = (rew * self.reward_scale).to(self.tdtype) + discount * torch.where(done, 0.0, next_q)
        q = (self.q_net(obs) * self.out_mult).gather(1, act.unsqueeze(1)).squeeze(1)
        loss = F.huber_loss(q, y, delta=self.huber_delta()) if cfg.loss == "huber" else F.mse_loss(q, y)
        self.opt.zero_grad()
        loss.backward()
        max_norm = cfg.max_grad_norm or math.inf
        if self.torch_clip:
            self.last_norm = float(torch.nn.utils.clip_grad_norm_(self.q_net.parameters(), max_norm))
        else:                                   # measure only, then scale by max_norm / norm exactly
            self.last_norm = float(torch.nn.utils.clip_grad_norm_(self.q_net.parameters(), math.inf))
            if self.last_norm > max_norm:
                for p in self.q_net.parameters():
                    p.grad.mul_(max_norm / self.last_norm)
        self.opt.step()
        self.n_updates += 1
        if cfg.tau is not None:
            with torch.no_grad():
                for p_t, p in zip(self.q_target.parameters(), self.q_net.parameters()):
                    p_t.add_(cfg.tau * (p - p_t))
        elif self.n_updates % cfg.target_update == 0:
            self.q_target.load_state_dict(self.q_net.state_dict())
        return loss.item()


# ---------------------------------------------------------------------------------------------- check
CHECK_CONFIGS = {
    "defaults": {},
    "plain DQN": {"double": False},
    "mse": {"loss": "mse"},
    # PyTorch scales by max_norm / (norm + 1e-6): a 1e-6 relative difference in every clipped
    # step, which training amplifies (expected to differ; the exact clip below agrees).
    "clipping on, PyTorch's clip": {"max_grad_norm": 0.05, "expect_differ": True},
    "clipping on, exact clip": {"max_grad_norm": 0.05, "torch_clip": False},
    "soft target": {"tau": 0.01},
    "no reward scale": {"reward_scale": 1.0},
    # Raw rewards into a network whose output is multiplied by M = max |r|, with Huber's delta M:
    # the loss is then M^2 times minidqn's (so are the gradients, hence the clip at 10 M^2 and
    # Adam's eps M^2 1e-8), and as Adam is blind to a constant gradient scale the parameters
    # follow minidqn's defaults exactly: the reward scale 1/M is an output multiplier M.
    "raw r, Q = M net, delta M (vs defaults)": {"as_scaled": True},
}


def shop_transitions(n, seed=0):
    """``n`` transitions of a uniformly random recommender on ``ShopEnv`` (with next masks)."""
    env, rng = ShopEnv(seed=seed), np.random.default_rng(seed)
    obs, info = env.reset()
    rows = []
    for _ in range(n):
        allowed = np.flatnonzero(info["action_mask"])
        a = int(allowed[rng.integers(allowed.size)])
        next_obs, r, term, trunc, info = env.step(a)
        rows.append((obs, a, r, next_obs, term, info["action_mask"]))
        obs = next_obs
        if term or trunc:
            obs, info = env.reset()
    return [np.array(c) for c in zip(*rows)]


def check(torch, updates: int, n_stored: int = 5000) -> bool:
    """Both updates on the same batches, float64; prints and returns whether they agree to 1e-8."""
    import minidqn.dqn as dqn_module
    obs, act, rew, next_obs, term, mask = shop_transitions(n_stored)
    print(f"{updates} updates on the same batches of {n_stored} stored shop transitions, float64; "
          "largest relative difference minidqn vs PyTorch over the updates:")
    rows, ok = [], True
    clip = dqn_module.clip_grad_norm
    for name, kw in CHECK_CONFIGS.items():
        kw = {"dtype": np.float64, "learning_starts": 10**9, "seed": 3, **kw}
        torch_clip, as_scaled = kw.pop("torch_clip", True), kw.pop("as_scaled", False)
        expect_differ = kw.pop("expect_differ", False)
        ours = DQNAgent(obs.shape[1], 100, **kw)
        M = float(np.abs(rew).max())
        k = M * M if as_scaled else 1.0   # PyTorch's loss and gradients are k times minidqn's
        extra = dict(reward_scale=1.0, out_mult=M, delta_raw=M, adam_eps=k * 1e-8,
                     max_grad_norm=k * ours.config.max_grad_norm) if as_scaled else {}
        theirs = TorchDQN(obs.shape[1], 100, torch, torch_clip=torch_clip, **{**kw, **extra})  # same weights
        for agent in (ours, theirs):
            agent.observe(obs, act, rew, next_obs, term, next_action_mask=mask)
        norms = []
        dqn_module.clip_grad_norm = lambda g, m: norms.append(clip(g, m)) or norms[-1]  # spy on the norm
        worst = {"loss": 0.0, "grad norm": 0.0, "params": 0.0}
        try:
            for _ in range(updates):
                state = ours.buffer.rng.bit_generator.state
                idx = ours.buffer.sample_indices(ours.config.batch_size)
                ours.buffer.rng.bit_generator.state = state            # train_step draws the same idx
                loss_m = ours.train_step()
                loss_t = theirs.train_step(idx)
                rel = lambda a, b: float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))  # noqa: E731
                worst["loss"] = max(worst["loss"], rel(k * loss_m, loss_t))
                worst["grad norm"] = max(worst["grad norm"], rel(k * norms[-1], theirs.last_norm))
                worst["params"] = max(worst["params"], rel(ours.online.params, flat_of(theirs.q_net)),
                                      rel(ours.target.params, flat_of(theirs.q_target)))
        finally:
            dqn_module.clip_grad_norm = clip
        agree = max(worst.values()) < 1e-8
        ok &= agree or expect_differ
        clipped = sum(n > (ours.config.max_grad_norm or math.inf) for n in norms)
        rows.append([name, f"{worst['loss']:.1e}", f"{worst['grad norm']:.1e}", f"{worst['params']:.1e}",
                     f"{clipped}/{updates}", "agree" if agree else "differ (expected)" if expect_differ
                     else "DIFFER"])
    print_table(["config", "loss", "grad norm", "params", "clipped", ""], rows)
    return ok


# ---------------------------------------------------------------------------------------------- train
# name -> (implementation, keyword arguments): DQNConfig's fields, and the switches of TorchDQN
# (init, delta_raw, adam_eps, target_masks), which minidqn_variant applies to a DQNAgent too. The
# check shows both updates are one function, so the (faster) "minidqn" rows switch the same things.
VARIANTS = {
    "minidqn": ("minidqn", {}),
    "torch_as_minidqn": ("torch", {}),                                   # every minidqn feature on
    "minidqn_noscale": ("minidqn", {"reward_scale": 1.0}),
    "torch_plain": ("torch", {"reward_scale": 1.0, "init": "torch"}),    # a plain PyTorch DQN
    "noscale": ("torch", {"reward_scale": 1.0}),                         # He init, raw rewards, delta 1 raw
    "scale_delta_raw": ("torch", {"delta_raw": 1.0}),                    # scaled, but Huber delta 1 reward unit
    "noscale_delta_maxr": ("torch", {"reward_scale": 1.0, "delta_raw": "max_r"}),  # raw, delta = max |r|
    "init_torch": ("torch", {"init": "torch"}),
    "adam_eps": ("torch", {"adam_eps": 1.5e-4}),
    "no_target_masks": ("torch", {"target_masks": False}),
    "scale_lr1e-4": ("torch", {"lr": 1e-4}),
    "noscale_lr1e-2": ("torch", {"reward_scale": 1.0, "lr": 1e-2}),
    "m_init_torch": ("minidqn", {"init": "torch"}),
    "m_no_target_masks": ("minidqn", {"target_masks": False}),
    "m_adam_eps": ("minidqn", {"adam_eps": 1.5e-4}),
    "m_noscale_delta_maxr": ("minidqn", {"reward_scale": 1.0, "delta_raw": "max_r"}),
    "m_noscale_init_torch": ("minidqn", {"reward_scale": 1.0, "init": "torch"}),
    "m_lr1e-4": ("minidqn", {"lr": 1e-4}),
    "m_lr3e-4": ("minidqn", {"lr": 3e-4}),
}


def minidqn_variant(agent, seed, init="he", delta_raw=None, adam_eps=None, target_masks=True):
    """Switch TorchDQN's differences on a ``DQNAgent`` (by its attributes: this is a benchmark).
    ``init="torch"`` draws PyTorch's default distribution (weights and biases U(±1/sqrt(fan_in)))
    with NumPy; ``target_masks`` is applied by the loop (no next masks stored)."""
    if init == "torch":
        rng = np.random.default_rng([seed, 2024])
        for W, b in zip(agent.online.weights, agent.online.biases):
            bound = 1.0 / math.sqrt(W.shape[0])
            W[...] = rng.uniform(-bound, bound, W.shape)
            b[...] = rng.uniform(-bound, bound, b.shape)
        agent.target.params[:] = agent.online.params
    if adam_eps is not None:
        agent.optimizer.eps = adam_eps
    if delta_raw is not None:
        fixed = {}

        def loss(pred, target):        # Huber with delta in reward units, fixed at the first update
            if "delta" not in fixed:
                raw = (float(np.max(np.abs(agent.buffer.rewards[:agent.buffer.size]))) if delta_raw == "max_r"
                       else delta_raw)
                fixed["delta"] = raw * agent.reward_scale
            return huber(pred, target, fixed["delta"])
        agent._loss = loss
    return agent


def make_agent(torch, variant, env, seed):
    impl, kw = VARIANTS[variant]
    kw = {"seed": seed, **kw}
    obs_dim, n_actions = env.observation_space.shape[0], env.action_space.n
    if impl == "torch":
        return TorchDQN(obs_dim, n_actions, torch, **kw)
    switches = {k: kw.pop(k) for k in ("init", "delta_raw", "adam_eps", "target_masks") if k in kw}
    return minidqn_variant(DQNAgent(obs_dim, n_actions, **kw), seed, **switches)


def start_observations(n, seed=10_000):
    env = ShopEnv(seed=seed)
    return np.stack([env.reset()[0] for _ in range(n)])


def greedy_value(agent, shoppers, gamma, seed=20_000):
    """Mean discounted return from the start (the greedy policy's true value, up to sampling) and
    mean revenue per session, over ``shoppers`` fresh shoppers (the same ones for every call)."""
    env = ShopEnv(seed=seed)
    returns, revenues = [], []
    for i in range(shoppers):
        obs, info = env.reset(seed=seed + i)
        G, revenue, disc, done = 0.0, 0.0, 1.0, False
        while not done:
            a = agent.act(obs, explore=False, action_mask=info["action_mask"])
            obs, r, term, trunc, info = env.step(a)
            G += disc * r
            revenue += info["revenue"]
            disc *= gamma
            done = term or trunc
        returns.append(G)
        revenues.append(revenue)
    return float(np.mean(returns)), float(np.mean(revenues))


def run(torch, variant, seed, steps, probe_every, eval_at, shoppers) -> dict:
    """One training run; ``ShopEnv`` seeded with ``seed`` (the catalogue is fixed)."""
    env = ShopEnv(seed=seed)
    agent = make_agent(torch, variant, env, seed)
    masks = VARIANTS[variant][1].get("target_masks", True)   # False: the target's argmax sees all actions
    s0 = start_observations(200)
    probes, evals = [], []
    obs, info = env.reset()
    mask = info["action_mask"]
    start = time.perf_counter()
    for t in range(1, steps + 1):
        a = agent.act(obs, explore=True, action_mask=mask)
        next_obs, r, term, trunc, info = env.step(a)
        agent.observe(obs, a, r, next_obs, term, next_action_mask=info["action_mask"] if masks else None)
        obs, mask = next_obs, info["action_mask"]
        if term or trunc:
            obs, info = env.reset()
            mask = info["action_mask"]
        if t % probe_every == 0:
            probes.append((t, float(agent.q_values(s0).max(axis=1).mean())))
        if t in eval_at:
            evals.append((t, *greedy_value(agent, shoppers, agent.config.gamma)))
    return {"variant": variant, "seed": seed, "steps": steps, "probes": probes, "evals": evals,
            "reward_scale": agent.reward_scale, "seconds": time.perf_counter() - start}


def summarize(results, points) -> None:
    """Per variant: median (min..max) over seeds of Q(s0) at ``points``, its peak, the greedy
    policy's true value and revenue at the last evaluation, and ``M``: 1 / the reward scale (the
    largest reward of the first 1000 steps when automatic; it varies with the run)."""
    by_variant = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(r)
    fmt = lambda xs: f"{statistics.median(xs):.1f} ({min(xs):.1f}..{max(xs):.1f})"  # noqa: E731
    rows = []
    for variant, runs in by_variant.items():
        row = [variant, len(runs)]
        for p in points:
            row.append(fmt([dict(r["probes"])[p] for r in runs if p in dict(r["probes"])]) or "-")
        row.append(fmt([max(q for _, q in r["probes"]) for r in runs]))
        final = [r["evals"][-1] for r in runs if r["evals"]]
        row.append(fmt([e[1] for e in final]) if final else "-")
        row.append(fmt([e[2] for e in final]) if final else "-")
        row.append(fmt([1.0 / r["reward_scale"] for r in runs]))
        rows.append(row)
    last = max((r["evals"][-1][0] for r in results if r["evals"]), default=None)
    print_table(["variant", "seeds", *[f"Q(s0)@{p // 1000}k" for p in points], "peak Q(s0)",
           f"true V@{last // 1000 if last else '-'}k", "revenue/session", "M = 1/reward_scale"], rows)


def main(argv=None) -> int:
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed here: this comparison runs only where it is (see the docstring).")
        return 0
    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="the same batches through both updates, float64")
    c.add_argument("--updates", type=int, default=2000)
    tr = sub.add_parser("train", help="training runs of variants over seeds")
    tr.add_argument("--variants", nargs="+", default=["minidqn", "torch_as_minidqn", "torch_plain"],
                    choices=sorted(VARIANTS))
    tr.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    tr.add_argument("--steps", type=int, default=50_000)
    tr.add_argument("--probe-every", type=int, default=2500)
    tr.add_argument("--eval-at", nargs="+", type=int, default=[10_000, 25_000, 50_000])
    tr.add_argument("--eval-shoppers", type=int, default=300)
    tr.add_argument("--out", help="append each run's record as one JSON line to this file")
    s = sub.add_parser("summary", help="the table of runs saved with train --out")
    s.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    points = [10_000, 25_000, 50_000]
    if args.command == "check":
        return 0 if check(torch, args.updates) else 1
    if args.command == "summary":
        results = [json.loads(line) for f in args.files for line in open(f) if line.strip()]
        summarize(results, points)
        return 0
    results = []
    for variant in args.variants:
        for seed in args.seeds:
            r = run(torch, variant, seed, args.steps, args.probe_every, set(args.eval_at), args.eval_shoppers)
            results.append(r)
            print(f"{variant} seed {seed}: Q(s0) " + " ".join(f"{t // 1000}k:{q:.1f}" for t, q in r["probes"])
                  + " | true V " + " ".join(f"{t // 1000}k:{v:.2f}" for t, v, _ in r["evals"])
                  + f" | {r['seconds']:.0f} s", flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(r) + "\n")
    summarize(results, [x for x in points if x <= args.steps])
    return 0


if __name__ == "__main__":
    sys.exit(main())
