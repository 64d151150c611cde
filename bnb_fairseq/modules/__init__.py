from bnb_fairseq.modules.bert_layers import (  # noqa: F401
    BertEmbeddings,
    BertLMHead,
    BertStack,
    LayerVariant,
    init_bert_weights,
)
from bnb_fairseq.modules.crf import LowRankCRF  # noqa: F401
from bnb_fairseq.modules.ctc import (  # noqa: F401
    ctc_aligned_steps,
    ctc_best_alignment,
    ctc_best_path_nll,
    ctc_collapse,
    ctc_output_lengths,
)
from bnb_fairseq.modules.latent import LatentBottleneck, gather_rows, source_positions  # noqa: F401
from bnb_fairseq.modules.length import (  # noqa: F401
    GaussianLengthConverter,
    LengthClassifier,
    class_lengths,
    length_candidates,
    length_offset_classes,
)
