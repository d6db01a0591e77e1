"""``make figures``: data scripts (:mod:`.data`), plot scripts (:mod:`.plots`), one style (:mod:`.style`).

``python -m grpo_theory.figures`` computes each figure's data once (cached as JSON under
``paper_figures/data/``, keyed by a hash of its config) and draws it into ``paper_figures/`` as PNG
and PDF. The list of figures and what each maps to in the paper is :data:`.registry.FIGURES`;
``paper_figures/README.md`` is its human-readable twin.
"""
