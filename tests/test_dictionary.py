import os

import pytest
import torch

from bnb_fairseq.bert.dictionary import BertDictionary
from bnb_fairseq.bert.tokenizer import load_wordpiece_tokenizer

MULTILINGUAL = [
    "In the beginning God created the heaven and the earth.",
    "En el principio crió Dios los cielos y la tierra.",
    "Über den Wolken muß die Freiheit wohl grenzenlos sein.",
    "Ça coûte 3,50 € — déjà payé?",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "ἐν ἀρχῇ ἦν ὁ λόγος",
    "unbelievably rare-word tokenisation: xylophonist's",
]


def test_ids_are_berts(minilm_dir):
    d = BertDictionary.load(os.path.join(minilm_dir, "vocab.txt"))
    assert len(d) == 30522
    assert (d.pad(), d.unk(), d.bos(), d.eos(), d.mask()) == (0, 100, 101, 102, 103)
    assert d[d.bos()] == "[CLS]" and d[d.eos()] == "[SEP]"


def test_same_ids_as_hf_tokenizer(minilm_dir):
    from transformers import BertTokenizerFast

    d = BertDictionary.load(minilm_dir)
    hf = BertTokenizerFast.from_pretrained(minilm_dir)
    ours = load_wordpiece_tokenizer(minilm_dir)
    for text in MULTILINGUAL:
        expected = hf(text)["input_ids"]
        pieces = ours.tokenize(text)
        line_ids = d.encode_line(" ".join(pieces), add_if_not_exist=False, append_eos=True).tolist()
        assert [d.bos()] + line_ids == expected, text
        assert not (len(pieces) > 2 and all(p == "[UNK]" for p in pieces))


def test_save_load_roundtrip(tmp_path, minilm_dir):
    d = BertDictionary.load(minilm_dir)
    d.save(str(tmp_path / "dict.en.txt"))
    d2 = BertDictionary.load(str(tmp_path / "dict.en.txt"))
    assert d.symbols == d2.symbols and d2.first_difference(d) is None
    assert d2.string(torch.tensor([101, 7592, 2088, 102])) == "hello world"


def test_not_a_bert_vocab(tmp_path):
    p = tmp_path / "vocab.txt"
    p.write_text("a\nb\nc\n")
    with pytest.raises(ValueError, match="missing BERT special"):
        BertDictionary.load(str(p))
    with pytest.raises(FileNotFoundError, match="no such vocabulary"):
        BertDictionary.load(str(tmp_path / "nope" / "vocab.txt"))
