r"""2-GRPO and GRPO with real-valued rewards, exactly, on a categorical (softmax-bandit) policy (R15).

Policy: one prompt, K responses, π = softmax(θ) (θ the logits, shape [K]), reward r_k of response k (any
real numbers; equal values are ties). Score function ∇_θ log π(k) = e_k − π. Group estimator of G
on-policy rollouts, no clipping:

.. math::  \hat g_G = \frac1G\sum_{i=1}^G A_i\,(e_{o_i} - \pi),\qquad
           A_i = \frac{r_{o_i} - \bar r}{s_d + \varepsilon},\quad s_d^2 = \frac{1}{G-d}\sum_j (r_{o_j} - \bar
           r)^2,

with A ≡ 0 in a tied group (the loss library's convention, also for ε = 0).

**G = 2.** For a mixed pair with d = r_i − r_j: s_d = |d|/√(2(2−d_dof)), so A_i = (d/2)/(|d|/√(2(2−d_dof)) +
ε): sign(d) for ddof 0, ε = 0 (any reward gap, however small, gets the full ±1: "sign amplification"),
sign(d)/√2 for ddof 1, and the soft sign d/(|d| + 2ε) for ddof 0, ε > 0. By exchangeability
E[ĝ_2] = E[A_1 (e_{o_1} − π)] = Σ_k π_k u_k (e_k − π) with

.. math::  u(k) = \mathbb E_{R'}[\operatorname{sign}(r_k - R')] = P(R' < r_k) - P(R' > r_k)
           = 2P(R' \le r_k) - 1 - P(R' = r_k),

R′ the reward of an independent rollout of the *current* policy (:func:`win_rate_advantage`; the tie
term counts the response itself). Since E_π[u] = 0 (antisymmetry), E[ĝ_2] = π ⊙ u: the policy gradient of
the win-minus-loss rate against a frozen copy of the current policy. It is not the gradient of the
self-play win-minus-loss rate E_{o,o'~π_θ}[sign(r_o − r_o')], which is identically 0.

**Consequences.** u depends on the rewards only through their order, so 2-GRPO is invariant to every
strictly increasing transform of the reward, and E[ĝ_2] is in general not proportional to
∇E[r] = π ⊙ (r − E r). For binary rewards u = r − p and E[ĝ_G] = λ_G(p) ∇p (R6). As G → ∞,
E[ĝ_G] → π ⊙ (r − E r)/(σ + ε) = ∇E[r]/(σ + ε), σ the reward std under π (``G="inf"``).

**Enumeration.** The advantages depend on the group only through how many rollouts fall on each distinct
reward level, so :func:`expected_bandit_gradient` sums over the C(G+L−1, L−1) compositions of G into the L
levels (multinomial weights), and within a level over arms by multinomial thinning,
E[n_k | m] = m_ℓ π_k / Π_ℓ. This is exact (no sampling); it is checked against a plain sum over all K^G
ordered outcomes.

Types: numpy / float inputs → numpy float64 arrays; any sympy input → sympy (``sp.Matrix`` column of
shape (K, 1) for vectors), exact.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import sympy as sp
from scipy.special import gammaln

from grpo_theory.theory.advantage import INF, _sym_eps, parse_group_size

#: Refuse enumerations with more compositions than this (memory ~ 10 floats per composition and arm).
MAX_COMPOSITIONS = 3_000_000


# ---------------------------------------------------------------------------------------------- input


def _is_sym(*xs: Any) -> bool:
    def has(x: Any) -> bool:
        if isinstance(x, sp.Basic):
            return True
        if isinstance(x, (list, tuple)):
            return any(has(y) for y in x)
        if isinstance(x, np.ndarray) and x.dtype == object:
            return any(has(y) for y in x.ravel())
        return False

    return any(has(x) for x in xs)


def _check_numeric(probs: Any, rewards: Any) -> tuple[np.ndarray, np.ndarray]:
    pi = np.asarray(probs, dtype=float)
    r = np.asarray(rewards, dtype=float)
    if pi.ndim != 1 or pi.size < 1:
        raise ValueError(f"probs must be a 1-D array of K >= 1 probabilities, got shape {pi.shape}")
    if r.shape != pi.shape:
        raise ValueError(f"rewards must have the shape of probs {pi.shape}, got {r.shape}")
    if not np.all(np.isfinite(pi)) or np.any(pi < 0) or abs(pi.sum() - 1.0) > 1e-9:
        raise ValueError(f"probs must be nonnegative and sum to 1, got sum {pi.sum()!r}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards must be finite")
    return pi, r


def _check_symbolic(probs: Any, rewards: Any) -> tuple[list[sp.Expr], list[sp.Expr]]:
    pi = [sp.sympify(x) for x in list(probs)]
    r = [sp.sympify(x) for x in list(rewards)]
    if not pi:
        raise ValueError("probs must hold K >= 1 probabilities")
    if len(r) != len(pi):
        raise ValueError(f"rewards must have the length of probs ({len(pi)}), got {len(r)}")
    total = sp.simplify(sum(pi) - 1)
    if total.is_number and total != 0:
        raise ValueError(f"probs must sum to 1, got 1 + {total}")
    if any(x.is_number and x.is_negative for x in pi):
        raise ValueError("probs must be nonnegative")
    return pi, r


def _check_conventions(G: Any, std_ddof: Any, eps: Any) -> int | float:
    size = parse_group_size(G)
    if isinstance(std_ddof, bool) or std_ddof not in (0, 1):
        raise ValueError(f"std_ddof must be 0 (population) or 1 (sample), got {std_ddof!r}")
    if isinstance(eps, sp.Basic):
        if eps.is_negative:
            raise ValueError(f"eps must be >= 0, got {eps}")
    elif not float(eps) >= 0.0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    return size


def _levels_numeric(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct reward values (sorted) and, per arm, the index of its level."""
    values, index = np.unique(r, return_inverse=True)
    return values, index.reshape(-1)


def _levels_symbolic(r: list[sp.Expr]) -> tuple[list[sp.Expr], list[int]]:
    values: list[sp.Expr] = []
    index = []
    for x in r:
        for j, v in enumerate(values):
            if sp.simplify(x - v) == 0:
                index.append(j)
                break
        else:
            values.append(x)
            index.append(len(values) - 1)
    return values, index


def compositions(G: int, L: int) -> np.ndarray:
    """All m ∈ ℕ^L with Σ m = G, shape (C(G+L−1, L−1), L), by stars and bars."""
    if L == 1:
        return np.array([[G]], dtype=np.int64)
    bars = np.array(list(itertools.combinations(range(G + L - 1), L - 1)), dtype=np.int64)
    edges = np.concatenate([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), G + L - 1)], axis=1)
    return np.diff(edges, axis=1) - 1


def _num_compositions(G: int, L: int) -> int:
    return math.comb(G + L - 1, L - 1)


# ---------------------------------------------------------------------------------------- G = 2 pieces


def win_rate_advantage(probs: Any, rewards: Any) -> Any:
    r"""u(k) = P(R′ < r_k) − P(R′ > r_k), R′ ~ the reward of an independent rollout of π (shape [K]).

    The expected 2-GRPO advantage of response k (population std, ε = 0), so that E[ĝ_2] = π ⊙ u with respect
    to the logits. Ties (including the response with itself) count 0. Equivalently 2P(R′ ≤ r_k) − 1 − P(R′ =
    r_k).

    Args:
      probs: [K] probabilities of the responses (numpy/float, or sympy for exact arithmetic).
      rewards: [K] real rewards (equal values tie).

    Returns:
      numpy array [K], or a sympy ``Matrix`` (K × 1) when any input is sympy.

    Examples:
      >>> win_rate_advantage([0.5, 0.25, 0.25], [1.0, 0.0, 0.5]).tolist()
      [0.5, -0.75, -0.25]
    """
    if _is_sym(probs, rewards):
        pi, r = _check_symbolic(probs, rewards)
        return sp.Matrix([sum((pj * sp.sign(rk - rj) for pj, rj in zip(pi, r, strict=True)),
                              sp.S.Zero) for rk in r])
    pa, ra = _check_numeric(probs, rewards)
    return np.sign(ra[:, None] - ra[None, :]) @ pa


def pair_advantage(d: Any, *, std_ddof: int = 0, eps: Any = 0.0) -> Any:
    r"""The G = 2 advantage of the rollout that leads by d = r_i − r_j: (d/2)/(|d|/√(2(2−ddof)) + ε), 0 at d
    = 0.

    ddof 0, ε = 0: sign(d); ddof 0: d/(|d| + 2ε); ddof 1, ε = 0: sign(d)/√2. numpy arrays or sympy.
    """
    if isinstance(d, sp.Basic) or isinstance(eps, sp.Basic):
        d, e = sp.sympify(d), _sym_eps(eps)
        if d == 0:
            return sp.S.Zero
        return (d / 2) / (sp.Abs(d) / sp.sqrt(2 * (2 - std_ddof)) + e)
    d = np.asarray(d, dtype=float)
    den = np.abs(d) / math.sqrt(2 * (2 - std_ddof)) + float(eps)
    return np.where(d == 0, 0.0, (d / 2) / np.where(d == 0, 1.0, den))


def soft_win_rate_advantage(probs: Any, rewards: Any, *, std_ddof: int = 0, eps: Any = 0.0) -> Any:
    r"""E[ĝ_2]'s weight for any convention: u_{d,ε}(k) = E_{R′}[a(r_k − R′)], a = :func:`pair_advantage`.

    Equals :func:`win_rate_advantage` for ddof 0, ε = 0; the soft sign E[d/(|d| + 2ε)] for ε > 0; u/√2 for
    ddof 1.
    """
    if _is_sym(probs, rewards, eps):
        pi, r = _check_symbolic(probs, rewards)
        return sp.Matrix([sum((pj * pair_advantage(rk - rj, std_ddof=std_ddof, eps=_sym_eps(eps))
                               for pj, rj in zip(pi, r, strict=True)), sp.S.Zero) for rk in r])
    pa, ra = _check_numeric(probs, rewards)
    return pair_advantage(ra[:, None] - ra[None, :], std_ddof=std_ddof, eps=eps) @ pa


def expected_reward_gradient(probs: Any, rewards: Any) -> Any:
    """∇_θ E_π[r] = π ⊙ (r − E r) with respect to the logits, shape [K] (sympy ``Matrix`` for sympy input)."""
    if _is_sym(probs, rewards):
        pi, r = _check_symbolic(probs, rewards)
        mean = sum((a * b for a, b in zip(pi, r, strict=True)), sp.S.Zero)
        return sp.Matrix([a * (b - mean) for a, b in zip(pi, r, strict=True)])
    pa, ra = _check_numeric(probs, rewards)
    return pa * (ra - pa @ ra)


# ------------------------------------------------------------------------------------ any G, exactly


def _level_advantages_numeric(m: np.ndarray, values: np.ndarray, G: int, std_ddof: int,
                              eps: float) -> np.ndarray:
    """Advantage of a rollout on each level, for each composition m [C, L] → [C, L] (0 in tied groups)."""
    mean = (m * values).sum(-1, keepdims=True) / G
    dev = values - mean
    s = np.sqrt((m * dev * dev).sum(-1, keepdims=True) / (G - std_ddof))
    tied = (m > 0).sum(-1, keepdims=True) <= 1
    return np.where(tied, 0.0, dev / np.where(tied, 1.0, s + eps))


def _log_multinomial(m: np.ndarray, mass: np.ndarray, G: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logmass = np.log(mass)
    terms = np.where(m > 0, m * logmass, 0.0)
    return gammaln(G + 1) - gammaln(m + 1).sum(-1) + terms.sum(-1)


def group_gradient_moments(
    probs: Any, rewards: Any, G: int, *, std_ddof: int = 0, eps: float = 0.0, second: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Exact E[ĝ_G] (shape [K]) and E[ĝ_G ĝ_Gᵀ] (shape [K, K]) of the softmax-bandit group estimator (numpy).

    Given the level counts m, ĝ_G = (n ⊙ A − π (n·A))/G with n the arm counts and A the advantage of each
    arm's level (n·A = Σ_ℓ m_ℓ A_ℓ is fixed by m); within a level, n is multinomial(m_ℓ, π_k/Π_ℓ), so
    E[n_k n_j | m] = m_ℓ m_ℓ′ a_k a_j (different levels) and m_ℓ(m_ℓ − 1) a_k a_j + m_ℓ a_k δ_kj (same level).
    """
    pi, r = _check_numeric(probs, rewards)
    size = _check_conventions(G, std_ddof, eps)
    if size == INF:
        raise ValueError("group_gradient_moments needs a finite G")
    G = int(size)
    values, index = _levels_numeric(r)
    L = values.size
    if _num_compositions(G, L) > MAX_COMPOSITIONS:
        raise ValueError(f"G = {G} with {L} distinct rewards has {_num_compositions(G, L)} group "
                         "compositions "
                         f"(> {MAX_COMPOSITIONS}); use fewer distinct rewards or a smaller G")
    mass = np.bincount(index, weights=pi, minlength=L)  # Π_ℓ
    m = compositions(G, L).astype(float)
    w = np.exp(_log_multinomial(m, mass, G))  # [C]
    adv = _level_advantages_numeric(m, values, G, std_ddof, float(eps))  # [C, L]
    a = np.where(mass[index] > 0, pi / np.where(mass[index] > 0, mass[index], 1.0), 0.0)  # π_k / Π_ℓ(k)
    A_arm = adv[:, index]  # [C, K]
    m_arm = m[:, index]  # [C, K]
    c = (m * adv).sum(-1)  # n·A, ≈ 0 (advantages are centred)
    Ey = m_arm * a * A_arm  # E[n_k A_k | m], [C, K]
    mean = (w @ (Ey - c[:, None] * pi)) / G
    if not second:
        return mean, None
    same = index[:, None] == index[None, :]
    # E[n_k n_j | m] = m_k m_j a_k a_j − [same level] m_ℓ a_k a_j + δ_kj m_ℓ a_k
    Enn = (m_arm[:, :, None] * m_arm[:, None, :] - same * m_arm[:, :, None]) * (a[:, None] * a[None, :])
    Enn = Enn + np.eye(len(pi)) * (m_arm * a)[:, :, None]
    Eyy = Enn * A_arm[:, :, None] * A_arm[:, None, :]
    cross = c[:, None, None] * (Ey[:, :, None] * pi[None, None, :] + pi[None, :, None] * Ey[:, None, :])
    cc = (c * c)[:, None, None] * np.outer(pi, pi)[None]
    second_moment = np.einsum("c,ckj->kj", w, Eyy - cross + cc) / G**2
    return mean, second_moment


def _expected_symbolic(pi: list[sp.Expr], r: list[sp.Expr], G: int, std_ddof: int, eps: sp.Expr) -> sp.Matrix:
    values, index = _levels_symbolic(r)
    L = len(values)
    mass = [sum((pi[k] for k in range(len(pi)) if index[k] == j), sp.S.Zero) for j in range(L)]
    total = sp.zeros(len(pi), 1)
    for m in compositions(G, L).tolist():
        if sum(1 for x in m if x > 0) <= 1:
            continue  # tied group: A = 0
        weight = sp.factorial(G) * sp.Mul(*[mass[j] ** m[j] / sp.factorial(m[j]) for j in range(L)])
        mean = sum((m[j] * values[j] for j in range(L)), sp.S.Zero) / G
        s = sp.sqrt(sum((m[j] * (values[j] - mean) ** 2 for j in range(L)), sp.S.Zero) / (G - std_ddof))
        adv = [(values[j] - mean) / (s + eps) for j in range(L)]
        c = sum((m[j] * adv[j] for j in range(L)), sp.S.Zero)
        for k in range(len(pi)):
            j = index[k]
            ey = m[j] * pi[k] / mass[j] * adv[j]
            total[k] += weight * (ey - c * pi[k]) / G
    return total.applyfunc(sp.simplify)


def expected_bandit_gradient(probs: Any, rewards: Any, G: Any, *, std_ddof: int = 0, eps: Any = 0.0) -> Any:
    r"""Exact E[ĝ_G | q] with respect to the logits of a softmax bandit, for real-valued rewards (R15).

    ĝ_G = (1/G) Σ_i A_i (e_{o_i} − π), A the GRPO group advantages (module docstring), computed by summing
    over all group outcomes (compositions over the distinct reward levels, multinomial weights). For binary
    rewards it equals λ_G(p) ∇p (R6); for G = 2, ddof 0, ε = 0 it equals π ⊙ :func:`win_rate_advantage`.

    Args:
      probs: [K] response probabilities π = softmax(θ).
      rewards: [K] real rewards (ties allowed).
      G: group size ≥ 2, or ``"inf"`` / ``math.inf`` for the limit π ⊙ (r − E r)/(σ + ε).
      std_ddof: 0 (population std, the paper's proofs) or 1 (sample std).
      eps: ε ≥ 0 added to the std.

    Returns:
      numpy array [K]; a sympy ``Matrix`` (K × 1), exact, when any input is sympy.

    Raises:
      ValueError: bad probabilities or rewards, G < 2, ddof ∉ {0, 1}, ε < 0, or more than
        :data:`MAX_COMPOSITIONS` group compositions.

    Examples:
      >>> import numpy as np
      >>> pi, r = np.full(5, 0.2), np.array([0.0, 0.1, 0.2, 0.5, 1.0])
      >>> np.round(expected_bandit_gradient(pi, r, 2), 6).tolist()  # π ⊙ u: ranks, not reward gaps
      [-0.16, -0.08, 0.0, 0.08, 0.16]
    """
    size = _check_conventions(G, std_ddof, eps)
    if _is_sym(probs, rewards, eps):
        pi, r = _check_symbolic(probs, rewards)
        e = _sym_eps(eps)
        if size == INF:
            mean = sum((a * b for a, b in zip(pi, r, strict=True)), sp.S.Zero)
            sigma = sp.sqrt(sum((a * (b - mean) ** 2 for a, b in zip(pi, r, strict=True)), sp.S.Zero))
            return sp.Matrix([a * (b - mean) / (sigma + e) for a, b in zip(pi, r, strict=True)])
        values = _levels_symbolic(r)[0]
        if _num_compositions(int(size), len(values)) > 20_000:
            raise ValueError("exact sympy enumeration is limited to 20000 group compositions; use floats")
        return _expected_symbolic(pi, r, int(size), std_ddof, e)
    pa, ra = _check_numeric(probs, rewards)
    if size == INF:
        mu = pa @ ra
        sigma = math.sqrt(float(pa @ (ra - mu) ** 2))
        den = sigma + float(eps)
        return np.zeros_like(pa) if den == 0 else pa * (ra - mu) / den
    return group_gradient_moments(pa, ra, int(size), std_ddof=std_ddof, eps=float(eps), second=False)[0]


def brute_force_expected_gradient(probs: Any, rewards: Any, G: int, *, std_ddof: int = 0,
                                  eps: Any = 0) -> sp.Matrix:
    """The same expectation by summing over all K^G ordered outcomes with :func:`contrastive.advantages_of`.

    Independent of the level/composition bookkeeping; exact (sympy); small K and G only.
    """
    from grpo_theory.theory.contrastive import advantages_of

    pi, r = _check_symbolic(probs, rewards)
    K = len(pi)
    total = sp.zeros(K, 1)
    for outcome in itertools.product(range(K), repeat=G):
        weight = sp.Mul(*[pi[o] for o in outcome])
        adv = advantages_of(tuple(r[o] for o in outcome), std_ddof=std_ddof, eps=_sym_eps(eps))
        for a, o in zip(adv, outcome, strict=True):
            total += weight * a * (sp.eye(K)[:, o] - sp.Matrix(pi)) / G
    return total.applyfunc(sp.simplify)


def cosine(a: Any, b: Any) -> float:
    """cos ∠(a, b) of two vectors (numpy or sympy), as a float."""
    x = np.asarray(np.array(a, dtype=float)).reshape(-1)
    y = np.asarray(np.array(b, dtype=float)).reshape(-1)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
