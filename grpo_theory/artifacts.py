"""Run artifacts: the one place that writes and reads result files, and finds the repository.

* **Atomic writes** (:func:`atomic_write_text`, :func:`atomic_write_json`, :func:`atomic_torch_save`):
  the data go to a uniquely named temporary file in the target's directory, are flushed to disk,
  and then ``os.replace`` the target. A reader (or a crash at any point) sees the old file or the
  new one, never half of one; an interrupted write leaves no temporary file behind.
* **One JSONL policy** (:func:`read_jsonl`): logs are appended line by line, so a kill can leave a
  half-written *last* line. That line is dropped (the record was never complete). An unparsable
  line anywhere else is corruption and raises :class:`CorruptFileError` naming the file and line.
* **One JSON reader** (:func:`read_json`): a truncated or non-JSON file raises
  :class:`CorruptFileError` naming the file, never a bare ``JSONDecodeError``.
* **Portable values** (:func:`portable`): absolute paths inside the repository are stored relative
  to its root, so committed files are the same in every clone.
* **Environment snapshot** (:func:`environment`): library versions, machine, git revision.
* **Repository root** (:func:`repo_root`): ``$GRPO_THEORY_ROOT``, else the source tree the package
  was imported from, else the nearest directory above the working directory holding this project's
  ``pyproject.toml``; otherwise :class:`RepoRootError` says what to do. (A plain ``pip install .``
  puts the package in site-packages, where ``Path(__file__).parents[n]`` is not the repository.)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

ROOT_ENV = "GRPO_THEORY_ROOT"
_PROJECT_NAME = re.compile(r'^\s*name\s*=\s*["\']grpo[_-]theory["\']', re.MULTILINE)


class UsageError(Exception):
    """A mistake in what was asked for (an option, a file, a directory), not a bug: the command line
    prints its message as one line and exits with status 2, without a traceback."""


class CorruptFileError(UsageError, ValueError):
    """A result, log or checkpoint file exists but cannot be read (truncated or not the expected format)."""


class RepoRootError(UsageError, RuntimeError):
    """The repository (with ``results/`` and ``paper_figures/``) could not be located."""


# ---------------------------------------------------------------------------------------------- repository


def _is_project_root(d: Path) -> bool:
    p = d / "pyproject.toml"
    try:
        return p.is_file() and bool(_PROJECT_NAME.search(p.read_text()))
    except OSError:
        return False


def find_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding this project's ``pyproject.toml``, or None."""
    start = start.resolve()
    for d in (start, *start.parents):
        if _is_project_root(d):
            return d
    return None


def repo_root() -> Path:
    """The repository root (see the module docstring for the search order); raises :class:`RepoRootError`."""
    env = os.environ.get(ROOT_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if not root.is_dir():
            raise RepoRootError(f"${ROOT_ENV}={env!r} is not a directory")
        return root
    here = Path(__file__).resolve().parent
    for candidate in (find_root(here.parent), find_root(Path.cwd())):
        if candidate is not None:
            return candidate
    raise RepoRootError(
        "cannot find the grpo_theory repository (its pyproject.toml, results/ and paper_figures/): "
        f"run from inside a clone, or set {ROOT_ENV}=/path/to/clone"
    )


def scratch_dir(*parts: str) -> Path:
    """``<repository>/runs/<parts>``: where runs go unless asked to write under ``results/``.

    ``runs/`` is ignored by git, so a smoke run can never replace committed results. Outside a
    checkout it is ``./runs/<parts>``.
    """
    try:
        base = repo_root()
    except RepoRootError:
        base = Path.cwd()
    return base.joinpath("runs", *parts)


def results_dir(*parts: str) -> Path:
    """``<repository>/results/<parts>``: committed results (written only when asked: ``--commit-results``)."""
    return repo_root().joinpath("results", *parts)


def portable_path(p: str | Path, root: Path | None = None) -> str:
    """``p`` relative to the repository root if it lies inside it (POSIX separators), else unchanged.

    Paths under the system temporary directory become ``<tmp>/...``: they are gone after the run and
    name nothing on another machine.
    """
    s = str(p)
    if not os.path.isabs(s):
        return s
    try:
        root = root or repo_root()
    except RepoRootError:
        root = None
    rp = Path(s)
    if root is not None:
        for base in {root, root.resolve()}:
            if rp == base or rp.is_relative_to(base):
                rel = rp.relative_to(base).as_posix()
                return rel or "."
    tmp = Path(tempfile.gettempdir())
    for base in {tmp, tmp.resolve()}:
        if rp.is_relative_to(base):
            return "<tmp>/" + rp.relative_to(base).as_posix()
    return s


def portable(obj: Any, root: Path | None = None) -> Any:
    """``obj`` with every string that is an absolute path made portable (:func:`portable_path`)."""
    if root is None:
        try:
            root = repo_root()
        except RepoRootError:
            root = None
    if isinstance(obj, dict):
        return {k: portable(v, root) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [portable(v, root) for v in obj]
    if isinstance(obj, str) and os.path.isabs(obj):
        return portable_path(obj, root)
    return obj


# ---------------------------------------------------------------------------------------------- values


def jsonable(obj: Any, *, nonfinite: str = "null") -> Any:
    """Plain JSON values from dataclasses, tuples, numpy/torch scalars and arrays, and paths.

    ``nonfinite``: ``"null"`` maps NaN/inf to None (strict JSON, what result files use); ``"keep"``
    leaves them as floats (Python's json writes ``NaN``/``Infinity``).
    """
    if nonfinite not in ("null", "keep"):
        raise ValueError(f"nonfinite must be 'null' or 'keep', got {nonfinite!r}")
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(asdict(obj), nonfinite=nonfinite)
    if isinstance(obj, dict):
        return {str(k): jsonable(v, nonfinite=nonfinite) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v, nonfinite=nonfinite) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "detach"):  # torch tensor
        obj = obj.detach().cpu()
    if hasattr(obj, "tolist") and not isinstance(obj, str | bytes):  # tensors, numpy arrays and scalars
        return jsonable(obj.tolist(), nonfinite=nonfinite)
    if isinstance(obj, float) and not math.isfinite(obj) and nonfinite == "null":
        return None
    return obj


# ---------------------------------------------------------------------------------------------- writing


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) so that a reader sees the old file or the new one, never half of one."""
    return atomic_write_bytes(path, text.encode())


def dumps_json(obj: Any, *, indent: int | None = 2, sort_keys: bool = True, nonfinite: str = "keep") -> str:
    """Canonical JSON text of ``obj`` (after :func:`jsonable`), with a final newline."""
    return json.dumps(jsonable(obj, nonfinite=nonfinite), indent=indent, sort_keys=sort_keys,
                      allow_nan=nonfinite == "keep") + "\n"


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2, sort_keys: bool = True,
                      nonfinite: str = "keep") -> Path:
    """:func:`dumps_json` of ``obj`` written atomically."""
    return atomic_write_text(path, dumps_json(obj, indent=indent, sort_keys=sort_keys, nonfinite=nonfinite))


def write_json_if_changed(path: str | Path, obj: Any, *, ignore: Iterable[str] = (), **kw: Any) -> bool:
    """Write ``obj`` unless ``path`` already holds the same JSON up to the top-level keys in ``ignore``.

    Returns whether the file was written. Keeps re-runs that compute nothing new from touching
    committed files (a machine snapshot or a wall-clock would differ every time).
    """
    path = Path(path)
    ignore = set(ignore)
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = None
        new = json.loads(dumps_json(obj, **kw))
        if isinstance(old, dict) and isinstance(new, dict):
            strip = lambda d: {k: v for k, v in d.items() if k not in ignore}  # noqa: E731
            if strip(old) == strip(new):
                return False
    atomic_write_json(path, obj, **kw)
    return True


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_writable(directory: str | Path) -> Path:
    """Create ``directory`` if needed and check that a file can be written in it, else ``PermissionError``."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PermissionError(f"{d} is not a writable directory ({e.strerror or e})") from None
    return d


# ---------------------------------------------------------------------------------------------- reading


def read_json(path: str | Path) -> Any:
    """The JSON value in ``path``; a truncated or malformed file is a :class:`CorruptFileError` naming it."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise CorruptFileError(f"{path} is corrupt: not UTF-8 text ({e.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CorruptFileError(f"{path} is corrupt: invalid JSON at line {e.lineno} column {e.colno} "
                               f"({e.msg})") from None


def read_jsonl(path: str | Path, *, missing_ok: bool = True) -> list[dict[str, Any]]:
    """Records of a JSONL log. A half-written last line (a kill mid-append) is dropped; blank lines are
    skipped; an unparsable line before the last raises :class:`CorruptFileError` (file and line)."""
    path = Path(path)
    if not path.exists():
        if missing_ok:
            return []
        raise FileNotFoundError(f"{path} does not exist")
    try:
        lines = path.read_text().split("\n")
    except UnicodeDecodeError as e:
        raise CorruptFileError(f"{path} is corrupt: not UTF-8 text ({e.reason})") from None
    numbered = [(i + 1, s) for i, s in enumerate(lines) if s.strip()]
    out = []
    for j, (lineno, line) in enumerate(numbered):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            if j == len(numbered) - 1:
                break  # the torn last line of an interrupted append
            raise CorruptFileError(f"{path} is corrupt: line {lineno} is not JSON ({e.msg})") from None
    return out


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, cached per (resolved path, size, mtime) within the process."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


# ---------------------------------------------------------------------------------------------- environment


def _git(*args: str, cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment(device: str | None = None) -> dict[str, Any]:
    """What produced a result: Python, torch, transformers, platform, threads, device, git revision, time.

    Stored beside results; never part of a config hash. ``git_dirty`` is whether ``grpo_theory/``
    differs from the commit.
    """
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
        "processor": platform.processor(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    if device is not None:
        info["device"] = device
        if device.startswith("cuda") and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        info["loadavg"] = list(os.getloadavg())  # other jobs on the machine stretch wall-clock
    except OSError:  # pragma: no cover
        pass
    try:
        root: Path | None = repo_root()
    except RepoRootError:
        root = None
    if root is not None:
        info["git_commit"] = _git("rev-parse", "HEAD", cwd=root)
        info["git_dirty"] = bool(_git("status", "--porcelain", "--", "grpo_theory", cwd=root))
    info["utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return info


__all__ = [
    "CorruptFileError", "RepoRootError", "UsageError", "atomic_torch_save", "atomic_write_bytes",
    "atomic_write_json", "atomic_write_text", "check_writable", "dumps_json", "environment", "find_root",
    "jsonable", "portable", "portable_path", "read_json", "read_jsonl", "repo_root", "results_dir",
    "scratch_dir", "sha256_file", "write_json_if_changed",
]
