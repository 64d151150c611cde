from bnb_fairseq.criterions import bnb_ctc  # noqa: F401
