"""Executes every notebook in ``notebooks/`` (jupytext py:percent sources) with a fresh kernel.

Each notebook ends with a predicted-vs-measured cell that asserts agreement, so a notebook that runs
to the end is a passing test. The ``.ipynb`` files are generated here in memory and never written.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_there_are_four_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


def _execute(path: Path) -> None:
    nb = jupytext.read(path)
    # kernelspec "python3" runs "python", which jupyter_client maps to this interpreter (the .venv).
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()


@pytest.fixture(scope="module")
def executed() -> dict[str, BaseException | None]:
    """Every notebook executed once, two kernels at a time (one per core): stem -> its error, or None."""
    env = {
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",  # two kernels at once, one thread each
        # The kernel must import this checkout's grpo_theory even if it is not installed.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    with pytest.MonkeyPatch.context() as mp, ThreadPoolExecutor(max_workers=2) as pool:
        for k, v in env.items():
            mp.setenv(k, v)
        futures = {p.stem: pool.submit(_execute, p) for p in NOTEBOOKS}
        return {stem: f.exception() for stem, f in futures.items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, executed):
    error = executed[path.stem]
    if error is not None:
        raise error
