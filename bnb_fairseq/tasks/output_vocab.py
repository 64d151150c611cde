"""``--output-vocab train``: the task, which reads the data, tells a new model which pieces its training
targets hold; the model never reads data itself."""

import logging

logger = logging.getLogger(__name__)


def choose_output_vocab(model, task):
    """Restrict a newly built model's output softmax to the pieces of ``task``'s training targets."""
    if not getattr(model, "wants_output_vocab", False):  # bert2bert, full-vocabulary and reloaded models
        return
    model.set_output_vocab(task.target_ids_in_training_data())
    logger.info(
        f"output vocabulary: {model.decoder.output_vocab_size} of {len(task.target_dictionary)} pieces "
        "(those in the training targets, the specials and the blank)"
    )
