"""Everything that knows Hugging Face BERT: vocabulary, config, weights, tokenizer."""
from bnb_fairseq.bert import bpe  # noqa: F401  (registers --bpe bert_wordpiece)
from bnb_fairseq.bert.checkpoint import BertCheckpointError, BertSizes, load_bert_weights, read_bert_sizes  # noqa: F401
from bnb_fairseq.bert.dictionary import BertDictionary  # noqa: F401
