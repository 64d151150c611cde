"""BnB's one pass as an ONNX graph, decoded by ONNX Runtime behind the ParallelDecoder interface.

A one-pass model has no decoding loop, so the graph (source ids -> encoder -> CTC slots -> decoder ->
output log-probabilities and the slot padding mask; batch and lengths dynamic) is the whole translator
but for the CTC collapse and the detokenization, which stay in the generator. ``use_onnx_runtime``
swaps a loaded model's encoder and decoder for an ONNX Runtime session in place, so that
fairseq-generate, -interactive, the Python API and the benchmark decode through it unchanged
(``--inference-precision onnx`` or ``onnx-int8``: ONNX Runtime's dynamic int8 quantization of the graph).

This version exports CTC models (greedy, blank penalty, CTC beam and sampling all read the same
log-probabilities); a classify model's length beam and refinement passes call the decoder with given
lengths and words, which a graph of the one pass does not take.
"""

import logging
import os

import torch
import torch.nn as nn
from fairseq.models import FairseqEncoder

from bnb_fairseq.models.parallel_decoder import ParallelDecoder, is_parallel

logger = logging.getLogger(__name__)


class OnePassGraph(nn.Module):
    """What is exported: source ids (B, S), right-padded -> (log-probs (B, T, V) fp32, padding mask (B, T))."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src_tokens):
        src_lengths = src_tokens.ne(self.model.encoder.padding_idx).sum(1)
        encoder_out = self.model.encoder(src_tokens, src_lengths=src_lengths)
        logits, extra = self.model.decoder(None, encoder_out=encoder_out)
        return torch.log_softmax(logits.float(), dim=-1), extra["padding_mask"]


def check_exportable(model):
    if not is_parallel(model):
        raise ValueError(
            f"ONNX export: {type(model).__name__} is not a one-pass (BnB) model; an autoregressive model needs "
            "its decoding loop around the graph, which this version does not export"
        )
    decoder = model.decoder
    if decoder.predicts_length:
        raise ValueError(
            "ONNX export covers CTC models (--length-control ctc) in this version: a classify model's length "
            "beam, refinement passes and CRF need the PyTorch model (decode it with --inference-precision "
            "fp32, bf16, int8 or int4)"
        )
    from bnb_fairseq.generation.precision import current_precision

    if current_precision(model) != "fp32":
        raise ValueError(f"ONNX export: the model was already converted to {current_precision(model)}; load it again")


def export_one_pass(model, path, quantize=False):
    """Write ``model``'s one pass to ``path`` (and, with ``quantize``, ONNX Runtime's dynamic int8
    quantization of it in its place); returns the path."""
    check_exportable(model)
    model.eval()  # (fairseq-generate makes train() return None)
    pad, cls, sep = model.encoder.padding_idx, model.encoder.dictionary.bos(), model.encoder.dictionary.eos()
    example = torch.tensor([[cls, 2000, 2001, 2002, sep], [cls, 2003, sep, pad, pad]], dtype=torch.long)
    example = example.clamp(max=len(model.encoder.dictionary) - 1).to(next(model.parameters()).device)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    target = path + ".fp32.onnx" if quantize else path
    with torch.no_grad():
        torch.onnx.export(
            OnePassGraph(model).eval(),
            (example,),
            target,
            input_names=["src_tokens"],
            output_names=["lprobs", "padding_mask"],
            dynamic_axes={
                "src_tokens": {0: "batch", 1: "source_length"},
                "lprobs": {0: "batch", 1: "slots"},
                "padding_mask": {0: "batch", 1: "slots"},
            },
            opset_version=17,
            dynamo=False,  # TorchScript tracing: the slot count stays a graph value (modules/latent.py)
        )
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(target, path, weight_type=QuantType.QInt8, per_channel=True)
        os.remove(target)
    return path


def onnx_session(path, threads=None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    # torch's own threads (the generator's work around the graph) share the cores: ONNX Runtime's threads
    # must not spin-wait between runs, or the two pools steal each other's time
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class OnnxSourceEncoder(FairseqEncoder):
    """Holds the source for the graph: the whole pass runs in the decoder's session."""

    def __init__(self, encoder):
        super().__init__(encoder.dictionary)
        self.padding_idx = encoder.padding_idx
        self._max_positions = encoder.max_positions()

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        padding_mask = src_tokens.eq(self.padding_idx)
        if src_lengths is None:
            src_lengths = (~padding_mask).sum(1)
        return {
            "encoder_out": [None],
            "encoder_padding_mask": [padding_mask],
            "src_tokens": [src_tokens],
            "src_lengths": [src_lengths],
        }

    def max_positions(self):
        return self._max_positions

    def reorder_encoder_out(self, encoder_out, new_order):
        return {k: [v[0].index_select(0, new_order) if v[0] is not None else None] for k, v in encoder_out.items()}


class OnnxParallelDecoder(ParallelDecoder):
    """The ParallelDecoder interface over an ONNX Runtime session of the one pass. Everything but the pass
    (output vocabulary, blank, length rule) is answered by the exported model's own decoder, kept without
    running it."""

    def __init__(self, decoder, session, path):
        super().__init__(decoder.dictionary)
        self.torch_decoder = decoder
        self.session, self.path = session, path
        self.onnx_file_bytes = os.path.getsize(path)

    # the one pass
    def forward(self, prev_output_tokens=None, encoder_out=None, out_lengths=None, prev_tokens=None, **kwargs):
        if out_lengths is not None or prev_tokens is not None:
            raise ValueError(
                "the ONNX graph runs the one pass at its own output length: given lengths and words "
                "(length beams, refinement) need the PyTorch model"
            )
        src_tokens = encoder_out["src_tokens"][0]
        lprobs, padding_mask = self.session.run(None, {"src_tokens": src_tokens.cpu().numpy()})
        lprobs = torch.from_numpy(lprobs).to(src_tokens.device)
        padding_mask = torch.from_numpy(padding_mask).to(src_tokens.device)
        return lprobs, {"padding_mask": padding_mask, "out_lengths": (~padding_mask).sum(1)}

    # everything else: the exported decoder's answers
    @property
    def length_control(self):
        return self.torch_decoder.length_control

    @property
    def max_output_len(self):
        return self.torch_decoder.max_output_len

    def output_lengths(self, src_lengths):
        return self.torch_decoder.output_lengths(src_lengths)

    def length_rule(self):
        return self.torch_decoder.length_rule()

    @property
    def blank_idx(self):
        return self.torch_decoder.blank_idx

    @property
    def blank_slot(self):
        return self.torch_decoder.blank_slot

    @property
    def output_vocab_size(self):
        return self.torch_decoder.output_vocab_size

    def output_index(self, tokens):
        return self.torch_decoder.output_index(tokens)

    def output_tokens(self, slots):
        return self.torch_decoder.output_tokens(slots)

    def source_alignment(self, src_lengths, out_lengths):
        return self.torch_decoder.source_alignment(src_lengths, out_lengths)

    def ensemble_key(self):
        return self.torch_decoder.ensemble_key()

    def max_positions(self):
        return self.torch_decoder.max_positions()


def use_onnx_runtime(model, path, quantize=False, threads=None, export=True):
    """Export ``model``'s one pass to ``path`` (or, with ``export=False``, read the graph already there,
    exported from this checkpoint) and decode through ONNX Runtime from now on (in place)."""
    if export:
        export_one_pass(model, path, quantize)
    else:
        check_exportable(model)
    encoder = OnnxSourceEncoder(model.encoder)
    decoder = OnnxParallelDecoder(model.decoder, onnx_session(path, threads), path)
    del model.encoder, model.decoder  # the PyTorch encoder's weights are no longer needed
    model.encoder, model.decoder = encoder, decoder
    return model
