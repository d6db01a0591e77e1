"""What a symbolic check found: named parts, each with its verdict and the residual or counterexample.

A check returns an :class:`Evidence` instead of a bare bool, so that a failing test or a failing
``grpo-theory claims`` row says which part failed and by how much. ``bool(evidence)`` is True iff every
part passed, so ``assert check()`` still works and pytest prints the failed parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp


@dataclass(frozen=True)
class Part:
    """One comparison: its name, whether it passed, and what was found (a residual, a value, a
    counterexample)."""

    name: str
    ok: bool
    found: str = ""


@dataclass
class Evidence:
    """The parts of one check, in order. Builders return the part's verdict so checks can short-circuit."""

    name: str
    parts: list[Part] = field(default_factory=list)

    def add(self, name: str, ok: Any, found: Any = "") -> bool:
        """Records a part; ``ok`` may be an Evidence (its parts are summarized into ``found``)."""
        if isinstance(ok, Evidence):
            found = found or ("; ".join(p.name for p in ok.failed) or f"{len(ok.parts)} parts ok")
        self.parts.append(Part(name, bool(ok), str(found)))
        return bool(ok)

    def zero(self, name: str, expr: Any) -> bool:
        """Records that ``expr`` simplifies to 0 (exact); the residual is kept when it does not."""
        residual = sp.simplify(expr)
        ok = residual == 0
        return self.add(name, ok, "residual 0" if ok else f"residual {residual}")

    def zero_vec(self, name: str, m: Any) -> bool:
        """Records that every entry of the vector/matrix ``m`` simplifies to 0; keeps the residual
        otherwise."""
        residual = [sp.simplify(x) for x in m]
        ok = all(x == 0 for x in residual)
        return self.add(name, ok, "residual 0" if ok else f"residual {residual}")

    def nonzero_vec(self, name: str, m: Any) -> bool:
        """Records that ``m`` is NOT identically 0 (a counterexample exists); keeps the nonzero value."""
        value = [sp.simplify(x) for x in m]
        ok = any(x != 0 for x in value)
        return self.add(name, ok, f"value {value}" if ok else "identically 0")

    def parallel(self, name: str, a: Any, b: Any) -> bool:
        """Records that the 3-vectors a, b are parallel (a × b = 0), with the cross product otherwise."""
        return self.zero_vec(name, sp.Matrix(a).cross(sp.Matrix(b)))

    def not_parallel(self, name: str, a: Any, b: Any) -> bool:
        """Records that a, b are NOT parallel (a × b ≠ 0: the counterexample), with the cross product."""
        return self.nonzero_vec(name, sp.Matrix(a).cross(sp.Matrix(b)))

    def close(self, name: str, value: float, want: float, tol: float) -> bool:
        """Records |value − want| ≤ tol (floats), with the deviation."""
        dev = abs(float(value) - float(want))
        return self.add(name, dev <= tol,
                        f"{float(value):.6g} vs {float(want):.6g} (|Δ| = {dev:.2g}, tol {tol:.0e})")

    def extend(self, prefix: str, other: Evidence) -> bool:
        """Appends the parts of ``other`` under ``prefix``; returns ``bool(other)``."""
        self.parts.extend(Part(f"{prefix}: {p.name}", p.ok, p.found) for p in other.parts)
        return bool(other)

    @property
    def failed(self) -> list[Part]:
        return [p for p in self.parts if not p.ok]

    def __bool__(self) -> bool:
        return bool(self.parts) and not self.failed

    def __repr__(self) -> str:
        if not self.parts:
            return f"Evidence({self.name}: no parts recorded)"
        if self:
            return f"Evidence({self.name}: all {len(self.parts)} parts hold)"
        bad = "; ".join(f"{p.name} [{p.found}]" for p in self.failed)
        return f"Evidence({self.name}: {len(self.failed)}/{len(self.parts)} parts FAILED: {bad})"

    __str__ = __repr__
