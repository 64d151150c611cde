"""``--inference-precision``: a loaded model converted, in place, for decoding in bf16, int8 or int4.

Applied by the task when it builds a generator (fairseq-generate, -interactive, the Python API, the
benchmark), to BnB and bert2bert models alike, so that both sides of a speed comparison get it:

- ``bf16``: every weight in bfloat16 (the log-softmax stays fp32);
- ``int8``: every Linear layer, the tied output projection (its trimmed rows) included, as int8 weights
  with int8 activations quantized per call (fbgemm); word-embedding tables as int8 rows;
- ``int4``: weight-only 4-bit Linear layers (aten's CPU kernel, groups of ``--inference-group-size``
  inputs, bf16 matmul) and 4-bit word-embedding tables: the smallest model, not the fastest;
- ``onnx``, ``onnx-int8``: the one pass exported to ONNX (BnB models; a classify model as two graphs) and
  run by ONNX Runtime, as is or after ONNX Runtime's dynamic int8 quantization (models/onnx_runner.py).

Layers whose input width is not a multiple of the group size (BnB's 8-wide latent) stay in fp32.
int8 and int4 use CPU kernels; on a GPU use bf16 (or fairseq's ``--fp16``).
"""

import atexit
import logging
import os
import shutil
import tempfile

import torch
import torch.nn as nn

from bnb_fairseq.modules.bert_layers import BertEmbeddings
from bnb_fairseq.modules.quantized import (
    DynamicInt8Linear,
    Int4WeightOnlyLinear,
    QuantizedEmbedding,
    model_bytes,
    pick_group_size,
)

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "int8", "int4", "onnx", "onnx-int8")


def current_precision(model):
    return getattr(model, "inference_precision", "fp32")


def apply_inference_precision(model, precision, group_size=32):
    """Convert ``model`` (in eval mode, on its device) for ``precision``; returns it. fp32 and the model's
    own precision leave it as it is; another precision after a conversion needs a fresh load."""
    if precision not in PRECISIONS:
        raise ValueError(f"--inference-precision {precision}: choose one of {', '.join(PRECISIONS)}")
    done = current_precision(model)
    if precision in ("fp32", done):  # fp32 asks for no conversion (it is every option's default)
        return model
    if done != "fp32":
        raise ValueError(
            f"--inference-precision {precision}: this model was already converted to {done} for inference; "
            "load the checkpoint again to decode it in another precision"
        )
    weights = next(model.parameters())
    if precision != "bf16" and weights.device.type != "cpu":
        raise ValueError(
            f"--inference-precision {precision} runs on CPU kernels; this model is on {weights.device}: "
            "on a GPU use --inference-precision bf16 (or fairseq's --fp16)"
        )
    if weights.dtype != torch.float32:
        raise ValueError(
            f"--inference-precision {precision}: the model is already in {weights.dtype} (--fp16 or --bf16?); "
            "pass one of the two, not both"
        )
    before = model_bytes(model)
    model.eval()
    if precision == "bf16":
        model.to(torch.bfloat16)
    elif precision.startswith("onnx"):
        from bnb_fairseq.models.onnx_runner import use_onnx_runtime

        use_onnx_runtime(model, export_path(precision), quantize=precision == "onnx-int8")
        before = None
    else:
        bits = 8 if precision == "int8" else 4
        freeze_output_projection(model.decoder, bits, group_size)
        swap_layers(model, bits, group_size)
    model.inference_precision = precision
    if before is None:
        logger.info(
            f"inference precision {precision}: {type(model).__name__} exported to {model.decoder.path} "
            f"({model.decoder.onnx_file_bytes / 2**20:.1f} MiB), run by ONNX Runtime"
        )
    else:
        logger.info(
            f"inference precision {precision}: {type(model).__name__} {before / 2**20:.1f} MiB -> "
            f"{model_bytes(model) / 2**20:.1f} MiB in memory"
        )
    return model


def export_path(precision):
    """A fresh file in a directory removed when the process ends."""
    folder = tempfile.mkdtemp(prefix="bnb-onnx-")
    atexit.register(shutil.rmtree, folder, True)
    return os.path.join(folder, f"one_pass.{precision}.onnx")


def freeze_output_projection(decoder, bits, group_size):
    """The tied output matrix (the word embeddings' rows, trimmed to the output vocabulary: BnB's and
    bert2bert's decoders both give it by ``output_weight()``) becomes a quantized Linear of its own, so
    that the embedding table can be quantized separately."""
    with torch.no_grad():
        weight, bias = decoder.output_weight()
        projection = quantized_linear(weight, bias, bits, group_size)
        if projection is None:  # no group size fits: a plain copy, still independent of the table
            projection = nn.Linear(weight.size(1), weight.size(0)).requires_grad_(False)
            projection.weight.copy_(weight)
            projection.bias.copy_(bias)
    decoder.lm_head.output_projection = projection


def quantized_linear(weight, bias, bits, group_size):
    if bits == 8:
        return DynamicInt8Linear(weight, bias)
    size = pick_group_size(weight.size(1), group_size)
    return None if size is None else Int4WeightOnlyLinear(weight, bias, size)


def swap_layers(model, bits, group_size):
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                low = quantized_linear(child.weight, child.bias, bits, group_size)
                if low is not None:
                    setattr(parent, name, low)
            elif isinstance(parent, BertEmbeddings) and name == "word_embeddings":
                size = pick_group_size(child.embedding_dim, group_size)
                if size is not None:
                    setattr(parent, name, QuantizedEmbedding(child.weight, child.padding_idx, bits, size))
