"""Data functions behind the figures: ``config dict -> JSON-able dict``, no plotting.

:mod:`.theory` (F1-F4: exact values and Monte Carlo on toy policies), :mod:`.gradients` (F5),
:mod:`.llm` (F6-F9 and T1, from ``results/``).
"""
