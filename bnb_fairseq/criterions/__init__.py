from bnb_fairseq.criterions import bnb_ctc, bnb_janus, bnb_nat  # noqa: F401
