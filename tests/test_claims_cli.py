"""`grpo-theory claims`: the default run passes, its JSON is complete, and it degrades without Monte Carlo."""

from __future__ import annotations

import json
import re
import sys

import pytest

from grpo_theory import cli
from grpo_theory.theory import claims

IDS = [f"R{i}" for i in range(1, 17)]


@pytest.fixture(scope="module")
def default_report():
    # the same work as `grpo-theory claims` with no options (quick Monte Carlo, seed 0)
    return claims.collect()


def test_default_run_passes_every_check(default_report):
    failed = [x["id"] for x in default_report["results"]
              if not x["symbolic"] or (x["mc"] and not x["mc"]["passed"])]
    assert failed == []
    assert default_report["passed"] is True


def test_report_covers_r1_to_r16_with_verdicts_and_proofs(default_report):
    rows = default_report["results"]
    assert [x["id"] for x in rows] == IDS
    assert {x["verdict"] for x in rows} <= {"holds", "holds under stated conditions", "false as printed"}
    assert all(x["proof"].startswith(f"proofs/{x['id']}-") and x["proof"].endswith(".md") for x in rows)


def test_monte_carlo_used_when_available(default_report):
    module, _ = claims.load_mc()
    if module is None:
        pytest.skip("Monte Carlo module not present")
    with_mc = {x["id"] for x in default_report["results"] if x["mc"] is not None}
    assert with_mc == set(module.MC_CHECKS) & set(IDS)
    for x in default_report["results"]:
        mc = x["mc"]
        if mc is None:
            continue
        if mc["kind"] == "exact":  # an identity is reported exact, with its deviation, never with a z
            assert mc["z"] is None and mc["max_abs_dev"] is not None and mc["max_abs_dev"] <= 4e-10
        else:
            assert abs(mc["z"]) <= 4


def test_identities_are_reported_exact_not_as_z(default_report):
    table = claims.format_table(default_report)
    md = claims.format_markdown(default_report)
    row = {line.split()[0]: line for line in table.splitlines() if line[:1] == "R"}
    assert "exact, max |Δ|" in row["R1"] and "+0.00" not in row["R1"]
    assert "z = +0.00" not in md and "✓ exact, max \\|Δ\\| =" in md


def test_symbolic_failure_names_the_failed_part(monkeypatch):
    from grpo_theory.theory import registry
    from grpo_theory.theory.evidence import Evidence

    def failing():
        ev = Evidence("R2")
        ev.add("first part", True)
        ev.zero("second part", 1)
        return ev

    broken = registry.Result(**{**registry.BY_ID["R2"].__dict__, "check": failing})
    monkeypatch.setattr(registry, "RESULTS", (broken,))
    monkeypatch.setattr(registry, "BY_ID", {"R2": broken})
    report = claims.collect(mc=False)
    assert report["passed"] is False
    assert "second part [residual 1]" in report["results"][0]["symbolic_error"]
    assert "R2: symbolic check failed: second part [residual 1]" in claims.format_table(report)


def test_table_format(default_report):
    text = claims.format_table(default_report)
    assert text.splitlines()[0].split()[:3] == ["ID", "statement", "verdict"]
    assert "all checks passed" in text
    assert "R13: false as printed (correction:" in text


def test_cli_json_and_exit_code(capsys):
    assert cli.main(["claims", "--json", "--only", "R2", "R8", "R14", "--no-mc"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [x["id"] for x in report["results"]] == ["R2", "R8", "R14"]
    # R8: the main-text proposition holds (the appendix's Cov² is a typo); R14 keeps its real errata
    assert [x["verdict"] for x in report["results"]] == ["holds", "holds", "false as printed"]
    assert all(p["ok"] for p in report["results"][1]["symbolic_parts"])


def test_cli_unknown_id_is_an_error(capsys):
    assert cli.main(["claims", "--only", "R99"]) == 2
    assert "unknown result id" in capsys.readouterr().out


def test_missing_monte_carlo_module_prints_dash(monkeypatch, capsys):
    monkeypatch.setattr(claims, "MC_MODULE", "grpo_theory.no_such_module")
    assert cli.main(["claims", "--only", "R7"]) == 0
    out = capsys.readouterr().out
    assert "—" in out and "unavailable" in out


def test_failing_check_gives_nonzero_exit(monkeypatch):
    from grpo_theory.theory import registry

    broken = registry.Result(**{**registry.BY_ID["R2"].__dict__, "check": lambda: False})
    monkeypatch.setattr(registry, "RESULTS", (broken,))
    monkeypatch.setattr(registry, "BY_ID", {"R2": broken})
    assert claims.collect(mc=False)["passed"] is False
    assert cli.main(["claims", "--no-mc"]) == 1


def test_theory_import_does_not_load_torch():
    import subprocess

    code = "import sys, grpo_theory.theory, grpo_theory.theory.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_markdown_table_has_one_row_per_result_and_eight_columns(default_report):
    lines = claims.format_markdown(default_report).splitlines()
    assert lines[0].startswith("| R | paper statement | verdict | symbolic | Monte Carlo | proof |")
    rows = lines[2:]
    assert [r.split(" | ")[0] for r in rows] == [f"| {rid}" for rid in IDS]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]
    assert all(len(c) == 8 for c in cells)
    from grpo_theory.theory.registry import RESULTS

    # the last two columns are the registry's real_model and shown_in, for every result
    for c, r in zip(cells, RESULTS):
        assert c[6] == r.real_model
        assert c[7] == (", ".join(f"[{claims._shown_in_label(p)}]({p})" for p in r.shown_in) or "—")
    assert sum(c[7] != "—" for c in cells) >= 12


def test_readme_claims_block_is_the_generated_table(default_report):
    # the README's claims table is `grpo-theory claims --markdown`, every column from the registry
    from grpo_theory import docblocks
    from grpo_theory.artifacts import repo_root

    readme = (repo_root() / "README.md").read_text(encoding="utf-8")
    assert docblocks.committed(readme, "claims") == claims.format_markdown(default_report) + "\n", \
        "run `grpo-theory docs`"
