from bnb_fairseq.generation.parallel_generator import ParallelGenerator  # noqa: F401
