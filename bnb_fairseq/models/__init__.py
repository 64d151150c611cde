from bnb_fairseq.models import bert2bert, bnb  # noqa: F401
