"""Cached figure data: one JSON file per figure, keyed by a short hash of its config.

A data function maps a config (a small JSON-able dict) to a JSON-able dict of lists and numbers.
:func:`cached` stores its output as ``paper_figures/data/<FID>.json`` together with the config and
its hash; a later call with the same config reads the file instead of recomputing, so restyling a
plot never recomputes data. Configs of figures that read ``results/`` include a fingerprint of
those files (:func:`fingerprint`), so new results invalidate the cache by themselves. A corrupt or
truncated cache file is recomputed with a one-line warning (:func:`load`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grpo_theory.artifacts import CorruptFileError, atomic_write_text, jsonable, portable_path, read_json
from grpo_theory.figures.paths import DATA_DIR, REPO_ROOT

#: Bump to invalidate every cached file after a change in how data are computed.
DATA_VERSION = 1


def config_hash(config: dict[str, Any]) -> str:
    """The first 12 hex digits of the SHA-256 of the canonical JSON of ``config``."""
    blob = json.dumps({"v": DATA_VERSION, **config}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def fingerprint(paths: list[Path]) -> str:
    """A content hash of the given files (sorted by path; missing files are skipped)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        if p.is_file():
            h.update(str(p.relative_to(REPO_ROOT) if p.is_relative_to(REPO_ROOT) else p).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def to_jsonable(obj: Any) -> Any:
    """numpy / torch scalars and arrays → lists and floats (NaN/inf kept as JSON NaN/Infinity).

    :func:`grpo_theory.artifacts.jsonable` with ``nonfinite="keep"``: figure data may hold NaN.
    """
    return jsonable(obj, nonfinite="keep")


def _write_atomic(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def warn(message: str) -> None:
    """One line on stderr (a bad cache is repaired, not fatal)."""
    print(f"warning: {message}", file=sys.stderr)


def load(fid: str, data_dir: Path = DATA_DIR) -> dict[str, Any] | None:
    """The cached record ``{"fid", "hash", "config", "data"}`` of figure ``fid``, or None.

    A cache file that is truncated, not JSON, or not such a record is reported in one warning line and
    treated as missing, so the caller recomputes (and rewrites) it.
    """
    path = data_dir / f"{fid}.json"
    if not path.is_file():
        return None
    shown = portable_path(path)
    try:
        rec = read_json(path)
    except CorruptFileError as e:
        warn(f"{str(e).replace(str(path), shown)}; recomputing it")
        return None
    if not (isinstance(rec, dict) and isinstance(rec.get("hash"), str) and isinstance(rec.get("data"), dict)):
        warn(f"{shown} is not a figure-data record (fid, hash, config, data); recomputing it")
        return None
    return rec


def cached(
    fid: str,
    config: dict[str, Any],
    compute: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    recompute: bool = False,
    data_dir: Path = DATA_DIR,
) -> tuple[dict[str, Any], bool]:
    """Returns ``(data, hit)``: the cached data of ``fid`` if its config hash matches, else
    ``compute(config)``.

    The file ``<data_dir>/<fid>.json`` holds ``{"fid", "hash", "config", "data"}``; it is replaced
    atomically when recomputed.
    """
    h = config_hash(config)
    rec = None if recompute else load(fid, data_dir)
    if rec is not None and rec.get("hash") == h:
        return rec["data"], True
    data = to_jsonable(compute(config))
    record = {"fid": fid, "hash": h, "config": to_jsonable(config), "data": data}
    _write_atomic(data_dir / f"{fid}.json", json.dumps(record, indent=None, separators=(",", ":")) + "\n")
    return data, False
