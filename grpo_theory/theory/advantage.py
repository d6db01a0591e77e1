r"""Expected GRPO advantage and the per-prompt gradient scale λ_G (results R5, R6).

Setting: binary verifiable rewards, G rollouts of one prompt, r_i ~ Bernoulli(p) iid, k = Σ r_i the number
of correct rollouts, p̂ = k/G. The group-normalized advantage of rollout i is

.. math::

    A_i = \frac{r_i - \bar r}{s_d + \varepsilon}, \qquad
    s_d^2 = \frac{1}{G-d}\sum_j (r_j - \bar r)^2 = \frac{k(G-k)}{G(G-d)},

with ``std_ddof`` = d (0: the population std of the paper's proofs; 1: the sample std of ``torch.std``).
Convention for tied groups (k ∈ {0, G}): A_i = 0, also when ε = 0 (the numerator is 0; 0/0 := 0, which is
what every implementation that masks zero-std groups does).

Conditioning on the rollout's own reward r, the other G−1 rewards give j ~ Bin(G−1, p) successes, so

.. math::

    \mathbb E[A \mid r=1] = \sum_{j=0}^{G-1}\binom{G-1}{j}p^j(1-p)^{G-1-j}\,A^+(j+1), \qquad
    \mathbb E[A \mid r=0] = \sum_{j=0}^{G-1}\binom{G-1}{j}p^j(1-p)^{G-1-j}\,A^-(j),

where A^±(k) is the advantage of a correct / incorrect rollout in a group with k successes. This is an exact
finite sum for every G. The gradient scale is λ_G(p) = E[A | r=1] − E[A | r=0]: with exact sequence score
functions g = ∇ log π(o|q), E[(1/G) Σ_i A_i g_i | q] = λ_G(p) ∇p (proof R6).

``G`` may be ``math.inf`` (or ``"inf"``, ``sympy.oo``) for the large-group limit of v2 Prop. 5.1 Case 1:
E[A | r] → (r − p) / (√(p(1−p)) + ε) (ddof does not matter in the limit). At p ∈ {0, 1} with ε = 0 the limit
is ±∞ for the rare reward and 0 for the certain one.

Types: Python / numpy floats in → float out; numpy arrays of p in → array out (vectorized over p, cheap for
plotting); sympy numbers, symbols or expressions in → sympy expression out (exact).

Large G. The sympy sum has G terms and is offered up to ``SYMBOLIC_MAX_G`` (beyond it a clear ``ValueError``
asks for a float p). The float sum runs over every j up to ``EXACT_SUM_MAX_G``; past it, over the window
|j − (G−1)p| ≤ t of the binomial, with t = L/3 + √(L²/9 + 2Lσ²), σ² = (G−1)p(1−p), L = ln(2/``WINDOW_TAIL``).
Bernstein's inequality puts at most ``WINDOW_TAIL`` = 1e-40 of probability outside the window, and every
coefficient is at most 2√G in absolute value, so truncation changes the result by at most 2·1e-40·√G
(< 1e-35 for G ≤ 10⁹); what remains is floating rounding, measured against the full sum at the threshold in
``tests/theory/test_advantage_large_g.py``: 1e-13 relative against the full sum at the threshold, 1e-14
against 40-digit arithmetic just past it. The window has O(√G) terms: G = 10⁹ takes under a second and a
few MB per value of p. Float G beyond ``MAX_G`` = 10⁹ raises ``ValueError``. p below 1e-300 is taken as 0
(the pmf library overflows near 1e-305; the change is below n·1e-300).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
from scipy.stats import binom

INF = math.inf

#: Largest G for which the float sum runs over every j (above: the Bernstein window, module docstring).
EXACT_SUM_MAX_G = 4096
#: Largest G for the exact sympy sum (its cost grows with G terms of growing size).
SYMBOLIC_MAX_G = 1024
#: Largest finite G of the float path.
MAX_G = 10**9
#: Probability mass the windowed sum may leave out (Bernstein bound).
WINDOW_TAIL = 1e-40
#: Bound on (rows of the binomial table) × (values of p) held at once by the full float sum.
_CHUNK_ELEMENTS = 1 << 21


# ---------------------------------------------------------------------------------------------- parsing


def parse_group_size(G: Any) -> int | float:
    """``G`` as an int ≥ 2, or ``math.inf`` for the large-group limit ("inf", math.inf, sympy.oo)."""
    if isinstance(G, str):
        if G.strip().lower() in {"inf", "infinity", "∞"}:
            return INF
        raise ValueError(f"G must be an integer >= 2 or 'inf', got {G!r}")
    if G is sp.oo or (isinstance(G, float) and math.isinf(G) and G > 0):
        return INF
    if isinstance(G, bool) or not isinstance(G, (int, np.integer, sp.Integer)):
        raise ValueError(f"G must be an integer >= 2 or 'inf', got {G!r}")
    if int(G) < 2:
        raise ValueError(f"G must be >= 2 (a group of one has no baseline), got {G}")
    return int(G)


def _check_ddof_eps(G: int | float, std_ddof: Any, eps: Any) -> None:
    if isinstance(std_ddof, bool) or not isinstance(std_ddof, (int, np.integer)) or std_ddof < 0:
        raise ValueError(f"std_ddof must be a nonnegative integer, got {std_ddof!r}")
    if G != INF and std_ddof >= G:
        raise ValueError(f"std_ddof must be < G (= {G}), got {std_ddof}")
    if isinstance(eps, sp.Basic):
        if eps.is_negative:
            raise ValueError(f"eps must be >= 0, got {eps}")
    elif not (float(eps) >= 0.0):
        raise ValueError(f"eps must be >= 0, got {eps!r}")


def _is_symbolic(*xs: Any) -> bool:
    return any(isinstance(x, sp.Basic) for x in xs)


def _sym_eps(eps: Any) -> sp.Expr:
    # A float 0.0 would turn exact results into floats; keep the common ε = 0 exact.
    if isinstance(eps, sp.Basic):
        return eps
    return sp.Integer(0) if float(eps) == 0.0 else sp.nsimplify(eps, rational=True)


def _numeric_p(p: Any) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any((arr < 0.0) | (arr > 1.0)):
        raise ValueError("p must lie in [0, 1]")
    return arr


def _check_sym_p(p: sp.Expr) -> None:
    if p.is_number and (p.is_negative or (p - 1).is_positive):
        raise ValueError(f"p must lie in [0, 1], got {p}")


def _check_reward(reward: Any) -> int:
    if reward in (0, 1) and not (isinstance(reward, float) and math.isnan(reward)):
        return int(reward)
    raise ValueError(f"reward must be 0 or 1 (binary verifiable reward), got {reward!r}")


# ---------------------------------------------------------------------------------------- group values


def group_advantages(G: Any, k: int, *, std_ddof: int = 0, eps: Any = 0) -> tuple[sp.Expr, sp.Expr]:
    r"""Exact (A⁺, A⁻): the advantage of a correct and of an incorrect rollout in a group of G with k correct.

    .. math::  A^+ = \frac{(G-k)/G}{s_d + \varepsilon}, \quad A^- = \frac{-k/G}{s_d + \varepsilon},
               \quad s_d = \sqrt{k(G-k)/(G(G-d))};

    both are 0 when k ∈ {0, G} (tied group). Returned as sympy numbers / expressions in ``eps``.
    """
    size = parse_group_size(G)
    if size == INF:
        raise ValueError("group_advantages needs a finite G")
    G = int(size)
    _check_ddof_eps(G, std_ddof, eps)
    if not 0 <= k <= G:
        raise ValueError(f"k must be in [0, G], got k={k}, G={G}")
    if k in (0, G):
        return sp.Integer(0), sp.Integer(0)
    e = _sym_eps(eps)
    s = sp.sqrt(sp.Rational(k * (G - k), G * (G - std_ddof)))
    return sp.Rational(G - k, G) / (s + e), sp.Rational(-k, G) / (s + e)


def _advantage_coefficients(G: Any, reward: int, std_ddof: int, eps: Any) -> list[Any]:
    """c_j = A(own reward, k) for j = 0..G-1 other successes (k = j + reward)."""
    out = []
    for j in range(G):
        a_pos, a_neg = group_advantages(G, j + reward, std_ddof=std_ddof, eps=eps)
        out.append(a_pos if reward == 1 else a_neg)
    return out


def _advantage_coefficients_num(G: int, reward: int, std_ddof: int, eps: float) -> np.ndarray:
    """Float twin of :func:`_advantage_coefficients`, shape (G,) (sympy is too slow for G in the 1000s)."""
    return _coefficients_at(G, reward, std_ddof, eps, np.arange(G, dtype=float))


def _coefficients_at(G: int, reward: int, std_ddof: int, eps: float, j: np.ndarray) -> np.ndarray:
    """c_j = A(own reward, k = j + reward) at the given counts j of other successes (float array)."""
    k = j + reward
    mixed = (k > 0) & (k < G)
    s = np.sqrt(k * (G - k) / (G * (G - std_ddof)))
    num = (G - k) / G if reward == 1 else -k / G
    return np.where(mixed, num / np.where(mixed, s + eps, 1.0), 0.0)


def _full_sum(G: int, reward: int, std_ddof: int, eps: float, p: np.ndarray) -> np.ndarray:
    """Σ_j c_j Bin(j; G−1, p) over every j = 0..G−1, in chunks of p so memory stays bounded."""
    coef = _advantage_coefficients_num(G, reward, std_ddof, eps)
    flat = p.reshape(-1)
    step = max(1, _CHUNK_ELEMENTS // G)
    parts = [
        np.tensordot(coef, _binomial_pmf(G - 1, flat[i : i + step]), axes=1)
        for i in range(0, flat.size, step)
    ]
    return (np.concatenate(parts) if parts else np.zeros(0)).reshape(p.shape)


def _window_sum(G: int, reward: int, std_ddof: int, eps: float, p: np.ndarray) -> np.ndarray:
    """Σ_j c_j Bin(j; G−1, p) over the Bernstein window around (G−1)p (module docstring), per value of p."""
    n = G - 1
    big_l = math.log(2.0 / WINDOW_TAIL)
    flat = _flush_tiny(p.reshape(-1))
    out = np.empty(flat.shape)
    for i, pv in enumerate(flat):
        var = n * pv * (1.0 - pv)
        t = big_l / 3.0 + math.sqrt(big_l * big_l / 9.0 + 2.0 * big_l * var)
        lo, hi = max(0, math.floor(n * pv - t)), min(n, math.ceil(n * pv + t))
        j = np.arange(lo, hi + 1, dtype=float)
        out[i] = np.dot(binom.pmf(j, n, pv), _coefficients_at(G, reward, std_ddof, eps, j))
    return out.reshape(p.shape)


def _binomial_pmf(n: int, p: np.ndarray) -> np.ndarray:
    """Bin(n, p) pmf at j = 0..n, shape (n+1, *p.shape).

    scipy's binomial pmf (Boost's saddle-point form) is accurate to a few ulp for any n and p; a
    log-gamma difference would lose ~n·1e-16 relative to cancellation (2e-12 at n = 4095).
    """
    j = np.arange(n + 1, dtype=float).reshape((n + 1,) + (1,) * p.ndim)
    return binom.pmf(j, n, _flush_tiny(p))


def _flush_tiny(p: np.ndarray) -> np.ndarray:
    """p below 1e-300 as 0: Boost's pmf overflows near 1e-305, and the change moves the pmf by < n·1e-300."""
    return np.where(p < 1e-300, 0.0, p)


# ---------------------------------------------------------------------------------------------- public


def expected_advantage(G: Any, p: Any, reward: Any, *, std_ddof: int = 0, eps: Any = 0.0) -> Any:
    r"""E[A_i | r_i = reward] for a group of G Bernoulli(p) rewards (v2 Prop. 5.1 / v3 Prop. C.1, R5).

    Exact finite sum over the other rollouts' successes j ~ Bin(G−1, p) (module docstring); for float p
    and G > ``EXACT_SUM_MAX_G`` the sum over the Bernstein window (error ≤ 2·1e-40·√G plus rounding),
    G ≤ ``MAX_G`` = 10⁹; sympy input needs G ≤ ``SYMBOLIC_MAX_G``. Closed forms
    (checked in ``tests/theory/test_advantage.py``): G = 2 gives (r − p)/(1 + 2ε) for ddof 0 and
    (r − p)/√2 for ddof 1, ε = 0; G = 3, ddof 0, ε = 0 gives √2 (r − p); G → ∞ gives
    (r − p)/(√(p(1−p)) + ε).

    Args:
      G: group size, an int ≥ 2, or ``math.inf`` / ``"inf"`` for the limit.
      p: success probability in [0, 1]: a float, a numpy array (vectorized), or a sympy expression.
      reward: the rollout's own reward, 0 or 1.
      std_ddof: 0 (population std) or 1 (sample std); any 0 ≤ d < G is accepted.
      eps: the ε added to the std, ≥ 0 (float or sympy).

    Returns:
      float for float p, ndarray of p's shape for array p, sympy expression (expanded in p) for sympy input.

    Examples:
      >>> import sympy as sp
      >>> expected_advantage(2, sp.Symbol("p", positive=True), 1)
      1 - p
      >>> expected_advantage(2, 0.25, 0)
      -0.25
    """
    G = parse_group_size(G)
    r = _check_reward(reward)
    _check_ddof_eps(G, std_ddof, eps)
    if _is_symbolic(p, eps):
        p = sp.sympify(p)
        _check_sym_p(p)
        e = _sym_eps(eps)
        if G == INF:
            return _limit_sym(p, r, e)
        if G > SYMBOLIC_MAX_G:
            raise ValueError(
                f"G = {G} is above the exact sympy sum's limit SYMBOLIC_MAX_G = {SYMBOLIC_MAX_G}; "
                "pass p and eps as floats for the numeric sum"
            )
        cs = _advantage_coefficients(G, r, std_ddof, e)
        expr = sum(sp.binomial(G - 1, j) * p**j * (1 - p) ** (G - 1 - j) * cs[j] for j in range(G))
        return sp.expand(expr)
    arr = _numeric_p(p)
    if G == INF:
        out = _limit_num(arr, r, float(eps))
    elif G > MAX_G:
        raise ValueError(
            f"G must be <= MAX_G = {MAX_G} for the numeric sum (or 'inf' for the limit), got {G}"
        )
    elif G <= EXACT_SUM_MAX_G:
        out = _full_sum(int(G), r, std_ddof, float(eps), arr)
    else:
        out = _window_sum(int(G), r, std_ddof, float(eps), arr)
    return float(out) if np.ndim(p) == 0 else out


def gradient_scale(G: Any, p: Any, *, std_ddof: int = 0, eps: Any = 0.0) -> Any:
    r"""λ_G(p) = E[A | r=1] − E[A | r=0], so that E[ĝ_G | q] = λ_G(p_q) ∇_θ p_q (R6).

    Exact values (hand-derived, see ``proofs/R6-gradient-scale.md``): λ_2 ≡ 1/(1 + 2ε) (ddof 0) and
    ≡ 1/√2 (ddof 1, ε = 0); λ_3 ≡ √2 (ddof 0, ε = 0); λ_4 = √3 (p² + (1−p)²) + 3p(1−p);
    λ_G(0) = √(G−1); λ_∞ = 1/(√(p(1−p)) + ε), which is +∞ at p ∈ {0, 1} when ε = 0.
    For ε = 0, ddof d rescales every finite-G value by √((G−d)/G).

    Same argument conventions and return types as :func:`expected_advantage`.

    Examples:
      >>> import numpy as np, sympy as sp
      >>> gradient_scale(2, 0.9)
      1.0
      >>> gradient_scale(4, sp.Rational(1, 2))
      3/4 + sqrt(3)/2
      >>> gradient_scale("inf", np.array([0.5, 0.1]))
      array([2.        , 3.33333333])
    """
    a1 = expected_advantage(G, p, 1, std_ddof=std_ddof, eps=eps)
    a0 = expected_advantage(G, p, 0, std_ddof=std_ddof, eps=eps)
    if isinstance(a1, sp.Basic) or isinstance(a0, sp.Basic):
        if a1 is sp.oo or a0 is -sp.oo:  # p at an endpoint of the G = ∞ limit
            return sp.oo
        if parse_group_size(G) == INF:  # (1-p)/s + p/s, written as one fraction
            return 1 / (sp.sqrt(sp.sympify(p) * (1 - sp.sympify(p))) + _sym_eps(eps))
        return sp.expand(a1 - a0)
    return a1 - a0


def zero_signal_probability(G: Any, p: Any) -> Any:
    r"""P0(G, p) = p^G + (1−p)^G: the probability that all G rewards tie, so every advantage is 0 (R7).

    G = ∞ gives the limit: 0 for 0 < p < 1 and 1 at p ∈ {0, 1}. Exact values: P0(2, 1/4) = 5/8,
    P0(2, 1/2) = 1/2, P0(16, 1/2) = 2^-15. Same types as :func:`expected_advantage`.

    Examples:
      >>> import sympy as sp
      >>> zero_signal_probability(2, sp.Rational(1, 4))
      5/8
    """
    G = parse_group_size(G)
    if _is_symbolic(p):
        p = sp.sympify(p)
        _check_sym_p(p)
        if G == INF:
            return sp.Piecewise((sp.Integer(1), sp.Or(sp.Eq(p, 0), sp.Eq(p, 1))), (sp.Integer(0), True))
        return p**G + (1 - p) ** G
    arr = _numeric_p(p)
    out = np.where((arr == 0.0) | (arr == 1.0), 1.0, 0.0) if G == INF else arr**G + (1.0 - arr) ** G
    return float(out) if np.ndim(p) == 0 else out


# ------------------------------------------------------------------------------------- G = ∞ (limits)


def _limit_sym(p: sp.Expr, r: int, e: sp.Expr) -> sp.Expr:
    if e == 0 and p.is_number and p in (0, 1):
        # the certain reward has advantage 0; the impossible one diverges
        if p == r:
            return sp.Integer(0)
        return sp.oo if r == 1 else -sp.oo
    return (r - p) / (sp.sqrt(p * (1 - p)) + e)


def _limit_num(p: np.ndarray, r: int, e: float) -> np.ndarray:
    den = np.sqrt(p * (1.0 - p)) + e
    num = r - p
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    # 0/0 at the certain reward is 0; x/0 with x != 0 is ±inf (numpy already gives that)
    return np.where((den == 0.0) & (num == 0.0), 0.0, out)
