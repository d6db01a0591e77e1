r"""Exact reference values by enumeration, written independently of the loss library.

These are the numbers the Monte Carlo estimates are compared with. They enumerate the number of
correct rollouts in a group, :math:`k\sim\mathrm{Bin}(G, p)`, and use the closed forms of the
advantage families for binary rewards (population or Bessel std, ``eps`` outside the square root):

.. math::

    \text{GRPO: } A(x\mid k) = \frac{x - k/G}{s_k + \varepsilon},\quad
    s_k = \sqrt{\frac{k(G-k)}{G\,(G-\mathrm{ddof})}};\qquad
    \text{Dr. GRPO: } x - k/G;\qquad
    \text{RLOO: } x - \frac{k - x}{G-1},

with :math:`A = 0` for tied groups (k = 0 or G). Conditioning on the first rollout's reward x,
the other G - 1 rewards give :math:`k = x + j`, :math:`j\sim\mathrm{Bin}(G-1, p)`, so

.. math::

    a_x(p) = \mathbb E[A_1\mid r_1 = x] = \sum_{j=0}^{G-1}\binom{G-1}{j}p^j(1-p)^{G-1-j}A(x\mid x+j),
    \qquad \lambda_G(p) = a_1(p) - a_0(p).

:math:`\lambda_G` is the gradient scale: :math:`\mathbb E[\hat g_G\mid q] = \lambda_G(p_q)\nabla p_q`
for any advantage that is a symmetric function of the group rewards (see :mod:`.estimators`).
"""

from __future__ import annotations

import math

FAMILIES = ("grpo", "dr_grpo", "rloo")


def advantage_given_count(x: int, k: int, group_size: int, *, family: str = "grpo", std_ddof: int = 0,
                          eps: float = 0.0) -> float:
    """Advantage of a rollout with binary reward ``x`` in a group of ``group_size`` with ``k`` correct
    rollouts."""
    g = group_size
    if not 0 <= k <= g or x not in (0, 1) or (x == 1 and k == 0) or (x == 0 and k == g):
        raise ValueError(f"inconsistent x={x}, k={k}, G={g}")
    if k in (0, g):
        return 0.0
    if family == "grpo":
        s = math.sqrt(k * (g - k) / (g * (g - std_ddof)))
        return (x - k / g) / (s + eps)
    if family == "dr_grpo":
        return x - k / g
    if family == "rloo":
        return x - (k - x) / (g - 1)
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def expected_advantage(group_size: int, p: float, x: int, **family_kwargs) -> float:
    """:math:`\\mathbb E[A_1\\mid r_1 = x]` by enumerating the other G - 1 rewards."""
    g = group_size
    total = 0.0
    for j in range(g):
        w = math.comb(g - 1, j) * p**j * (1 - p) ** (g - 1 - j)
        if w:
            total += w * advantage_given_count(x, x + j, g, **family_kwargs)
    return total


def gradient_scale(group_size: int, p: float, **family_kwargs) -> float:
    """:math:`\\lambda_G(p) = \\mathbb E[A\\mid r=1] - \\mathbb E[A\\mid r=0]`."""
    return expected_advantage(group_size, p, 1, **family_kwargs) - expected_advantage(
        group_size, p, 0, **family_kwargs
    )


def zero_signal_probability(group_size: int, p: float) -> float:
    """:math:`P_0 = p^G + (1-p)^G`, the probability that all G binary rewards tie."""
    return p**group_size + (1 - p) ** group_size


def family_of_preset(preset: dict) -> dict:
    """Maps ``group_advantages`` keyword arguments to the matching closed-form family keywords.

    ``scale="group"`` -> GRPO with the same ddof and eps; ``scale="none"`` -> Dr. GRPO.
    ``scale="batch"`` has no per-group closed form and raises ``ValueError``.
    """
    scale = preset.get("scale", "group")
    if scale == "group":
        return {"family": "grpo", "std_ddof": int(preset.get("std_ddof", 0)),
                "eps": float(preset.get("eps", 0.0))}
    if scale == "none":
        return {"family": "dr_grpo"}
    raise ValueError(f"no per-group closed form for scale={scale!r}")


def advantage_moments(group_size: int, p: float, **family_kwargs) -> dict[str, list]:
    """Conditional advantage moments given the rollouts' own rewards, by enumeration.

    Returns:
        dict with ``a[x] = E[A_1 | r_1=x]``, ``a2[x] = E[A_1^2 | r_1=x]`` and
        ``a12[x][y] = E[A_1 A_2 | r_1=x, r_2=y]`` (x, y in {0, 1}); the other rollouts'
        successes are :math:`j\\sim\\mathrm{Bin}(G-1, p)` (resp. :math:`\\mathrm{Bin}(G-2, p)`).
    """
    g = group_size

    def adv(x: int, k: int) -> float:
        return advantage_given_count(x, k, g, **family_kwargs)

    a, a2 = [0.0, 0.0], [0.0, 0.0]
    for x in (0, 1):
        for j in range(g):
            w = math.comb(g - 1, j) * p**j * (1 - p) ** (g - 1 - j)
            if w:
                v = adv(x, x + j)
                a[x] += w * v
                a2[x] += w * v * v
    a12 = [[0.0, 0.0], [0.0, 0.0]]
    for x in (0, 1):
        for y in (0, 1):
            for j in range(g - 1):
                w = math.comb(g - 2, j) * p**j * (1 - p) ** (g - 2 - j)
                if w:
                    k = x + y + j
                    a12[x][y] += w * adv(x, k) * adv(y, k)
    return {"a": a, "a2": a2, "a12": a12}
