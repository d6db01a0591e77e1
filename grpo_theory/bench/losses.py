"""Benchmark: fast (vectorized) losses vs their loop-based float64 reference twins.

Reports, for each loss, the median wall time of forward + backward of both implementations on the
same float64 inputs, and their ratio measured in this one run (never compare numbers across
runs or machines). Also reports the fast GRPO loss's throughput at a trainer-sized batch.

Run: ``python -m grpo_theory.bench.losses [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from grpo_theory.losses import dpo_loss, grpo_loss, kl_estimate, online_dpo_loss
from grpo_theory.losses.reference import ref_dpo_loss, ref_grpo_loss, ref_kl_estimate, ref_online_dpo_loss

F64 = torch.float64


def _batch(P: int, G: int, T: int, seed: int = 0, dtype: torch.dtype = F64):
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(P, G, T, generator=gen, dtype=dtype) * 3 - 0.05
    logp = old + 0.2 * torch.randn(P, G, T, generator=gen, dtype=dtype)
    ref = old + 0.3 * torch.randn(P, G, T, generator=gen, dtype=dtype)
    lengths = torch.randint(1, T + 1, (P, G, 1), generator=gen)
    mask = (torch.arange(T) < lengths).to(dtype)
    rewards = torch.randint(0, 2, (P, G), generator=gen).to(dtype)
    return logp, old, ref, mask, rewards


def _median_time(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _fwd_bwd(loss_fn: Callable[[torch.Tensor], torch.Tensor], logp: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        x = logp.detach().clone().requires_grad_()
        loss_fn(x).sum().backward()

    return run


def compare(P: int, G: int, T: int, repeats: int) -> list[tuple[str, float, float]]:
    """Returns (name, fast seconds, reference seconds) per loss on one [P, G, T] float64 batch."""
    logp, old, ref, mask, rewards = _batch(P, G, T)
    conv: dict[str, Any] = {"beta": 0.04, "kl_kind": "k3", "dual_clip": 3.0, "loss_agg_mode": "token-mean"}
    pairs = {
        "grpo_loss (+k3 KL, dual clip)": (
            lambda x: grpo_loss(x, old, rewards, mask, ref_logp=ref, **conv).loss,
            lambda x: ref_grpo_loss(x, old, rewards, mask, ref_logp=ref, **conv),
        ),
        "kl_estimate k3+": (lambda x: kl_estimate(x, ref, "k3+"), lambda x: ref_kl_estimate(x, ref, "k3+")),
    }
    if G == 2:
        pairs["online_dpo_loss"] = (
            lambda x: online_dpo_loss(x, old, rewards, mask, ref_logp=ref, beta=0.1).loss,
            lambda x: ref_online_dpo_loss(x, old, rewards, mask, ref_logp=ref, beta=0.1),
        )
    seq = logp.sum(-1).flatten()
    pairs["dpo_loss sigmoid"] = (
        lambda x: dpo_loss(x, seq.flip(0), seq * 0.9, seq.flip(0) * 0.9, beta=0.1),
        lambda x: ref_dpo_loss(x, seq.flip(0), seq * 0.9, seq.flip(0) * 0.9, beta=0.1),
    )
    out = []
    for name, (fast, slow) in pairs.items():
        x0 = seq if name.startswith("dpo_loss") else logp
        fast_s, slow_s = _median_time(_fwd_bwd(fast, x0), repeats), _median_time(_fwd_bwd(slow, x0), repeats)
        out.append((name, fast_s, slow_s))
    return out


def throughput(P: int, G: int, T: int, repeats: int, dtype: torch.dtype) -> float:
    """Tokens per second of fast ``grpo_loss`` forward + backward on a [P, G, T] batch."""
    logp, old, ref, mask, rewards = _batch(P, G, T, dtype=dtype)
    run = _fwd_bwd(lambda x: grpo_loss(x, old, rewards, mask, ref_logp=ref, beta=0.04).loss, logp)
    return P * G * T / _median_time(run, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    args = parser.parse_args([] if __name__ != "__main__" else None)
    torch.set_num_threads(1)  # single-threaded: a ratio, not a peak number
    P, G, T, rep = (2, 2, 8, 3) if args.quick else (4, 2, 32, 5)
    print(f"fast vs reference, float64, [P, G, T] = [{P}, {G}, {T}], forward + backward, median of {rep}")
    print(f"{'loss':34s} {'fast (ms)':>10s} {'reference (ms)':>15s} {'speed-up':>9s}")
    for name, f, s in compare(P, G, T, rep):
        print(f"{name:34s} {f * 1e3:10.3f} {s * 1e3:15.1f} {s / f:8.0f}x")
    big = (8, 16, 128) if args.quick else (64, 16, 512)
    for dtype in (torch.float32, F64):
        tps = throughput(*big, repeats=rep, dtype=dtype)
        print(f"grpo_loss throughput [P, G, T] = {list(big)} {dtype!s:14s}: {tps / 1e6:.2f} M tokens/s")


if __name__ == "__main__":
    main()
