"""Bad input on the command line: one line naming the option (and value), exit status 2, no traceback,
and nothing computed or written. Every case runs ``grpo-theory`` in-process (``cli.main``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from grpo_theory.cli import main

TINY = str(Path(__file__).resolve().parents[1] / "results" / "checkpoints" / "addition-tiny-seed0")
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


def _policy_dirs(root: Path) -> dict[str, Path]:
    """Broken start-policy directories: empty, no weights, truncated weights."""
    empty = root / "empty-policy"
    empty.mkdir()
    noweights = root / "no-weights"
    noweights.mkdir()
    (noweights / "config.json").write_text("{}")
    truncated = root / "truncated-policy"
    truncated.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (truncated / name).write_bytes((Path(TINY) / name).read_bytes())
    data = (Path(TINY) / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    garbage = root / "garbage-policy"
    garbage.mkdir()
    (garbage / "config.json").write_text("{}")
    (garbage / "model.safetensors").write_bytes(b"not a safetensors file")
    return {"empty": empty, "noweights": noweights, "truncated": truncated, "garbage": garbage}


@pytest.fixture
def env(tmp_path):
    """Paths the cases refer to: {tmp}, broken policies, bad --config files, an unwritable out-dir."""
    d = {"tmp": tmp_path, **_policy_dirs(tmp_path)}
    (tmp_path / "truncated.json").write_text('{"lr": 1e-4, "epochs": ')
    (tmp_path / "wrongtype.json").write_text(json.dumps({"lr": "fast"}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "unknown.json").write_text(json.dumps({"learning_rate": 1e-4}))
    (tmp_path / "badint.json").write_text(json.dumps({"epochs": 2.5}))
    (tmp_path / "a-file").write_text("not a directory")
    d["unwritable"] = tmp_path / "a-file" / "out"  # a directory below a regular file can never be created
    # an out-dir holding a finished run of another config
    done = tmp_path / "done"
    done.mkdir()
    (done / "result.json").write_text(json.dumps({"status": "complete", "config_hash": "0123456789abcdef"}))
    # an out-dir holding a truncated checkpoint
    ck = tmp_path / "ckpt"
    ck.mkdir()
    torch.save({"x": torch.zeros(1000)}, ck / "checkpoint.pt")
    raw = (ck / "checkpoint.pt").read_bytes()
    (ck / "checkpoint.pt").write_bytes(raw[: len(raw) // 2])
    return d


T = ["train", "--no-progress"]
# (id, argv, the option the message must name, extra text it must contain)
CASES = [
    # --- train: numbers out of range -------------------------------------------------------------
    ("lr-nan", [*T, "--lr", "nan"], "--lr", "finite"),
    ("lr-inf", [*T, "--lr", "inf"], "--lr", "finite"),
    ("lr-zero", [*T, "--lr", "0"], "--lr", "> 0"),
    ("lr-negative", [*T, "--lr", "-1e-4"], "--lr", "> 0"),
    ("lr-not-a-number", [*T, "--lr", "fast"], "--lr", "invalid float"),
    ("prompts-per-step-0", [*T, "--prompts-per-step", "0"], "--prompts-per-step", ">= 1"),
    ("epochs-negative", [*T, "--epochs", "-1"], "--epochs", ">= 1"),
    ("epochs-zero", [*T, "--epochs", "0"], "--epochs", ">= 1"),
    ("epochs-not-int", [*T, "--epochs", "2.5"], "--epochs", "invalid int"),
    ("group-size-1", [*T, "--group-size", "1"], "--group-size", ">= 2"),
    ("rollout-prompts-not-multiple", [*T, "--rollout-prompts", "48"], "--rollout-prompts", "multiple"),
    ("train-size-not-multiple", [*T, "--train-size", "100"], "--train-size", "multiple"),
    ("max-grad-norm-negative", [*T, "--max-grad-norm", "-1"], "--max-grad-norm", ">= 0"),
    ("weight-decay-negative", [*T, "--weight-decay", "-0.1"], "--weight-decay", ">= 0"),
    ("adam-beta1-one", [*T, "--adam-beta1", "1.0"], "--adam-beta1", "[0, 1)"),
    ("adam-beta2-negative", [*T, "--adam-beta2", "-0.5"], "--adam-beta2", "[0, 1)"),
    ("temperature-zero", [*T, "--temperature", "0"], "--temperature", "> 0"),
    ("eval-temperature-nan", [*T, "--eval-temperature", "nan"], "--eval-temperature", "finite"),
    ("top-p-below-one", [*T, "--top-p", "0.9"], "--top-p", "must be 1"),
    ("eval-top-p-zero", [*T, "--eval-top-p", "0"], "--eval-top-p", "(0, 1]"),
    ("threads-negative", [*T, "--threads", "-1"], "--threads", ">= 0"),
    ("warmup-negative", [*T, "--warmup-steps", "-3"], "--warmup-steps", ">= 0"),
    ("micro-batch-negative", [*T, "--micro-batch", "-1"], "--micro-batch", ">= 0"),
    ("eval-k-zero", [*T, "--eval-k", "0"], "--eval-k", ">= 1"),
    ("eval-size-negative", [*T, "--eval-size", "-1"], "--eval-size", ">= 0"),
    ("eval-size-beyond-split", [*T, "--eval-size", "5000"], "--eval-size", "<= 2000"),
    ("eval-size-beyond-validation", [*T, "--eval-size", "2001", "--eval-split", "validation"], "--eval-size",
     "<= 2000"),
    ("resample-budget-below-1", [*T, "--resample", "true", "--resample-budget", "0.5"], "--resample-budget",
     ">= 1"),
    ("resample-not-bool", [*T, "--resample", "maybe"], "--resample", "boolean"),
    ("random-reward-rate-2", [*T, "--random-reward-rate", "2"], "--random-reward-rate", "[0, 1]"),
    ("eval-steps-garbage", [*T, "--eval-steps", "x,3"], "--eval-steps", "integers"),
    # --- train: names -----------------------------------------------------------------------------
    ("loss-unknown", [*T, "--loss", "ppo"], "--loss", "grpo"),
    ("task-unknown", [*T, "--task", "chess"], "--task", "addition"),
    ("agg-unknown", [*T, "--agg", "token-median"], "--agg", "token-mean"),
    ("dtype-unknown", [*T, "--dtype", "float16"], "--dtype", "bfloat16"),
    ("eval-split-unknown", [*T, "--eval-split", "train"], "--eval-split", "validation"),
    ("reward-mode-unknown", [*T, "--reward-mode", "oracle"], "--reward-mode", "random"),
    ("device-unknown", [*T, "--device", "gpu"], "--device", "cuda"),
    pytest.param("device-cuda-without-cuda", [*T, "--device", "cuda"], "--device", "not available",
                 marks=NO_CUDA),
    pytest.param("device-cuda1-without-cuda", [*T, "--device", "cuda:1"], "--device", "not available",
                 marks=NO_CUDA),
    # --- train: loss conventions (the values the loss library rejects) -----------------------------
    ("clip-low-above-1", [*T, "--clip-low", "1.5"], "--clip-low", "[0, 1)"),
    ("clip-low-negative", [*T, "--clip-low", "-0.1"], "--clip-low", "[0, 1)"),
    ("clip-high-negative", [*T, "--clip-high", "-0.2"], "--clip-high", ">= 0"),
    ("std-ddof-2", [*T, "--std-ddof", "2"], "--std-ddof", "0"),
    ("eps-negative", [*T, "--eps", "-1e-6"], "--eps", ">= 0"),
    ("eps-nan", [*T, "--eps", "nan"], "--eps", "finite"),
    ("kl-coef-negative", [*T, "--kl-coef", "-0.1"], "--kl-coef", ">= 0"),
    ("kl-coef-inf", [*T, "--kl-coef", "inf"], "--kl-coef", "finite"),
    ("dpo-beta-zero", [*T, "--dpo-beta", "0"], "--dpo-beta", "> 0"),
    ("dpo-beta-negative", [*T, "--dpo-beta", "-1", "--loss", "online_dpo", "--group-size", "2"], "--dpo-beta",
     "> 0"),
    ("pair-loss-with-group-16", [*T, "--loss", "two_grpo"], "--group-size", "pairs"),
    # --- train: files and directories ----------------------------------------------------------------
    ("policy-missing", [*T, "--policy", "{tmp}/no/such/dir"], "--policy", "no such"),
    ("policy-name-unknown", [*T, "--policy", "gpt5"], "--policy", "tiny"),
    ("policy-empty-dir", [*T, "--policy", "{empty}"], "--policy", "empty"),
    ("policy-no-weights", [*T, "--policy", "{noweights}"], "--policy", "no weights"),
    ("policy-truncated-weights", [*T, "--policy", "{truncated}"], "model.safetensors", "corrupt"),
    ("policy-garbage-weights", [*T, "--policy", "{garbage}"], "model.safetensors", "corrupt"),
    ("config-missing", [*T, "--config", "{tmp}/nope.json"], "--config", "no such file"),
    ("config-truncated", [*T, "--config", "{tmp}/truncated.json"], "--config", "corrupt"),
    ("config-wrong-type", [*T, "--config", "{tmp}/wrongtype.json"], "--lr", "number"),
    ("config-float-for-int", [*T, "--config", "{tmp}/badint.json"], "--epochs", "integer"),
    ("config-not-an-object", [*T, "--config", "{tmp}/list.json"], "--config", "JSON object"),
    ("config-unknown-field", [*T, "--config", "{tmp}/unknown.json"], "--config", "learning_rate"),
    ("out-dir-not-writable", [*T, "--out-dir", "{unwritable}"], "--out-dir", "writable"),
    ("out-dir-holds-other-run", [*T, "--out-dir", "{tmp}/done"], "--out-dir", "0123456789abcdef"),
    ("resume-truncated-checkpoint", [*T, "--resume", "--out-dir", "{tmp}/ckpt"], "checkpoint.pt", "corrupt"),
    ("unknown-option", [*T, "--learning-rate", "1e-4"], "--learning-rate", "unrecognized"),
    # --- experiment -----------------------------------------------------------------------------------
    ("experiment-unknown", ["experiment", "everything"], "name", "invalid choice"),
    ("experiment-preset-unknown", ["experiment", "headline", "--preset", "huge"], "--preset",
     "invalid choice"),
    ("experiment-eta-nan", ["experiment", "headline", "--eta", "nan"], "--eta", "finite"),
    ("experiment-eta-negative", ["experiment", "headline", "--eta", "-1e-4"], "--eta", "> 0"),
    ("experiment-method-unknown", ["experiment", "headline", "--methods", "PPO"], "--methods", "16-GRPO"),
    ("experiment-seed-negative", ["experiment", "headline", "--seeds", "-1"], "--seeds", ">= 0"),
    ("experiment-device-unknown", ["experiment", "headline", "--device", "tpu"], "--device", "cuda"),
    pytest.param("experiment-cuda-without-cuda", ["experiment", "headline", "--device", "cuda"], "--device",
                 "not available", marks=NO_CUDA),
    ("experiment-out-not-writable", ["experiment", "headline", "--out", "{unwritable}"], "--out", "writable"),
    ("experiment-out-and-commit", ["experiment", "headline", "--out", "{tmp}/x", "--commit-results"], "--out",
     "--commit-results"),
    # --- realcheck ------------------------------------------------------------------------------------
    ("realcheck-unknown", ["realcheck", "everything"], "NAME", "invalid choice"),
    ("realcheck-covariance-one-response", ["realcheck", "covariance", "--n-responses", "1"], "--n-responses",
     ">= 2"),
    ("realcheck-covariance-no-prompts", ["realcheck", "covariance", "--n-prompts", "0"], "--n-prompts",
     ">= 1"),
    ("realcheck-model-missing", ["realcheck", "covariance", "--model", "{tmp}/none/here"], "--model",
     "no such"),
    ("realcheck-model-truncated", ["realcheck", "covariance", "--model", "{truncated}"], "model.safetensors",
     "corrupt"),
    ("realcheck-out-not-writable", ["realcheck", "covariance", "--out", "{unwritable}"], "--out", "writable"),
    ("realcheck-out-and-commit", ["realcheck", "discard-rate", "--out", "{tmp}/x", "--commit-results"],
     "--out", "--commit-results"),
    ("realcheck-int-garbage", ["realcheck", "covariance", "--n-prompts", "many"], "--n-prompts", "invalid"),
    ("realcheck-task-unknown", ["realcheck", "covariance", "--task", "chess"], "--task", "invalid choice"),
    ("realcheck-kinds-unknown", ["realcheck", "covariance", "--kinds", "summed,sum"], "--kinds",
     "not allowed"),
    ("realcheck-modes-underscore", ["realcheck", "gradient-equivalence", "--modes", "token_mean"], "--modes",
     "not allowed"),
    ("realcheck-agg-unknown", ["realcheck", "direction-invariance", "--agg", "token_mean"], "--agg",
     "invalid choice"),
    ("realcheck-threads-0", ["realcheck", "covariance", "--threads", "0"], "--threads", ">= 1"),
    ("realcheck-temperature-0", ["realcheck", "gradient-equivalence", "--temperature", "0"], "--temperature",
     "> 0"),
    ("realcheck-beta-negative", ["realcheck", "gradient-equivalence", "--betas", "0.1,-1"], "--betas", "> 0"),
    ("realcheck-p-range-one-value", ["realcheck", "direction-invariance", "--p-range", "0.2"], "--p-range",
     "2 values in [0, 1]"),
    ("realcheck-block-0", ["realcheck", "direction-invariance", "--block", "0"], "--block", ">= 16"),
    ("realcheck-replicates-2", ["realcheck", "group-size-budget", "--replicates", "2"], "--replicates",
     ">= 3"),
    ("realcheck-lr-nan", ["realcheck", "discard-rate", "--lr", "nan"], "--lr", "finite"),
    # --- pretrain -------------------------------------------------------------------------------------
    ("pretrain-lr-zero", ["pretrain", "--lr", "0"], "--lr", "> 0"),
    ("pretrain-lr-nan", ["pretrain", "--lr", "nan"], "--lr", "finite"),
    ("pretrain-batch-size-0", ["pretrain", "--batch-size", "0"], "--batch-size", ">= 1"),
    ("pretrain-window-inverted", ["pretrain", "--window-lo", "0.7", "--window-hi", "0.5"], "--window-hi",
     "window-lo"),
    ("pretrain-window-above-1", ["pretrain", "--window-lo", "1.5"], "--window-lo", "[0, 1]"),
    ("pretrain-eval-n-0", ["pretrain", "--eval-n", "0"], "--eval-n", "1.."),
    ("pretrain-task-unknown", ["pretrain", "--task", "chess"], "--task", "invalid choice"),
    ("pretrain-digits-for-countdown", ["pretrain", "--task", "countdown", "--n-digits", "2"], "--n-digits",
     "addition"),
    pytest.param("pretrain-cuda-without-cuda", ["pretrain", "--device", "cuda"], "--device", "not available",
                 marks=NO_CUDA),
    ("pretrain-out-not-writable", ["pretrain", "--out-dir", "{unwritable}"], "--out-dir", "writable"),
    ("pretrain-out-not-a-checkpoint", ["pretrain", "--out-dir", "{tmp}/done"], "--out-dir",
     "not a complete start checkpoint"),
    # --- the router -------------------------------------------------------------------------------------
    ("command-unknown", ["trian"], "trian", "invalid choice"),
]


PARAMS = [pytest.param(*c, id=c[0]) if type(c) is tuple
          else pytest.param(*c.values, marks=c.marks, id=c.values[0]) for c in CASES]


@pytest.mark.parametrize(("cid", "argv", "option", "text"), PARAMS)
def test_bad_input_is_one_line_naming_the_option(cid, argv, option, text, env, capsys):
    argv = [a.format(**env) for a in argv]
    before = sorted(p.relative_to(env["tmp"]) for p in env["tmp"].rglob("*"))
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert option in lines[0] and text in lines[0], lines[0]
    after = sorted(p.relative_to(env["tmp"]) for p in env["tmp"].rglob("*"))
    assert after == before, "a rejected command must not create files"


def test_at_least_fifty_cases():
    assert len(CASES) >= 50
