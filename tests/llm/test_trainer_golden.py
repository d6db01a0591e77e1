"""Golden logs: short runs whose per-step numbers are pinned, so that a refactoring of the trainer
cannot change what a run computes unnoticed.

The expected values were produced by the trainer before it was split into rollouts / run_state /
update (same micro model and toy reward as test_trainer). Counts and rewards must match exactly (they
are discrete); losses, gradient norms and ratios to 1e-5 relative (float32 kernels may round
differently on another CPU). A deliberate change of the numbers must update these tables.
"""

from __future__ import annotations

import pytest

from grpo_theory.llm.trainer import read_jsonl, train

from .test_trainer import EvenStartTask, micro_cfg, micro_policy

KEYS = ("count/rollouts", "train/reward", "loss/loss", "loss/grad_norm", "loss/ratio_max")
CASES = {
    "grpo": dict(loss="grpo", rollout_prompts=8, eval_size=4, eval_k=2, eval_every=4),  # off-policy + evals
    "rs": dict(loss="two_grpo", group_size=2, prompts_per_step=4, rollout_prompts=8, resample=True),
    "dpo": dict(loss="online_dpo", group_size=2, prompts_per_step=8, warmup_steps=3),
}
# step, then KEYS; None where the loss does not report the metric
GOLDEN = {
    "grpo": [
        [1, 32, 0.25, -6.478765524065011e-09, 1.0157246589660645, 1.0],
        [2, 32, 0.25, -0.043251883238554, 0.7518258690834045, 1.0821702480316162],
        [3, 64, 0.1875, -1.2417634032146907e-08, 0.8160884976387024, 1.0],
        [4, 64, 0.25, -0.09093345701694489, 0.9878043532371521, 1.0319550037384033],
        [5, 96, 0.375, -1.2957531714263837e-09, 0.9127301573753357, 1.0],
        [6, 96, 0.4375, -0.022138645872473717, 0.8463305830955505, 1.0370625257492065],
        [7, 128, 0.25, -1.56107411442008e-08, 1.0375970602035522, 1.0],
        [8, 128, 0.1875, -0.0005063636344857514, 0.840865969657898, 1.031868815422058],
    ],
    "rs": [
        [1, 32, 0.5, -0.030743729323148727, 1.493842363357544, 1.0],
        [2, 32, 0.5, -0.004569890443235636, 1.0962677001953125, 1.0813119411468506],
        [3, 48, 0.25, 0.0, 0.8185362219810486, 1.0],
        [4, 48, 0.125, 0.029804212972521782, 0.5918768644332886, 1.0413761138916016],
        [5, 80, 0.5, 0.030743729323148727, 1.1668789386749268, 1.0],
        [6, 80, 0.25, 0.0004993704496882856, 0.7720475196838379, 1.031906247138977],
        [7, 96, 0.125, 0.0, 0.5238562226295471, 1.0],
        [8, 96, 0.375, -0.0010003929492086172, 0.6548286080360413, 1.0244172811508179],
    ],
    "dpo": [
        [1, 16, 0.25, 0.6931471824645996, 0.5183621644973755, None],
        [2, 32, 0.1875, 0.6921936869621277, 0.5642207860946655, None],
        [3, 48, 0.375, 0.6910046935081482, 0.46599751710891724, None],
        [4, 64, 0.1875, 0.6869967579841614, 0.6215817332267761, None],
    ],
}
GOLDEN_EVAL = {"grpo": [0.125, 0.25, 0.25]}


@pytest.mark.parametrize("case", sorted(CASES))
def test_short_run_reproduces_the_golden_log(tmp_path, case):
    cfg = micro_cfg(tmp_path, epochs=2, **CASES[case])
    train(cfg, progress=False, policy=micro_policy(), task=EvenStartTask())
    records = read_jsonl(tmp_path / "run" / "log.jsonl")
    got = [[r["step"]] + [r.get(k) for k in KEYS] for r in records if r["step"] > 0]
    want = GOLDEN[case]
    assert [g[:3] for g in got] == [w[:3] for w in want]  # step, rollouts, reward: exact
    for g, w in zip(got, want, strict=True):
        for k, a, b in zip(KEYS[2:], g[3:], w[3:], strict=True):
            assert (a is None) == (b is None), (g[0], k)
            if b is not None:
                assert a == pytest.approx(b, rel=1e-5, abs=1e-7), (g[0], k)
    if case in GOLDEN_EVAL:
        assert [r["eval/mean_at_k"] for r in records if "eval/mean_at_k" in r] == GOLDEN_EVAL[case]
