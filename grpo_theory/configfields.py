"""Config fields that carry their own help, and the command-line options built from them.

Every config of the package (the RL run, the pretraining, the experiment and realcheck commands) is a
dataclass whose fields are made by :func:`option`: the help text lives in ``metadata["help"]``, next to
the default, so ``--help`` cannot drift from the code. :func:`add_fields` turns the fields of one
dataclass into argparse options and :func:`given` reads back the ones the user set:

* a field named ``group_size`` is the option ``--group-size``; its help is the field's help followed by
  ``(default: ...)``; a field without a default is a positional argument;
* ``bool`` fields take a value (``--resample true``), unless made with ``flag=True`` (``--overwrite``);
* ``tuple`` fields take a comma-separated list (``--betas 0.1,1``), or several words with ``nargs="+"``;
* ``choices=(...)`` lets argparse reject any other value (and lists the allowed ones in ``--help``);
* ``minimum=``, ``above=``, ``maximum=`` (numbers, or each member of a tuple) and ``length=`` (a tuple's
  size) are bounds: ``--help`` states them and :func:`field_problems` reports a value outside them.

Options default to ``None`` ("not given"), so a command can layer them over a base config (a preset, a
``--config`` file). Torch-free: importing this module imports only the standard library.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import types
import typing
from typing import Any

#: Extra keys :func:`option` accepts (what they do: the module docstring).
CLI_KEYS = frozenset({"choices", "nargs", "flag", "metavar", "option"})
#: Bounds :func:`option` accepts, checked by :func:`field_problems`.
BOUND_KEYS = frozenset({"minimum", "above", "maximum", "length"})


def option(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = None,
           **cli: Any) -> Any:
    """A dataclass field with its help text (``metadata["help"]``) and, optionally, argparse extras.

    ``factory``: a default factory (for mutable defaults such as ``dict``). ``cli``: keys of :data:`CLI_KEYS`.
    """
    if not help.strip():
        raise ValueError("a config field needs a help text")
    unknown = set(cli) - CLI_KEYS - BOUND_KEYS
    if unknown:
        raise ValueError(f"unknown option settings {sorted(unknown)}; choose from "
                         f"{sorted(CLI_KEYS | BOUND_KEYS)}")
    meta = {"help": " ".join(help.split()), **cli}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def help_of(f: dataclasses.Field) -> str:
    """The help text of a field ('' if it has none)."""
    return str(f.metadata.get("help", ""))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_type(cls: type, name: str) -> Any:
    """The annotation of field ``name`` of ``cls``, with ``X | None`` reduced to ``X``."""
    t = _hints(cls)[name]
    if isinstance(t, types.UnionType) or typing.get_origin(t) is typing.Union:
        t = next(a for a in typing.get_args(t) if a is not type(None))
    return t


def parse_bool(s: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case); else an argparse error."""
    v = s.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {s!r}")


def _scalar(t: Any) -> Any:
    return parse_bool if t is bool else t


def _comma_list(inner: Any, choices: tuple | None = None) -> Any:
    def parse(s: str) -> tuple:
        out = tuple(inner(x.strip()) for x in s.split(",") if x.strip())
        bad = [x for x in out if choices is not None and x not in choices]
        if bad and choices is not None:  # argparse turns this into its one-line error naming the option
            raise argparse.ArgumentTypeError(f"{', '.join(map(str, bad))} not allowed; choose from "
                                             f"{', '.join(map(str, choices))}")
        return out

    parse.__name__ = f"comma-separated {getattr(inner, '__name__', 'value')}"  # argparse names it on error
    return parse


def default_of(f: dataclasses.Field) -> Any:
    """The field's default value (calling its factory), or ``MISSING``."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def bounds_text(f: dataclasses.Field) -> str:
    """The field's bounds in words (``>= 1``, ``> 0``, ``2 values in [0, 1]``), or ''."""
    m = f.metadata
    lo = f">= {m['minimum']}" if "minimum" in m else f"> {m['above']}" if "above" in m else ""
    if "maximum" in m:
        lo = (f"in [{m['minimum']}, {m['maximum']}]" if "minimum" in m
              else f"{lo} and <= {m['maximum']}" if lo else f"<= {m['maximum']}")
    return f"{m['length']} values {lo}".strip() if "length" in m else lo


def value_problems(f: dataclasses.Field, v: Any) -> list[tuple[str, Any, str]]:
    """``[(field, value, what is allowed)]`` if ``v`` is outside the bounds of field ``f`` (see
    :func:`option`) or is a float that is not finite; else ``[]``."""
    m, allowed = f.metadata, bounds_text(f)
    if "length" in m and isinstance(v, tuple) and len(v) != m["length"]:
        return [(f.name, v, f"must be {allowed}")]
    for x in v if isinstance(v, tuple) else (v,):
        if isinstance(x, bool) or not isinstance(x, int | float):
            continue
        if isinstance(x, float) and not math.isfinite(x):
            return [(f.name, v, "must be a finite number")]
        if (("minimum" in m and x < m["minimum"]) or ("above" in m and x <= m["above"])
                or ("maximum" in m and x > m["maximum"])):
            return [(f.name, v, f"must be {allowed}")]
    return []


def field_problems(cls: type, values: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """:func:`value_problems` of each of ``values`` (field name -> value) against the fields of the
    dataclass ``cls``: checkable before the config is built, so ``__post_init__`` sees valid values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return [p for name, v in values.items() if name in fields for p in value_problems(fields[name], v)]


def describe(f: dataclasses.Field) -> str:
    """The ``--help`` text of a field: its help, its bounds, then its default (unless None, a flag, or
    required)."""
    bounds = bounds_text(f)
    text = f"{help_of(f)} ({bounds})" if bounds else help_of(f)
    d = default_of(f)
    if d is None or d is dataclasses.MISSING or f.metadata.get("flag"):
        return text
    shown = ",".join(map(str, d)) if isinstance(d, tuple) else repr(d)
    return f"{text} (default: {shown})"


def _argument(cls: type, f: dataclasses.Field) -> tuple[list[str], dict[str, Any]]:
    """The ``add_argument`` names and keywords of one field."""
    meta, t = f.metadata, field_type(cls, f.name)
    kw: dict[str, Any] = {"help": describe(f).replace("%", "%%")}
    if default_of(f) is dataclasses.MISSING:
        names = [f.name]
    else:
        names = [meta.get("option", "--" + f.name.replace("_", "-"))]
        kw.update(dest=f.name, default=None)
    if meta.get("flag"):
        return names, {**kw, "action": "store_true", "default": False}
    if typing.get_origin(t) is tuple:
        inner = _scalar(typing.get_args(t)[0])
        if meta.get("nargs"):
            kw.update(nargs=meta["nargs"], type=inner)
        else:
            # choices apply to each member (argparse would compare the whole tuple)
            members = "{" + ",".join(map(str, meta["choices"])) + "}" if "choices" in meta else None
            kw.update(type=_comma_list(inner, meta.get("choices")),
                      metavar=f"{members or getattr(inner, '__name__', 'X').upper()},...")
    else:
        kw.update(type=_scalar(t), metavar="BOOL" if t is bool else getattr(t, "__name__", "X").upper())
    if "choices" in meta and not (typing.get_origin(t) is tuple and not meta.get("nargs")):
        kw.update(choices=meta["choices"], metavar=None)
    if "metavar" in meta:
        kw["metavar"] = meta["metavar"]
    return names, kw


def add_fields(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = (),
               title: str | None = None) -> None:
    """One option per field of the dataclass ``cls`` (except ``skip``), in field order."""
    group: Any = parser.add_argument_group(title) if title else parser
    for f in dataclasses.fields(cls):
        if f.name not in skip:
            names, kw = _argument(cls, f)
            group.add_argument(*names, **kw)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` set on the command line (not None; flags: False unless given), lists as
    tuples."""
    out = {}
    for f in dataclasses.fields(cls):
        v = getattr(args, f.name, None)
        if v is not None:
            out[f.name] = tuple(v) if isinstance(v, list) else v
    return out


def from_args(args: argparse.Namespace, cls: type, **base: Any) -> Any:
    """``cls(**base, **given)``: the options given on the command line over ``base``."""
    return cls(**{**base, **given(args, cls)})
