"""Every public function rejects bad input with a ValueError that names the argument."""

import re

import pytest
import torch

from grpo_theory.losses import (
    aggregate,
    contrastive_form,
    dpo_loss,
    dr_grpo_loss,
    group_advantages,
    grpo_loss,
    kl_estimate,
    online_dpo_loss,
    pairs_from_groups,
    policy_surrogate,
    rloo_advantages,
    rloo_loss,
    sequence_logps,
    two_grpo_loss,
)

F64 = torch.float64
P, G, T = 2, 2, 3
LP = -torch.ones(P, G, T, dtype=F64)
LP3 = -torch.ones(P, 3, T, dtype=F64)
M = torch.ones(P, G, T, dtype=F64)
R = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=F64)
A = torch.zeros(P, G, dtype=F64)
V = torch.zeros(4, dtype=F64)
NAN = torch.tensor([[1.0, float("nan")]])
INF = torch.tensor([[1.0, float("inf")]])

CASES = {
    # group_advantages / rloo_advantages
    "rewards 1-D": (lambda: group_advantages(torch.zeros(3)), r"rewards must have shape \[P, G\]"),
    "rewards G=1": (lambda: group_advantages(torch.zeros(3, 1)), r"rewards must have G >= 2"),
    "rewards NaN": (lambda: group_advantages(NAN),
                    r"rewards has non-finite \(NaN or inf\) entries; pass nan_policy='mask' to treat NaN "
                    r"rewards as missing$"),
    "rewards inf masked": (lambda: group_advantages(INF, nan_policy="mask"),
                           r"rewards has infinite entries; only NaN can be masked$"),
    "rewards not tensor": (lambda: group_advantages([[1.0, 0.0]]),
                           r"rewards must be a torch.Tensor, got list$"),
    "rewards complex": (lambda: group_advantages(torch.zeros(1, 2, dtype=torch.complex64)),
                        r"rewards must be real"),
    "scale unknown": (lambda: group_advantages(R, scale="std"), r"scale must be one of"),
    "ddof 2": (lambda: group_advantages(R, std_ddof=2),
               r"std_ddof must be 0 \(population\) or 1 \(Bessel\), got 2$"),
    "eps negative": (lambda: group_advantages(R, eps=-1e-4), r"eps must be a finite number >= 0"),
    "eps inf": (lambda: group_advantages(R, eps=float("inf")), r"eps must be a finite number >= 0"),
    "nan_policy unknown": (lambda: group_advantages(R, nan_policy="drop"), r"nan_policy must be one of"),
    "rloo G=1": (lambda: rloo_advantages(torch.zeros(2, 1)), r"rewards must have G >= 2"),
    "rloo NaN": (lambda: rloo_advantages(NAN), r"rewards has non-finite"),
    # policy_surrogate
    "logp 2-D": (lambda: policy_surrogate(LP[0], LP[0], A, M[0]), r"logp must have shape \[P, G, T\]"),
    "logp G=1": (lambda: grpo_loss(LP[:, :1], LP[:, :1], R[:, :1], M[:, :1]), r"rewards must have G >= 2"),
    "logp int": (lambda: policy_surrogate(LP.long(), LP, A, M), r"logp must be a floating tensor"),
    "old_logp shape": (lambda: policy_surrogate(LP, LP[..., :2], A, M),
                       r"old_logp must have the shape of logp"),
    "mask shape": (lambda: policy_surrogate(LP, LP, A, M[..., :2]), r"mask must have shape"),
    "mask values": (lambda: policy_surrogate(LP, LP, A, M * 0.5),
                    r"mask must contain only 0 and 1 \(bool or numeric\), got other values$"),
    "mask not tensor": (lambda: policy_surrogate(LP, LP, A, 1.0), r"mask must be a torch.Tensor"),
    "advantages shape": (lambda: policy_surrogate(LP, LP, torch.zeros(P), M),
                         r"advantages must have shape \[P, G\]"),
    "advantages type": (lambda: policy_surrogate(LP, LP, 1.0, M), r"advantages must be a torch.Tensor"),
    "clip_low 1": (lambda: policy_surrogate(LP, LP, A, M, clip_low=1.0), r"clip_low must be in \[0, 1\)"),
    "clip_low negative": (lambda: policy_surrogate(LP, LP, A, M, clip_low=-0.1), r"clip_low must be in"),
    "clip_high negative": (lambda: policy_surrogate(LP, LP, A, M, clip_high=-0.1), r"clip_high must be"),
    "dual_clip 1": (lambda: policy_surrogate(LP, LP, A, M, dual_clip=1.0), r"dual_clip must be None or"),
    "level unknown": (lambda: policy_surrogate(LP, LP, A, M, level="seq"), r"level must be one of"),
    "log_ratio_clamp 0": (lambda: policy_surrogate(LP, LP, A, M, log_ratio_clamp=0.0),
                          r"log_ratio_clamp must"),
    # kl_estimate
    "kl shapes": (lambda: kl_estimate(LP, LP[..., :2]), r"ref_logp must have the shape of logp"),
    "kl kind": (lambda: kl_estimate(LP, LP, "k4"), r"kind must be one of"),
    "kl clamp": (lambda: kl_estimate(LP, LP, "k3", value_clamp=-1.0), r"value_clamp must be None or"),
    "kl clamp 0": (lambda: kl_estimate(LP, LP, "k3", log_ratio_clamp=0.0),
                   r"log_ratio_clamp must be None or a finite"),
    "kl clamp inf": (lambda: kl_estimate(LP, LP, "k3", value_clamp=float("inf")),
                     r"value_clamp must be None or"),
    "kl not tensor": (lambda: kl_estimate(LP, 0.0), r"ref_logp must be a torch.Tensor"),
    # aggregate
    "agg mode": (lambda: aggregate(LP, M, "mean"), r"mode must be one of"),
    "agg mask": (lambda: aggregate(LP, M[0], "token-mean"), r"mask must have shape"),
    "agg 1-D": (lambda: aggregate(LP[0, 0], M[0, 0], "token-mean"),
                r"per_token must have shape \[\.\.\., T\]"),
    "agg int": (lambda: aggregate(LP.long(), M, "token-mean"),
                r"per_token must be a floating torch.Tensor of shape \[\.\.\., T\]$"),
    "agg normalizer 0": (lambda: aggregate(LP, M, "token-mean", normalizer=0.0), r"normalizer must be"),
    "agg normalizer sum": (lambda: aggregate(LP, M, "token-sum", normalizer=3.0),
                           r"normalizer must be None for mode 'token-sum'$"),
    "agg horizon mode": (lambda: aggregate(LP, M, "token-mean", horizon=3.0), r"horizon is only used"),
    "agg horizon 0": (lambda: aggregate(LP, M, "seq-mean-token-sum-norm", horizon=0.0), r"horizon must be"),
    "agg empty_rows": (lambda: aggregate(LP, M, empty_rows="drop"), r"empty_rows must be one of"),
    # grpo-family losses
    "grpo rewards shape": (lambda: grpo_loss(LP, LP, R[:1], M),
                           r"rewards must have shape \[P, G\]=\(2, 2\) matching logp, got \(1, 2\)$"),
    "grpo beta negative": (lambda: grpo_loss(LP, LP, R, M, beta=-0.1), r"beta must be a finite number >= 0"),
    "grpo beta no ref": (lambda: grpo_loss(LP, LP, R, M, beta=0.1),
                         r"ref_logp \(shape \[P, G, T\]\) is required when beta > 0$"),
    "grpo ref shape": (lambda: grpo_loss(LP, LP, R, M, ref_logp=LP[..., :1]),
                       r"ref_logp must have the shape"),
    "grpo NaN": (lambda: grpo_loss(LP, LP, NAN.expand(2, 2), M), r"rewards has non-finite"),
    "grpo agg": (lambda: grpo_loss(LP, LP, R, M, loss_agg_mode="sum"), r"mode must be one of"),
    "two_grpo G=3": (lambda: two_grpo_loss(LP, LP, torch.zeros(P, 3), M),
                     r"rewards must have G = 2 rollouts per prompt for 2-GRPO \(shape \[P, 2\]\)"),
    "two_grpo not tensor": (lambda: two_grpo_loss(LP, LP, [[0.0, 1.0]], M),
                            r"rewards must have G = 2 rollouts per prompt for 2-GRPO \(shape \[P, 2\]\)"),
    "dr_grpo scale": (lambda: dr_grpo_loss(LP, LP, R, M, scale="group"),
                      r"scale is fixed to 'none' for dr_grpo_loss; use grpo_loss to choose it$"),
    "rloo rewards shape": (lambda: rloo_loss(LP, LP, R[:1], M),
                           r"rewards must have shape \[P, G\]=\(2, 2\) matching logp, got \(1, 2\)$"),
    "rloo old_logp shape": (lambda: rloo_loss(LP, LP[..., :2], R, M),
                            r"old_logp must have the shape of logp"),
    "two_grpo ref shape": (lambda: two_grpo_loss(LP, LP, R, M, ref_logp=LP[..., :1]),
                           r"ref_logp must have the shape"),
    "dr_grpo ref shape": (lambda: dr_grpo_loss(LP, LP, R, M, ref_logp=LP[..., :1]),
                          r"ref_logp must have the shape"),
    # DPO
    "dpo beta 0": (lambda: dpo_loss(V, V, V, V, beta=0.0), r"beta must be a finite number > 0, got 0.0$"),
    "dpo beta inf": (lambda: dpo_loss(V, V, V, V, beta=float("inf")),
                     r"beta must be a finite number > 0, got inf$"),
    "agg normalizer inf": (lambda: aggregate(LP, M, "token-mean", normalizer=float("inf")),
                           r"normalizer must be a finite"),
    "dpo ref_rejected shape": (
        lambda: dpo_loss(V, V, V, V[:3], beta=0.1),
        r"ref_rejected_logps must have the shape of policy_chosen_logps \(4,\), got \(3,\)$",
    ),
    "dpo ref_chosen shape": (lambda: dpo_loss(V, V, V[:3], V, beta=0.1),
                             r"ref_chosen_logps must have the shape"),
    "dpo beta negative": (lambda: dpo_loss(V, V, V, V, beta=-1.0), r"beta must be a finite number > 0"),
    "dpo loss_type": (lambda: dpo_loss(V, V, V, V, beta=0.1, loss_type="robust"),
                      r"loss_type must be one of"),
    "dpo smoothing": (lambda: dpo_loss(V, V, V, V, beta=0.1, label_smoothing=0.5),
                      r"label_smoothing must be in"),
    "dpo smoothing ipo": (
        lambda: dpo_loss(V, V, V, V, beta=0.1, loss_type="ipo", label_smoothing=0.1),
        r"label_smoothing is only defined for loss_type='sigmoid', got 'ipo'$",
    ),
    "dpo shapes": (lambda: dpo_loss(V, V[:3], V, V, beta=0.1), r"policy_rejected_logps must have the shape"),
    "dpo 2-D": (lambda: dpo_loss(LP[0], LP[0], LP[0], LP[0], beta=0.1),
                r"policy_chosen_logps must have shape \[N\]"),
    "pairs G=3": (lambda: pairs_from_groups(torch.zeros(2, 3)), r"rewards must have shape \[P, 2\]"),
    "pairs value shape": (lambda: pairs_from_groups(R, torch.zeros(3, 2)),
                          r"values\[0\] must have shape \[P, 2"),
    "pairs value type": (
        lambda: pairs_from_groups(R, R, [[0.0, 1.0]]),
        r"values\[1\] must have shape \[P, 2, \.\.\.\] with \[P, 2\]=\(2, 2\), got list$",
    ),
    "online_dpo ref shape": (lambda: online_dpo_loss(LP, LP, R, M, ref_logp=LP[..., :1]),
                             r"ref_logp must have the shape"),
    "online_dpo old shape": (lambda: online_dpo_loss(LP, LP[:1], R, M, ref_logp=LP),
                             r"old_logp must have the shape"),
    "pairs NaN": (lambda: pairs_from_groups(NAN), r"rewards has non-finite"),
    "online_dpo no ref": (lambda: online_dpo_loss(LP, LP, R, M),
                          r"ref_logp \(shape \[P, 2, T\]\) is required for online DPO: it is the reference "
                          r"policy$"),
    "online_dpo G=3": (
        lambda: online_dpo_loss(LP3, LP3, torch.zeros(2, 3), torch.ones_like(LP3), ref_logp=LP3),
        r"rewards must have shape \[P, 2\]",
    ),
    "online_dpo beta": (lambda: online_dpo_loss(LP, LP, R, M, ref_logp=LP, beta=0.0), r"beta must be"),
    "seq_logps mask": (lambda: sequence_logps(LP, M[..., :1]), r"mask must have shape"),
    "seq_logps int": (lambda: sequence_logps(LP.long(), M),
                      r"logp must be a floating torch.Tensor of shape \[\.\.\., T\]$"),
    # contrastive form
    "contrastive non-binary": (lambda: contrastive_form(LP, LP, R * 0.5 + 0.2, M),
                               r"rewards must be binary \(entries in \{0, 1\}\) for the contrastive form$"),
    "contrastive clip": (lambda: contrastive_form(LP, LP, R, M, clip_low=1.5), r"clip_low must be in"),
    "contrastive clip_high": (lambda: contrastive_form(LP, LP, R, M, clip_high=-1.0), r"clip_high must be"),
    "contrastive shape": (lambda: contrastive_form(LP, LP, R[:1], M),
                          r"rewards must have shape \[P, G\]=\(2, 2\) matching logp, got \(1, 2\)$"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_raises_value_error_naming_the_argument(name):
    fn, pattern = CASES[name]
    with pytest.raises(ValueError) as err:
        fn()
    # The message starts with the offending argument's name (re.match, not re.search).
    assert re.match(pattern, str(err.value)), str(err.value)


def test_good_versions_of_the_bad_inputs_do_not_raise():
    # Guards the table above: each failure is due to the one bad argument, not the shared fixtures.
    group_advantages(R)
    group_advantages(NAN, nan_policy="mask")
    policy_surrogate(LP, LP, A, M, dual_clip=1.5, log_ratio_clamp=1.0, level="sequence")
    policy_surrogate(LP, LP, A, M.bool())
    kl_estimate(LP, LP, "k3+", value_clamp=1.0)
    aggregate(LP, M, "seq-mean-token-sum-norm", horizon=3.0, normalizer=2.0)
    grpo_loss(LP, LP, R, M, ref_logp=LP, beta=0.1)
    two_grpo_loss(LP, LP, R, M)
    dpo_loss(V, V, V, V, beta=0.1, label_smoothing=0.1)
    pairs_from_groups(R, torch.zeros(2, 2))
    online_dpo_loss(LP, LP, R, M, ref_logp=LP)
    contrastive_form(LP, LP, R, M)
