"""The loss library inside the engines people train with at scale.

* :mod:`grpo_theory.integrations.trl` -- a ``trl.GRPOTrainer`` subclass whose advantages come from
  :func:`grpo_theory.losses.group_advantages` (or RLOO) and whose per-token loss and aggregation come
  from :mod:`grpo_theory.losses`, plus :func:`~grpo_theory.integrations.trl.two_grpo_config` /
  :func:`~grpo_theory.integrations.trl.sixteen_grpo_config` recipes. Needs the ``[trl]`` extra.
* :mod:`grpo_theory.integrations.verl` -- a plugin module for verl
  (``VERL_USE_EXTERNAL_MODULES=grpo_theory.integrations.verl``) registering our advantage presets and
  surrogate through verl's own registries. Needs the ``[verl]`` extra.
* :mod:`grpo_theory.integrations.recipes` -- the paper's 2-GRPO / 16-GRPO batch arithmetic and the
  linear learning-rate rule, shared by both (no engine needed).

Neither engine is imported by ``import grpo_theory``; each submodule fails at import with a message
naming the extra to install.
"""
