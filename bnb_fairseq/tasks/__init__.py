from bnb_fairseq.tasks import bnb_pretrain, bnb_seq2seq  # noqa: F401
