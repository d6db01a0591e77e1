"""The registry of the paper's formal results: one :class:`Result` per R-id, R1–R14.

Each entry names the paper's statement, our verdict, the proof file and a symbolic check. A check returns
True when the exact computation confirms the verdict as recorded: for "holds" the identity, for "false as
printed" the counterexample or the recomputation that contradicts the printed statement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from grpo_theory.theory import (
    contrastive,
    control_variate,
    dpo_link,
    expected_gradient,
    exploration,
    two_sample,
    variance,
    zero_signal,
)

HOLDS = "holds"
CONDITIONAL = "holds under stated conditions"
FALSE = "false as printed"
VERDICT_KINDS = (HOLDS, CONDITIONAL, FALSE)


@dataclass(frozen=True)
class Result:
    """One formal result of the paper and what we found."""

    id: str
    title: str
    statement: str
    reference: str
    verdict: str  # one of VERDICT_KINDS
    note: str  # the conditions, or the correction for FALSE
    proof: str  # path of the proof, relative to the repository root
    check: Callable[[], bool] = field(repr=False)
    tests: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in VERDICT_KINDS:
            raise ValueError(f"{self.id}: verdict must be one of {VERDICT_KINDS}, got {self.verdict!r}")

    @property
    def verdict_text(self) -> str:
        """The verdict with its conditions or correction, as printed in the report."""
        if self.verdict == FALSE:
            return f"{FALSE} (correction: {self.note})"
        return f"{self.verdict} ({self.note})" if self.note else self.verdict


def _check_R14() -> bool:
    from grpo_theory import paper
    from grpo_theory.paper.errata import ROUNDING

    reproduced = (
        round(100 * paper.v3_mean_retention(), 1) == 97.6
        and round(100 * paper.v3_time_fraction()) == 21
        and round(100 * paper.v2_time_fraction()) == 21
        and paper.rollout_fraction() == 0.125
    )
    not_reproduced = all(round(100 * v, 1) != 98.1 for v in paper.v2_retention_candidates().values())
    typos = len(paper.v2_delta_typos()) == 3
    t4 = len(paper.v3_table4_vs_table1(tol=ROUNDING)) == 3 and len(paper.v3_table4_rollout_labels()) == 1
    return reproduced and not_reproduced and typos and t4


RESULTS: tuple[Result, ...] = (
    Result(
        "R1", "GRPO is a contrastive (positive-minus-negative) update",
        "(1/G) Σ A_i X_i = √(p̂(1−p̂)) (X̄⁺ − X̄⁻) for binary rewards; p̂(1−p̂) for Dr. GRPO; "
        "(1/G²) Σ_{i<j} (r_i − r_j)(X_i − X_j) for real rewards",
        "v2 Prop. 3.1 / v3 Prop. 3.2, Eq. 10 / Eq. 7", CONDITIONAL,
        "binary rewards, population std, ε = 0; for real rewards only the pairwise (centred) form holds",
        "proofs/R1-contrastive-identity.md", contrastive.check_R1,
        ("tests/theory/test_contrastive.py",),
    ),
    Result(
        "R2", "G = 2 advantages",
        "a mixed pair gets ±1/(1+2ε) (ddof 0), ±1/√2 (ddof 1, ε = 0); sign(r_i − r_j) for any real rewards",
        "v2 §5.1 Eq. 14 / v3 §4.3, proof of Prop. C.1", HOLDS, "",
        "proofs/R2-two-rollout-advantages.md", contrastive.check_R2,
        ("tests/theory/test_contrastive.py",),
    ),
    Result(
        "R3", "2-GRPO = RLOO(G=2) = 2 × Dr. GRPO(G=2)",
        "per-prompt estimators coincide: ½ (r_1 − r_2)(X_1 − X_2)",
        "not stated in the paper (cf. arXiv 2603.01162)", CONDITIONAL, "binary rewards, population std, ε = 0",
        "proofs/R3-two-grpo-is-rloo.md", contrastive.check_R3,
        ("tests/theory/test_contrastive.py",),
    ),
    Result(
        "R4", "2-GRPO and DPO gradients",
        "∇J_2GRPO = (−∇L_DPO)/(2Lβσ(Δ)), = (−∇L_DPO)/(βL) at π = π_ref",
        "v2 §3.2 / v3 §3.3 (structural claim only)", CONDITIONAL,
        "ratio 1 (on-policy, no clip), equal lengths under per-sequence token-mean (any lengths under token-sum "
        "or batch token-mean), no k1 KL, mixed pair; the paper proves no identity",
        "proofs/R4-dpo-link.md", dpo_link.check_R4, ("tests/theory/test_dpo_link.py",),
    ),
    Result(
        "R5", "Expected advantage",
        "E[A | r] = (r − p)/(1+2ε) for G = 2; → (r − p)/√(p(1−p)) as G → ∞; exact finite sum for any G",
        "v2 Prop. 5.1 / v3 Prop. C.1", HOLDS, "",
        "proofs/R5-expected-advantage.md", expected_gradient.check_R5,
        ("tests/theory/test_advantage.py",),
    ),
    Result(
        "R6", "Gradient scale λ_G",
        "E[ĝ_G | q] = λ_G(p) ∇p; λ_2 ≡ 1, λ_3 ≡ √2, λ_∞ = 1/√(p(1−p)): same direction, different prompt weights",
        "not stated in the paper; refines v2 Prop. 5.1 / v3 Prop. C.1", HOLDS, "",
        "proofs/R6-gradient-scale.md", expected_gradient.check_R6,
        ("tests/theory/test_advantage.py", "tests/theory/test_expected_gradient.py"),
    ),
    Result(
        "R7", "Zero-signal probability",
        "P0(G, p) = p^G + (1−p)^G; E_q P0 ≥ P0(r̄); v3 App. D.3's P_discard formula",
        "v2 §3.2, v3 App. D.3 / Table 3", FALSE,
        "App. D.3 prints 1 − r̄² − (1−r̄)² = 2r̄(1−r̄) ≤ ½, the kept-pair probability; Table 3 (0.53–0.77) is "
        "r̄² + (1−r̄)²; plugging r̄ in underestimates E_q P0 (Jensen)",
        "proofs/R7-zero-signal.md", zero_signal.check_R7, ("tests/theory/test_zero_signal.py",),
    ),
    Result(
        "R8", "Control variate",
        "Var(g⁺ − c g⁻) ≤ Var(g⁺) iff 0 ≤ c ≤ 2Cov/Var(g⁻); min (1−ρ²)Var(g⁺) at c* = Cov/Var(g⁻)",
        "v2/v3 Prop. 4.1, App. B.5 / B.7", FALSE,
        "the appendix's bound 2Cov²/Var(g⁻) is a typo for 2Cov/Var(g⁻) (counterexample V⁺=16, V⁻=1, Cov=2, "
        "c=6); GRPO has c = 1, so it reduces variance only if Cov ≥ Var(g⁻)/2, which is not measured",
        "proofs/R8-control-variate.md", control_variate.check_R8, ("tests/theory/test_control_variate.py",),
    ),
    Result(
        "R9", "Score identity and total covariance",
        "m⁻ = −p/(1−p) m⁺ (anti-aligned); Cov = E_q Cov(·|q) + Cov_q(m⁺, m⁻) with the first term 0",
        "v3 App. B.8 / Table 2", HOLDS, "",
        "proofs/R9-score-identity.md", control_variate.check_R9, ("tests/theory/test_control_variate.py",),
    ),
    Result(
        "R10", "Variance of a product",
        "Var(rg) = Var(g)[Var(r) + (E r)²] + Cov(r², g²) − Cov(r, g)² when E g = 0",
        "v2 §2.3 Eq. 7 / v3 App. B.1 Eq. 11", CONDITIONAL,
        "needs E g = 0; that the interaction term is negligible is an assumption (it is 7.1× the main term "
        "for a Bernoulli-logit policy at p = 0.1)",
        "proofs/R10-product-variance.md", variance.check_R10, ("tests/theory/test_variance.py",),
    ),
    Result(
        "R11", "Mini-batch variance",
        "Var(ĝ_B) = Var(g)/B; hierarchically Var_q(μ)/Q + E_q σ²/(QG): at fixed B = QG smaller G never hurts",
        "v2 Def. 5.2, Lemma 5.3 / v3 Def. C.2, Lemma C.3", CONDITIONAL,
        "iid terms and Var(g) > 0; the hierarchical form needs terms iid given q, which GRPO's group "
        "baseline violates (Cov(A₁g₁, A₂g₂ | q) = p²(1−p)² in the Bernoulli-logit toy)",
        "proofs/R11-minibatch-variance.md", variance.check_R11, ("tests/theory/test_variance.py",),
    ),
    Result(
        "R12", "Exploration on hard prompts",
        "1 − Π(1−p_i)² ≥ 1 − (1−p_0)^{2m} when p_i ≥ p_0",
        "v2 Prop. 5.4 / v3 Prop. C.4", CONDITIONAL,
        "p_i ≥ p_0 and equal rollout budgets; the runs give 20 vs 160 rollouts per prompt",
        "proofs/R12-exploration.md", exploration.check_R12, ("tests/theory/test_exploration.py",),
    ),
    Result(
        "R13", "n = 2 normalization is Cauchy",
        "with n = 2 the normalization follows a Cauchy law, so normalized advantages have infinite variance",
        "v2 App. B.1 / v3 App. B.2", FALSE,
        "the G = 2 normalized advantage is ±1 or 0 (±1/√2 with the sample std) for any rewards, so bounded; "
        "the t₁ = Cauchy fact concerns (X̄ − μ)/(s/√2) around the true mean",
        "proofs/R13-two-sample-normalization.md", two_sample.check_R13, ("tests/theory/test_two_sample.py",),
    ),
    Result(
        "R14", "The paper's numbers",
        "97.6% / 21% (v3), 98.1% / 21% (v2), 12.5% of rollouts; Tables 1–4 consistent",
        "v2 abstract, Table 1; v3 abstract, Tables 1–4", FALSE,
        "97.63%, 20.96%, 21.01% and 12.5% reproduce; v2's 98.1% does not (closest reading 98.18%); v2 Δ row "
        "has 3 typos; v3 Table 4's 16-GRPO MATH/Qwen-1.5B OlympiadBench (22.30/38.33) and Average (34.15) "
        "disagree with Table 1 (23.11/37.82, 34.31); '16 32/256' should be 32/512",
        "proofs/R14-paper-numbers.md", _check_R14, ("tests/paper/test_headlines.py", "tests/paper/test_errata.py"),
    ),
)

BY_ID: dict[str, Result] = {r.id: r for r in RESULTS}
