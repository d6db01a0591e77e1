r"""A small autoregressive tabular policy whose every response can be enumerated.

Vocabulary ``{0, ..., V-1}`` with token 0 = EOS; responses have at most L tokens. A *state* is a
non-EOS prefix of length ``0..L-1`` (there are :math:`S = \sum_{t<L}(V-1)^t` of them). Generation
stops after EOS or after L tokens, so lengths vary in ``1..L`` and token-mean and sequence-sum score
functions differ.

Parameters :math:`\theta` ``[S, V]`` are **shared by all prompts**, as in a language model; prompt q
adds a fixed offset table ``[S, V]`` (its "context"):

.. math::

    \pi_q(v\mid s) = \mathrm{softmax}_v(\theta_{s} + b_{q,s}),\qquad
    \nabla_\theta\log\pi_q(o) = \sum_{t} \big(e_{s_t, o_t} - e_{s_t}\otimes\pi_q(\cdot\mid s_t)\big),

so D = S·V. A response is encoded by its visit table :math:`C_n\in\{0,1\}^{S\times V}` (which
(state, token) pairs it uses): :math:`\log\pi_q(o_n) = \langle C_n, \log\pi_q\rangle` and the score
is :math:`C_n - (\textstyle\sum_v C_n)\odot\pi_q`. Each prompt has its own binary reward over the N
responses.
"""

from __future__ import annotations

import itertools

import torch

from grpo_theory.montecarlo.toy_policy import ToyPolicy

Tensor = torch.Tensor


def enumerate_responses(vocab: int, max_len: int) -> tuple[Tensor, Tensor, list[tuple[int, ...]]]:
    """All responses of the tabular policy, as visit tables.

    Args:
        vocab: V >= 2 (token 0 is EOS).
        max_len: L >= 1.

    Returns:
        ``(visits [N, S, V], lengths [N], responses)`` where ``responses[n]`` is the token tuple.
    """
    states: dict[tuple[int, ...], int] = {}
    for t in range(max_len):
        for prefix in itertools.product(range(1, vocab), repeat=t):
            states[prefix] = len(states)
    responses: list[tuple[int, ...]] = []
    for prefix in states:
        responses.append((*prefix, 0))  # EOS after this prefix
        if len(prefix) == max_len - 1:
            responses.extend((*prefix, v) for v in range(1, vocab))  # length cap reached
    visits = torch.zeros(len(responses), len(states), vocab, dtype=torch.float64)
    for n, resp in enumerate(responses):
        for t, tok in enumerate(resp):
            visits[n, states[resp[:t]], tok] = 1.0
    lengths = torch.tensor([len(r) for r in responses], dtype=torch.float64)
    return visits, lengths, responses


def tabular_policy(
    theta: Tensor,
    offsets: Tensor,
    rewards: Tensor,
    *,
    vocab: int,
    max_len: int,
    name: str = "tabular",
) -> ToyPolicy:
    """The :class:`ToyPolicy` of the autoregressive tabular policy.

    Args:
        theta: ``[S, V]`` shared logits.
        offsets: ``[Q, S, V]`` per-prompt logit offsets.
        rewards: ``[Q, N]`` binary rewards over the responses of :func:`enumerate_responses`.
        vocab, max_len: V and L.
        name: label.
    """
    visits, lengths, _ = enumerate_responses(vocab, max_len)
    n, s, v = visits.shape
    q = offsets.shape[0]
    if theta.shape != (s, v) or offsets.shape != (q, s, v) or rewards.shape != (q, n):
        raise ValueError(
            f"expected theta [{s}, {v}], offsets [Q, {s}, {v}], rewards [Q, {n}]; got "
            f"{tuple(theta.shape)}, {tuple(offsets.shape)}, {tuple(rewards.shape)}"
        )
    visit_state = visits.sum(-1)  # (N, S): 1 where the response passes through state s

    def log_prob_fn(th: Tensor) -> Tensor:
        logp_tok = torch.log_softmax(th.reshape(s, v).unsqueeze(0) + offsets, -1)  # (Q, S, V)
        return torch.einsum("nsv,qsv->qn", visits, logp_tok)

    theta = theta.detach()
    pi_tok = torch.softmax(theta.unsqueeze(0) + offsets, -1)  # (Q, S, V)
    # score[q, n] = C_n - visit_state[n, s] * pi_q(. | s)   -> (Q, N, S, V)
    scores = visits.unsqueeze(0) - visit_state[None, :, :, None] * pi_tok.unsqueeze(1)
    probs = log_prob_fn(theta).exp()
    return ToyPolicy(
        probs=probs,
        rewards=rewards.to(theta.dtype),
        scores=scores.reshape(q, n, s * v),
        lengths=lengths.unsqueeze(0).expand(q, n).contiguous(),
        theta=theta.reshape(-1),
        log_prob_fn=log_prob_fn,
        name=name,
    )


def random_tabular_policy(
    num_prompts: int,
    generator: torch.Generator,
    *,
    vocab: int = 3,
    max_len: int = 4,
    offset_scale: float = 1.0,
    theta_scale: float = 0.5,
    p_low: float = 0.1,
    p_high: float = 0.9,
) -> ToyPolicy:
    """A tabular policy with heterogeneous prompts.

    Each prompt draws offsets ``offset_scale * N(0, 1)`` and a random reward set: responses are
    ranked by a uniform key and marked correct while the midpoint of their cumulative mass is below
    a target stratified over :math:`[p_{low}, p_{high}]`, so :math:`p_q\\approx t_q`, with at least one
    correct and one wrong response (:math:`0 < p_q < 1`).
    """
    visits, _, _ = enumerate_responses(vocab, max_len)
    n, s, v = visits.shape
    theta = theta_scale * torch.randn(s, v, generator=generator, dtype=torch.float64)
    offsets = offset_scale * torch.randn(num_prompts, s, v, generator=generator, dtype=torch.float64)
    logp = torch.einsum("nsv,qsv->qn", visits, torch.log_softmax(theta + offsets, -1))
    probs = logp.exp()
    # stratified targets: one per slice of [p_low, p_high], in random order
    strata = (
        torch.randperm(num_prompts, generator=generator) + torch.rand(num_prompts, generator=generator)
    ) / num_prompts
    target = p_low + (p_high - p_low) * strata.to(torch.float64)
    order = torch.argsort(torch.rand(num_prompts, n, generator=generator, dtype=torch.float64), dim=-1)
    cum = torch.gather(probs, 1, order).cumsum(-1)
    # correct = the responses, in random order, whose cumulative-mass midpoint lies below the target
    # (so p_q is close to t_q on either side); at least one, never all N.
    take = ((cum - torch.gather(probs, 1, order) / 2) < target.unsqueeze(-1)).to(torch.float64)
    take[:, -1] = 0.0
    take[:, 0] = 1.0
    rewards = torch.zeros(num_prompts, n, dtype=torch.float64).scatter_(1, order, take)
    return tabular_policy(
        theta, offsets, rewards, vocab=vocab, max_len=max_len,
        name=f"tabular(Q={num_prompts},V={vocab},L={max_len})"
    )
