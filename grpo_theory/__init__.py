"""grpo_theory: checkable claims about GRPO, 2-GRPO and DPO.

Subpackages
-----------
losses       the one loss library (advantages, PPO surrogate, KL, aggregation, GRPO, DPO, registry)
theory       exact (sympy) results R1-R14 and their Monte Carlo checks
paper        the paper's tables as data, and the recomputed headline numbers
llm          a small causal-LM RLVR experiment that trains with ``losses``
realcheck    the theory measured on real language models
figures      data and plot scripts behind ``make figures``
bench        benchmarks behind ``make bench``

Axis legend used in every docstring: P prompts, G rollouts per prompt, T tokens.
"""

__version__ = "0.1.0"
