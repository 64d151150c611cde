"""bnb_fairseq: BERT-NAR-BERT as a fairseq plugin (``--user-dir bnb_fairseq``).

Importing the package registers the tasks, models, criteria and BPE with fairseq.
"""

from bnb_fairseq.checkpoint_compat import allow_fairseq_checkpoint_globals

allow_fairseq_checkpoint_globals()

from bnb_fairseq import (  # noqa: E402,F401
    bert,  # noqa: E402,F401  (registers the bert_wordpiece BPE)
    criterions,
    models,
    tasks,
)

__version__ = "0.1.0"
