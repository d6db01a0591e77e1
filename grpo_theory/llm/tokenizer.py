"""A character-level tokenizer for the arithmetic tasks, as a real Hugging Face tokenizer.

Every character of the task alphabet is one token; there is no merging, so ``len(ids) == len(text)`` for any
text over the alphabet. The tokenizer is a ``tokenizers`` WordLevel model behind a pre-tokenizer that splits
every character off, wrapped in ``PreTrainedTokenizerFast``: it saves with ``save_pretrained`` and loads back
with ``AutoTokenizer.from_pretrained(path)`` like any other checkpoint's tokenizer.

Vocabulary (ids are fixed, so checkpoints stay compatible)::

    0 <pad>   1 <eos>   2 <unk>   3.. the alphabet "0123456789+-*()=, "

Prompts are padded on the left (so that generation continues right after the last prompt token) and there is
no <bos>: the tasks' prompts always start with a digit or "(".
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, EOS, UNK)
ALPHABET = "0123456789+-*()=, "


def char_tokenizer(alphabet: str = ALPHABET) -> PreTrainedTokenizerFast:
    """Build the char-level tokenizer: ids 0..2 are <pad>, <eos>, <unk>, then one id per alphabet character.

    Characters outside ``alphabet`` encode to <unk>; decoding concatenates characters without separators.
    """
    if len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet has repeated characters: {alphabet!r}")
    if not alphabet:
        raise ValueError("alphabet is empty")
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({ch: len(SPECIAL_TOKENS) + i for i, ch in enumerate(alphabet)})
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # Split(".", "isolated") makes every single character (spaces included) its own pre-token; the default
    # whitespace pre-tokenizer would drop spaces and glue digits together.
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    # Fuse joins tokens with no separator; WordLevel's default decode would put spaces between characters.
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        padding_side="left",
        model_input_names=["input_ids", "attention_mask"],
    )
    return tok
