"""The char tokenizer: fixed ids, one token per character, HF save/load round trip."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from grpo_theory.llm.tokenizer import ALPHABET, char_tokenizer


def test_ids_are_fixed_and_one_per_character():
    tok = char_tokenizer()
    # hand-written: <pad>=0 <eos>=1 <unk>=2, then "0123456789+-*()=, " from 3
    assert tok.pad_token_id == 0 and tok.eos_token_id == 1 and tok.unk_token_id == 2
    assert tok("123+456=", add_special_tokens=False)["input_ids"] == [4, 5, 6, 13, 7, 8, 9, 18]
    ids = tok("(1 - 2)*3,4", add_special_tokens=False)["input_ids"]
    assert ids == [16, 4, 20, 14, 20, 5, 17, 15, 6, 19, 7]
    assert len(tok) == 3 + len(ALPHABET) == 21


def test_decode_concatenates_without_separators():
    tok = char_tokenizer()
    text = "(12 + 3)*4,5=60"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)
    assert tok.decode(ids) == text
    assert tok.decode([3, 8, 1, 0]) == "05<eos><pad>"
    assert tok.decode([3, 8, 1, 0], skip_special_tokens=True) == "05"


def test_unknown_characters_map_to_unk():
    tok = char_tokenizer()
    assert tok("1a/", add_special_tokens=False)["input_ids"] == [4, 2, 2]


def test_left_padding_by_default():
    tok = char_tokenizer()
    enc = tok(["12=", "1+2="], padding=True)
    assert enc["input_ids"] == [[0, 4, 5, 18], [4, 13, 5, 18]]
    assert enc["attention_mask"] == [[0, 1, 1, 1], [1, 1, 1, 1]]


def test_save_pretrained_and_auto_tokenizer_round_trip(tmp_path):
    tok = char_tokenizer()
    tok.save_pretrained(tmp_path)
    back = AutoTokenizer.from_pretrained(tmp_path)
    text = "9,8 7=(9-8)*7"
    assert back(text)["input_ids"] == tok(text)["input_ids"]
    assert back.padding_side == "left"
    assert (back.pad_token_id, back.eos_token_id) == (0, 1)


def test_bad_alphabet_is_rejected():
    with pytest.raises(ValueError, match="repeated"):
        char_tokenizer("0123450")
    with pytest.raises(ValueError, match="empty"):
        char_tokenizer("")
