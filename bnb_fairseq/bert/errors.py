"""The error of an unusable checkpoint directory: one message with what to do about it."""


class BertCheckpointError(ValueError):
    """A BERT checkpoint directory that cannot be used, with what to do about it."""
