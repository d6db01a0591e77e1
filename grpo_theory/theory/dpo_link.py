r"""2-GRPO and DPO: the exact gradient relation and where it breaks (R4).

The paper claims a structural equivalence (both gradients are "positive minus negative", Def. 2.1/3.1); it
gives no identity. Here is the identity and its conditions, checked exactly on a tiny policy.

Model: a context-free policy over V = 3 tokens, π_w(v) = w_v / Σ_u w_u (direct parametrization keeps every
gradient rational), sequences o = (o_1..o_T), log π(o) = Σ_t log π(o_t), score s(o) = ∇_w log π(o).
One mixed pair (o⁺, o⁻), 2-GRPO advantages A± = ±1 (population std, ε = 0), surrogate with ratio
ρ_t = π_w(o_t)/π_old(o_t) aggregated per sequence by token-mean and over the pair by ½ Σ:

.. math::  J = \tfrac12\Big[\tfrac{1}{|o^+|}\sum_t \rho^+_t - \tfrac{1}{|o^-|}\sum_t \rho^-_t\Big],
           \qquad \mathcal L_{DPO} = -\log\sigma\big(\beta[\log\tfrac{\pi_w(o^+)}{\pi_{ref}(o^+)}
           - \log\tfrac{\pi_w(o^-)}{\pi_{ref}(o^-)}]\big).

At w = w_old (ρ = 1, so no clipping) and |o⁺| = |o⁻| = L:

.. math::  \nabla J = \frac{1}{2L\beta\,\sigma(\Delta)}\,(-\nabla\mathcal L_{DPO}),\quad
           \Delta = \beta\big[\log\tfrac{\pi(o^-)}{\pi_{ref}(o^-)} -
           \log\tfrac{\pi(o^+)}{\pi_{ref}(o^+)}\big],

which is 1/(βL) at π = π_ref (σ(0) = ½); with token-sum aggregation L drops out (any lengths); with
token-mean over the whole batch (verl's default) each pair gets (s⁺ − s⁻)/N, N the batch's token count, so
the batch gradient is 1/(β L̄) × DPO's at π = π_ref for any lengths (L̄ = mean length); with the
sample std (A± = ±1/√2) multiply by 1/√2. It breaks with unequal lengths under token-mean; off-policy
(ρ ≠ 1 reweights tokens by ρ_t) and with an active clip (clipped tokens drop out); with a k1 KL term (and a
k3 term once π ≠ π_ref; k3's gradient vanishes at π = π_ref); and on tied pairs, which 2-GRPO ignores and
online DPO trains (first sample taken as chosen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sympy as sp

from grpo_theory.theory.evidence import Evidence
from grpo_theory.theory.symbols import beta
from grpo_theory.vocab import ALL_AGG_MODES, SCORE_KINDS, AnyAggMode

V = 3
W = sp.symbols("w0:3", positive=True)  # current parameters
U = sp.symbols("u0:3", positive=True)  # old / reference parameters: constants under ∇_w
SAME = dict(zip(U, W, strict=True))  # evaluate at w_old = w_ref = w (after differentiating)
EPS_LOW, EPS_HIGH = sp.Rational(1, 5), sp.Rational(7, 25)  # DAPO-style clip (0.2, 0.28), exact


def token_prob(v: int, w: Sequence[sp.Expr] = W) -> sp.Expr:
    return w[v] / sum(w)


def seq_logp(o: Sequence[int], w: Sequence[sp.Expr] = W) -> sp.Expr:
    return sum(sp.log(token_prob(v, w)) for v in o)


def grad(expr: sp.Expr) -> sp.Matrix:
    return sp.Matrix([sp.diff(expr, x) for x in W])


def score(o: Sequence[int]) -> sp.Matrix:
    """s(o) = ∇_w log π_w(o), shape (V, 1)."""
    return grad(seq_logp(o))


def sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


#: The aggregations :func:`grpo_pair_surrogate` writes out symbolically (names of ``grpo_theory.vocab``).
AGGS: tuple[AnyAggMode, ...] = ("seq-mean-token-mean", "seq-mean-token-sum", "token-mean")


def grpo_pair_surrogate(
    o_pos: Sequence[int],
    o_neg: Sequence[int],
    w_old: Sequence[sp.Expr],
    *,
    agg: AnyAggMode = "seq-mean-token-mean",
    adv: sp.Expr = sp.S.One,
    clip: bool = False,
    at: dict | None = None,
) -> sp.Expr:
    """½ [A⁺ agg_t C⁺(ρ⁺_t) + A⁻ agg_t C⁻(ρ⁻_t)] with A± = ±adv.

    ``agg``: "seq-mean-token-mean" (token mean per sequence, then ½ Σ over the pair), "seq-mean-token-sum"
    (per-sequence sums, then ½ Σ), or "token-mean" (all tokens of the pair divided by their count).

    ``clip=True`` applies the PPO clip min(Aρ, A clip(ρ, 1−ε_low, 1+ε_high)); the active branch is chosen
    by evaluating ρ at the point ``at`` (the gradient there is that branch's gradient).
    """
    if agg not in AGGS:
        raise ValueError(f"agg must be one of {AGGS}, got {agg!r}")
    total = sp.Integer(0)
    n_tokens = len(o_pos) + len(o_neg)
    for o, a in ((o_pos, adv), (o_neg, -adv)):
        terms = []
        for v in o:
            rho = token_prob(v) / token_prob(v, w_old)
            if clip:
                r0 = rho.subs(at or {})
                # A > 0 keeps min(ρ, 1+ε_high); A < 0 keeps max(ρ, 1−ε_low): outside, the term is a constant
                clipped = r0 > 1 + EPS_HIGH if a > 0 else r0 < 1 - EPS_LOW
                rho = r0 if clipped else rho
            terms.append(a * rho)
        total += sum(terms) / (len(o) if agg == "seq-mean-token-mean" else 1)
    # token-mean (verl's default): Σ over all tokens / total token count, no ½ Σ_pair
    return total / n_tokens if agg == "token-mean" else total / 2


def two_grpo_dpo_factor(
    agg: str,
    beta: Any,
    lengths: Iterable[Sequence[Any]],
    *,
    sigma: Any = None,
    horizon: Any = None,
    adv: Any = 1,
    dpo_logps: str = "summed",
) -> Any:
    r"""The constant κ of R4, :math:`\nabla J_{\rm 2GRPO} = \kappa\,(-\nabla\mathcal L_{\rm DPO})`, or None.

    The one place the 2-GRPO ↔ DPO factor is written; everything else (the Monte Carlo check, the
    real-model check, the figures) calls this. Setting: P mixed pairs :math:`(o^+_i, o^-_i)` with
    lengths ``lengths`` ``[(|o⁺_i|, |o⁻_i|)]``; 2-GRPO objective J of the batch aggregated by ``agg`` (one of
    ``vocab.ALL_AGG_MODES``),
    advantages A± = ±``adv`` (1: population std, 1/√2: sample std), ratio 1, no clip, no KL;
    :math:`\mathcal L_{\rm DPO}` the mean over the pairs of :math:`-\log\sigma(\beta u_i)` with summed
    (or, ``dpo_logps="length-normalized"``, length-normalized) log-probs; every pair's
    :math:`\sigma(\Delta_i)` equal to ``sigma`` (default ½: π = π_ref). With
    :math:`v_i = \nabla\log\pi(o^+_i) - \nabla\log\pi(o^-_i)`, :math:`-\nabla\mathcal L_{\rm DPO} =
    \frac{\beta\sigma}{P}\sum_i v_i` and, N = Σ lengths, C = ``horizon`` (the padded width):

    ========================== ==============================================================
    ``seq-mean-token-mean``     a/(2βσL) if every length is L, else None (not parallel)
    ``seq-mean-token-sum``      a/(2βσ)
    ``seq-mean-token-sum-norm`` a/(2βσC)
    ``token-mean``              aP/(βσN)   (any lengths)
    ``token-sum``               aP/(βσ)
    ``prompt-mean-token-mean``  a/(βσn) if every pair has n = |o⁺| + |o⁻| tokens, else None
    ========================== ==============================================================

    Length-normalized DPO divides each :math:`\nabla\log\pi(o)` by |o|: then ``seq-mean-token-mean``
    gives a/(2βσ) for any lengths, and the other modes give L × their summed-DPO κ if every length is L
    (else None). Numbers in, numbers out: floats, sympy expressions or tensors (for ``sigma`` per pair,
    pass one pair per call). Checked symbolically by :func:`check_R4` and against the loss library's
    autograd gradients in ``tests/theory/test_dpo_link.py``.
    """
    pairs = [(int(a), int(b)) for a, b in lengths]
    if agg not in ALL_AGG_MODES:
        raise ValueError(f"agg must be one of {ALL_AGG_MODES}, got {agg!r}")
    if dpo_logps not in SCORE_KINDS:
        raise ValueError(f"dpo_logps must be one of {SCORE_KINDS}, got {dpo_logps!r}")
    if not pairs or min(min(p) for p in pairs) < 1:
        raise ValueError("lengths must be a non-empty list of (|o+|, |o-|) pairs of lengths >= 1, got "
                         f"{pairs}")
    if agg == "seq-mean-token-sum-norm" and horizon is None:
        raise ValueError("horizon (the padded width C) is required for agg 'seq-mean-token-sum-norm'")
    two_sigma = 1 if sigma is None else 2 * sigma  # 2σ(Δ) = 1 at π = π_ref
    n_pairs, n_tokens = len(pairs), sum(a + b for a, b in pairs)
    one_length = {x for p in pairs for x in p}
    if dpo_logps == "length-normalized":
        if agg == "seq-mean-token-mean":
            return adv / (beta * two_sigma)
        if len(one_length) != 1:
            return None
        return one_length.pop() * two_grpo_dpo_factor(agg, beta, pairs, sigma=sigma, horizon=horizon, adv=adv)
    if agg == "seq-mean-token-mean":
        return adv / (beta * two_sigma * one_length.pop()) if len(one_length) == 1 else None
    if agg == "seq-mean-token-sum":
        return adv / (beta * two_sigma)
    if agg == "seq-mean-token-sum-norm":
        return adv / (beta * two_sigma * horizon)
    if agg == "token-mean":
        return 2 * adv * n_pairs / (beta * two_sigma * n_tokens)
    if agg == "token-sum":
        return 2 * adv * n_pairs / (beta * two_sigma)
    per_pair = {a + b for a, b in pairs}  # prompt-mean-token-mean: one prompt per pair
    return 2 * adv / (beta * two_sigma * per_pair.pop()) if len(per_pair) == 1 else None


def dpo_loss(o_pos: Sequence[int], o_neg: Sequence[int], w_ref: Sequence[sp.Expr]) -> sp.Expr:
    u = beta * ((seq_logp(o_pos) - seq_logp(o_pos, w_ref)) - (seq_logp(o_neg) - seq_logp(o_neg, w_ref)))
    return -sp.log(sigmoid(u))


# ------------------------------------------------------------------------------------------------ checks

O_POS, O_NEG = (0, 1), (2, 2)  # a mixed pair of equal length L = 2
AT_REF = dict(zip(W, (1, 2, 3), strict=True))  # a generic point (no symmetry between tokens)


def check_constant_at_reference() -> Evidence:
    """∇J = (1/(βL)) (−∇L_DPO) at w = w_old = w_ref, symbolic w and β, L = 2."""
    ev = Evidence("constant 1/(βL) at π = π_ref")
    gJ = grad(grpo_pair_surrogate(O_POS, O_NEG, U)).subs(SAME)
    gD = -grad(dpo_loss(O_POS, O_NEG, U)).subs(SAME)
    ev.zero_vec("∇J − (−∇L_DPO)/(βL)", gJ - gD * two_grpo_dpo_factor(AGGS[0], beta, [(2, 2)]))
    ev.zero("κ = 1/(βL)", two_grpo_dpo_factor(AGGS[0], beta, [(2, 2)]) - 1 / (2 * beta))
    return ev


def check_constant_away_from_reference() -> Evidence:
    """∇J = (−∇L_DPO) / (2Lβσ(Δ)) for π ≠ π_ref (ratio still 1), at an exact point, L = 3."""
    o_pos, o_neg, L = (0, 1, 1), (2, 0, 2), 3
    w_ref = (sp.Integer(2), sp.Integer(1), sp.Integer(1))
    gJ = grad(grpo_pair_surrogate(o_pos, o_neg, U)).subs(SAME).subs(AT_REF)
    gD = (-grad(dpo_loss(o_pos, o_neg, w_ref))).subs(AT_REF)
    delta = beta * ((seq_logp(o_neg) - seq_logp(o_neg, w_ref)) - (seq_logp(o_pos) - seq_logp(o_pos, w_ref)))
    ev = Evidence("constant 1/(2Lβσ(Δ)) away from π_ref")
    kappa = two_grpo_dpo_factor(AGGS[0], beta, [(L, L)], sigma=sigmoid(delta.subs(AT_REF)))
    ev.zero_vec("∇J − (−∇L_DPO)/(2Lβσ(Δ))", gJ - gD * kappa)
    return ev


def check_sum_aggregation_any_lengths() -> Evidence:
    """Token-sum aggregation: ∇J = (1/β)(−∇L_DPO) at π = π_ref for |o⁺| ≠ |o⁻|."""
    o_pos, o_neg = (0,), (2, 1, 2)
    gJ = grad(grpo_pair_surrogate(o_pos, o_neg, U, agg="seq-mean-token-sum")).subs(SAME)
    kappa = two_grpo_dpo_factor("seq-mean-token-sum", beta, [(len(o_pos), len(o_neg))])
    ev = Evidence("token-sum aggregation, any lengths")
    ev.zero_vec("∇J − (−∇L_DPO)/β", gJ - (-grad(dpo_loss(o_pos, o_neg, U))).subs(SAME) * kappa)
    ev.zero("κ = 1/β", kappa - 1 / beta)
    return ev


def check_batch_token_mean_any_lengths() -> Evidence:
    """Token-mean over the whole batch: ∇J = (2/(βN))(−∇L_DPO) at π = π_ref, N = |o⁺| + |o⁻|, any lengths.

    Over a batch of P mixed pairs with N tokens in all this is 1/(β L̄), L̄ = N/(2P) the mean length.
    """
    o_pos, o_neg = (0,), (2, 1, 2)
    gJ = grad(grpo_pair_surrogate(o_pos, o_neg, U, agg="token-mean")).subs(SAME)
    n = len(o_pos) + len(o_neg)
    kappa = two_grpo_dpo_factor("token-mean", beta, [(len(o_pos), len(o_neg))])
    ev = Evidence("batch token-mean, any lengths")
    ev.zero_vec("∇J − 2(−∇L_DPO)/(βN)", gJ - (-grad(dpo_loss(o_pos, o_neg, U))).subs(SAME) * kappa)
    ev.zero("κ = 2/(βN)", kappa - 2 / (beta * n))
    return ev


def check_sample_std_constant() -> Evidence:
    """Sample std (A± = ±1/√2): the constant at π = π_ref becomes 1/(√2 βL)."""
    gJ = grad(grpo_pair_surrogate(O_POS, O_NEG, U, adv=1 / sp.sqrt(2))).subs(SAME)
    kappa = two_grpo_dpo_factor(AGGS[0], beta, [(2, 2)], adv=1 / sp.sqrt(2))
    ev = Evidence("sample std constant")
    ev.zero_vec("∇J − (−∇L_DPO)/(√2 βL)", gJ - (-grad(dpo_loss(O_POS, O_NEG, U))).subs(SAME) * kappa)
    ev.zero("κ = 1/(√2 βL)", kappa - 1 / (sp.sqrt(2) * beta * 2))
    return ev


def check_unequal_lengths_break_token_mean() -> Evidence:
    o_pos, o_neg = (0,), (2, 1, 2)
    gJ = grad(grpo_pair_surrogate(o_pos, o_neg, U)).subs(SAME).subs(AT_REF)
    gD = (-grad(dpo_loss(o_pos, o_neg, U))).subs(SAME).subs(AT_REF)
    ev = Evidence("unequal lengths under token-mean")
    kappa = two_grpo_dpo_factor(AGGS[0], beta, [(len(o_pos), len(o_neg))])
    ev.add("no κ for unequal lengths under seq-mean-token-mean", kappa is None, f"κ = {kappa}")
    ev.not_parallel("∇J not parallel to −∇L_DPO", gJ, gD)
    return ev


def check_off_policy_and_clip_break() -> Evidence:
    """Old = ref = (1,1,1), current (2,1,1): ρ ≠ 1 reweights tokens by ρ_t, and the clip removes tokens.

    Token 0 of o⁺ has ρ = 3/2 > 1 + ε_high and both tokens of o⁻ have ρ = 3/4 < 1 − ε_low, so the clipped
    gradient is that of token 1 of o⁺ alone: ½ · ½ ∇ρ(o⁺_2). Neither gradient is parallel to DPO's.
    """
    old = (sp.Integer(1),) * V
    at = dict(zip(W, (2, 1, 1), strict=True))
    gJ = grad(grpo_pair_surrogate(O_POS, O_NEG, old, clip=True, at=at)).subs(at)
    gJ_unclipped = grad(grpo_pair_surrogate(O_POS, O_NEG, old)).subs(at)
    gD = (-grad(dpo_loss(O_POS, O_NEG, old))).subs(at)
    only_token_1 = (grad(token_prob(1) / token_prob(1, old)) / 4).subs(at)
    ev = Evidence("off-policy ratio and active clip")
    ev.zero_vec("clipped gradient = token 1 of o⁺ alone", gJ - only_token_1)
    ev.not_parallel("clipped ∇J not parallel to DPO's", gJ, gD)
    ev.not_parallel("unclipped off-policy ∇J not parallel to DPO's", gJ_unclipped, gD)
    return ev


def check_kl_terms() -> Evidence:
    """k3 = e^x − x − 1 (x = log π_ref − log π) has zero gradient at π = π_ref, not away from it; k1 never."""
    def kl_mean(o, w_ref, kind):
        xs = [sp.log(token_prob(v, w_ref)) - sp.log(token_prob(v)) for v in o]
        return sum((sp.exp(x) - x - 1) if kind == "k3" else -x for x in xs) / len(o)

    w_ref = (sp.Integer(2), sp.Integer(1), sp.Integer(1))
    k3_at_ref = grad(kl_mean(O_POS, U, "k3") + kl_mean(O_NEG, U, "k3")).subs(SAME)
    k3_away = grad(kl_mean(O_POS, w_ref, "k3") + kl_mean(O_NEG, w_ref, "k3")).subs(AT_REF)
    k1_at_ref = grad(kl_mean(O_POS, U, "k1") + kl_mean(O_NEG, U, "k1")).subs(SAME).subs(AT_REF)
    gJ = grad(grpo_pair_surrogate(O_POS, O_NEG, U)).subs(SAME).subs(AT_REF)
    gJ_k1 = gJ - sp.Rational(1, 10) * k1_at_ref / 2  # J − β_KL · ½ Σ_seq mean_t k1, β_KL = 0.1
    gD = (-grad(dpo_loss(O_POS, O_NEG, U))).subs(SAME).subs(AT_REF)
    ev = Evidence("KL terms")
    ev.zero_vec("k3 gradient at π = π_ref is 0", k3_at_ref)
    ev.nonzero_vec("k3 gradient away from π_ref is not 0", k3_away)
    ev.not_parallel("with k1, ∇J not parallel to DPO's", gJ_k1, gD)
    return ev


def check_ties() -> Evidence:
    """A tied pair: 2-GRPO advantages are 0 (no gradient); online DPO takes o_1 as chosen and trains."""
    o1, o2 = (0, 1), (2, 2)
    gJ = grad(grpo_pair_surrogate(o1, o2, U, adv=sp.Integer(0))).subs(SAME)
    gD = (-grad(dpo_loss(o1, o2, U))).subs(SAME).subs(AT_REF)
    ev = Evidence("tied pair")
    ev.zero_vec("2-GRPO gradient of a tied pair is 0", gJ)
    ev.nonzero_vec("online DPO gradient of the same pair is not 0", gD)
    return ev


def check_micro_batch_normalization() -> Evidence:
    """Batch token-mean needs ONE token denominator over the optimizer batch; per-micro-batch breaks it.

    Two mixed pairs of different token counts (2 and 6), at π = π_ref. With one denominator N = 8 over both,
    the summed gradient is parallel to the summed DPO gradient (constant 2/(βN)). With gradient accumulation
    over two micro-batches (one pair each), each normalized by its own token count, pair 1 gets weight 1/2
    and pair 2 weight 1/6: the sum is not parallel to DPO's.
    """
    ev = Evidence("micro-batch token normalization")
    pairs = (((0,), (2,)), ((1, 0, 1), (2, 2, 0)))
    n_total = sum(len(a) + len(b) for a, b in pairs)
    one_denominator = sum(2 * grpo_pair_surrogate(a, b, U, agg="seq-mean-token-sum") for a,
                          b in pairs) / n_total
    per_micro = sum(grpo_pair_surrogate(a, b, U, agg="token-mean") for a, b in pairs)
    gD = sum(((-grad(dpo_loss(a, b, U))).subs(SAME).subs(AT_REF) for a, b in pairs), sp.zeros(V, 1))
    g_one = grad(one_denominator).subs(SAME).subs(AT_REF)
    g_micro = grad(per_micro).subs(SAME).subs(AT_REF)
    # gD sums the pairs' DPO gradients; two_grpo_dpo_factor's L_DPO is their mean (hence / P)
    kappa = two_grpo_dpo_factor("token-mean", beta, [(len(a), len(b)) for a, b in pairs]) / len(pairs)
    ev.zero_vec(f"one denominator N = {n_total}: ∇J = 2(−∇L_DPO)/(βN)", g_one - gD * kappa)
    ev.not_parallel("per-micro-batch denominators: ∇J not parallel to DPO's", g_micro, gD)
    return ev


def check_R4() -> Evidence:
    ev = Evidence("R4")
    for fn in (check_constant_at_reference, check_constant_away_from_reference,
               check_sum_aggregation_any_lengths,
               check_batch_token_mean_any_lengths, check_sample_std_constant,
               check_unequal_lengths_break_token_mean,
               check_off_policy_and_clip_break, check_kl_terms, check_ties, check_micro_batch_normalization):
        ev.extend(fn.__name__.removeprefix("check_"), fn())
    return ev


CHECKS = {"R4": check_R4}
