"""Plot functions: one per figure, ``plot_<name>(data, stem) -> [png, pdf]``; no computation of data."""
