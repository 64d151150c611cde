"""Everything that knows Hugging Face checkpoints of the BERT families: vocabulary, config, weights,
tokenizer (families.py maps ELECTRA, DistilBERT, RoBERTa, XLM-R, ALBERT, ModernBERT and MobileBERT
onto BERT)."""

from bnb_fairseq.bert import bpe  # noqa: F401  (registers --bpe bert_wordpiece)
from bnb_fairseq.bert.checkpoint import BertCheckpointError, BertSizes, load_bert_weights, read_bert_sizes  # noqa: F401
from bnb_fairseq.bert.dictionary import BertDictionary  # noqa: F401
from bnb_fairseq.bert.families import SUPPORTED_MODEL_TYPES  # noqa: F401
