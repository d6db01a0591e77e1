"""The ``grpo-theory`` command line.

Each subcommand lives in the module that owns it; this file only routes. A module listed in
``COMMANDS`` exposes ``add_arguments(parser)`` and ``run(args) -> int`` and is imported only when
its command runs, so ``grpo-theory --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "claims": ("grpo_theory.theory.claims",
               "check every formal result (R1-R14 of the paper, R15-R16 added) and print verdicts"),
    "pretrain": ("grpo_theory.llm.cli_pretrain", "pretrain (SFT) the tiny start checkpoint for the RL runs"),
    "train": ("grpo_theory.llm.cli_train", "one RL run on a causal LM with a loss from grpo_theory.losses"),
    "experiment": ("grpo_theory.llm.cli_experiment",
                   "the headline, ablation, lr_sweep and partial_credit experiments (16-GRPO vs 2-GRPO ...)"),
    "realcheck": ("grpo_theory.realcheck.cli",
                  "measure the theory (R4, R6, R7, R8/R9, R16) on real language models"),
    "docs": ("grpo_theory.docblocks",
             "regenerate the generated blocks of the Markdown docs (--check: compare only)"),
}


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (option, value, what is allowed), exit status 2.

    argparse's default prints the whole usage first, which for ``train`` is dozens of lines.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse takes "-1e-4" for an option (its pattern knows only "-1" and "-.5"): accept exponents too
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$")

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="grpo-theory",
        description="Checkable claims about GRPO, 2-GRPO and DPO (arXiv 2510.00977).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    sub = OneLineParser(prog=f"grpo-theory {name}", description=help_)
    module.add_arguments(sub)
    args = sub.parse_args(rest)
    from grpo_theory.artifacts import UsageError

    try:
        return int(module.run(args) or 0)
    except UsageError as e:  # a bad option, file or directory: one line, no traceback
        message = e.cli_message() if hasattr(e, "cli_message") else str(e)
        print(f"grpo-theory {name}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
