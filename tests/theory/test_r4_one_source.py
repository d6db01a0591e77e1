"""R4's 2-GRPO ↔ DPO constant has one source, ``theory.dpo_link.two_grpo_dpo_factor``.

Two kinds of evidence: (1) each caller (the Monte Carlo check, the real-model check, the F5 figure) changes
when the function is replaced by a wrong one, so it takes the constant from there; (2) an AST scan finds no
division by β anywhere else in the package (the shape every re-coded constant had: 1/β, 1/(βL),
2P/(βN), 1/(2βσ(Δ))), except the IPO loss's target 1/(2β), which is a different quantity.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from grpo_theory.theory import dpo_link

PKG = Path(__file__).resolve().parents[2] / "grpo_theory"

#: Divisions by β that are not the R4 constant: IPO's squared-loss target u = 1/(2β) (fast and reference).
NOT_R4 = {("losses/dpo.py", "1.0 / (2.0 * beta)"), ("losses/reference.py", "1 / (2 * beta)")}


def _doubled(monkeypatch):
    real = dpo_link.two_grpo_dpo_factor

    def wrong(*args, **kwargs):
        k = real(*args, **kwargs)
        return None if k is None else 2 * k

    monkeypatch.setattr(dpo_link, "two_grpo_dpo_factor", wrong)


def test_monte_carlo_r4_check_takes_its_constants_from_dpo_link(monkeypatch):
    from grpo_theory.montecarlo.checks_identities import check_r4

    good = check_r4(400, 0)
    assert good.passed, good
    _doubled(monkeypatch)
    bad = check_r4(400, 0)
    assert not bad.passed, bad


def test_real_model_check_predictions_come_from_dpo_link(monkeypatch):
    from grpo_theory.realcheck.gradient_equivalence import predicted_batch_ratio

    lengths = torch.tensor([[5.0, 5.0], [5.0, 5.0]])
    modes = ("seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm", "token-mean",
             "token-sum")
    before = [predicted_batch_ratio(m, 0.1, lengths, 8) for m in modes]
    _doubled(monkeypatch)
    after = [predicted_batch_ratio(m, 0.1, lengths, 8) for m in modes]
    assert all(a == 2 * b for a, b in zip(after, before, strict=True)), (before, after)


def test_f5_per_pair_factor_comes_from_dpo_link(monkeypatch):
    from grpo_theory.figures.data.gradients import F5_CONFIG, toy_gradient_equivalence

    cfg = {**F5_CONFIG, "steps": [0], "variants": ["sum, β = 1"], "pairs": 8, "train_pairs": 8}
    good = toy_gradient_equivalence(cfg)["variants"]["sum, β = 1"][0]["pair_rel_dev"]
    _doubled(monkeypatch)
    bad = toy_gradient_equivalence(cfg)["variants"]["sum, β = 1"][0]["pair_rel_dev"]
    assert good < 1e-12 and bad > 0.5, (good, bad)


def _divisions_by_beta(source: str) -> list[str]:
    """Every ``x / (... beta ...)``, and ``<number> / (... b ...)``, in ``source``, as text."""
    found = []
    for n in ast.walk(ast.parse(source)):
        if not (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)):
            continue
        names = {x.id for x in ast.walk(n.right) if isinstance(x, ast.Name)}
        names |= {x.attr for x in ast.walk(n.right) if isinstance(x, ast.Attribute)}
        if any("beta" in x for x in names) or ("b" in names and isinstance(n.left, ast.Constant)):
            found.append(ast.unparse(n))
    return found


def test_the_scan_finds_a_recoded_constant():
    recoded = (
        "def predicted(mode, beta, L, sig, b):\n"
        "    if mode == 'seq-mean-token-sum':\n"
        "        return 1.0 / beta\n"
        "    return 1.0 / (2.0 * b * sig)\n"
    )
    assert sorted(_divisions_by_beta(recoded)) == ["1.0 / (2.0 * b * sig)", "1.0 / beta"]


def test_no_module_but_dpo_link_divides_by_beta():
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel == "theory/dpo_link.py":
            continue
        offenders += [f"{rel}: {expr}" for expr in _divisions_by_beta(path.read_text())
                      if (rel, expr) not in NOT_R4]
    assert not offenders, "R4 constant re-coded outside theory/dpo_link.py:\n" + "\n".join(offenders)
