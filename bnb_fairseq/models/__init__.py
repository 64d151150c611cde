from bnb_fairseq.models import bnb  # noqa: F401
