from bnb_fairseq.generation.decoding import DecodingOptions, ParallelDecodingConfig  # noqa: F401
from bnb_fairseq.generation.parallel_generator import ParallelGenerator  # noqa: F401
