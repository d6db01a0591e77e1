"""Monte Carlo engine: toy policies whose gradients are known exactly, vectorized estimators, checks.

Modules
-------
toy_policy         ``ToyPolicy`` (probabilities, rewards, score table, lengths), sampling, exact moments
bandit             per-prompt softmax bandit over K responses (θ ``[Q, K]``)
tabular            autoregressive tabular policy (V tokens, EOS, length ≤ L, parameters shared by prompts)
estimators         group gradient estimators ĝ_G = (1/G) Σ A_i g_i with advantages from ``grpo_theory.losses``
exact              exact finite sums over k ~ Bin(G, p): E[A | r], λ_G, P0, advantage moments
variance           exact means/variances of the estimators and of (g⁺, g⁻) pairs, by enumeration
stats              means, standard errors, z-scores, Bonferroni, ``McResult``
checks             ``MC_CHECKS``: one check per result (R1-R16 but R14), in checks_identities / _gradients /
                   _variance / _real_rewards
sign_amplification a 1e-9 reward gap gets the full ±1 under 2-GRPO, on a real model (R15)
sweeps             data for the figures (λ_G(p), variance vs G at a fixed budget, control-variate curve)
fixtures           the fixed toy policies the checks run on
threads            run on one intra-op thread

Axis legend: R replicates, Q prompts, G rollouts per prompt, N responses, D parameters. Everything is
float64 and every sampler takes an explicit ``torch.Generator``.
"""
