"""BnB's one pass as an ONNX graph, decoded by ONNX Runtime behind the ParallelDecoder interface.

A one-pass model has no decoding loop, so the graph (source ids -> encoder -> CTC slots -> decoder ->
output log-probabilities and the slot padding mask; batch and lengths dynamic) is the whole translator
but for the CTC collapse and the detokenization, which stay in the generator. ``use_onnx_runtime``
swaps a loaded model's encoder and decoder for an ONNX Runtime session in place, so that
fairseq-generate, -interactive, the Python API and the benchmark decode through it unchanged
(``--inference-precision onnx`` or ``onnx-int8``: ONNX Runtime's dynamic int8 quantization of the graph).

A classify model is exported as two graphs, because its length beam and refinement passes run the
decoder at lengths (and over words) chosen outside it: ``X.onnx`` (source ids -> encoder states and the
length classes' log-probabilities) and ``X.slots.onnx`` (encoder states, source ids, slot counts and the
words read back -> output log-probabilities and the slot padding mask; a row of [PAD] words is the first
pass). The length beam, the CRF's Viterbi path (its small transition tables stay in PyTorch), the CTC
collapse of ``--classify-ctc`` slots and mask-predict all run in the generator as for the PyTorch model.
"""

import contextlib
import logging
import os

import torch
import torch.nn as nn
from fairseq.models import FairseqEncoder

from bnb_fairseq.models.parallel_decoder import ParallelDecoder, is_parallel
from bnb_fairseq.modules.onnx_attention import standard_operators

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


class EncoderGraph(nn.Module):
    """A classify model's first graph: source ids (B, S) -> (encoder states (B, S, H), length-class
    log-probabilities (B, K) fp32)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src_tokens):
        src_lengths = src_tokens.ne(self.model.encoder.padding_idx).sum(1)
        encoder_out = self.model.encoder(src_tokens, src_lengths=src_lengths)
        length_logits = self.model.decoder.length_logits(encoder_out)
        return encoder_out["encoder_out"][0], torch.log_softmax(length_logits.float(), dim=-1)


class SlotsGraph(nn.Module):
    """A classify model's second graph: (encoder states, source ids, slot counts (B,), words read back
    (B, T), [PAD] where none) -> (log-probs (B, T, V) fp32, padding mask (B, T))."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, encoder_states, src_tokens, out_lengths, prev_tokens):
        src_mask = src_tokens.eq(self.model.encoder.padding_idx)
        encoder_out = {
            "encoder_out": [encoder_states],
            "encoder_padding_mask": [src_mask],
            "src_lengths": [(~src_mask).sum(1)],
        }
        logits, extra = self.model.decoder(
            None, encoder_out=encoder_out, out_lengths=out_lengths, prev_tokens=prev_tokens
        )
        return torch.log_softmax(logits.float(), dim=-1), extra["padding_mask"]


def slots_graph_path(path):
    """Where a classify model's second graph lies beside ``path``: X.onnx -> X.slots.onnx."""
    root = path[: -len(".onnx")] if path.endswith(".onnx") else path
    return root + ".slots.onnx"


def graph_paths(model, path):
    """The files a model's export writes: the one pass (CTC), or the encoder and slots graphs (classify)."""
    return [path, slots_graph_path(path)] if model.decoder.predicts_length else [path]


def check_exportable(model):
    if not is_parallel(model):
        raise ValueError(
            f"ONNX export: {type(model).__name__} is not a one-pass (BnB) model; an autoregressive model needs "
            "its decoding loop around the graph, which this version does not export"
        )
    from bnb_fairseq.generation.precision import current_precision

    if current_precision(model) != "fp32":
        raise ValueError(f"ONNX export: the model was already converted to {current_precision(model)}; load it again")


def export_one_pass(model, path, quantize=False, portable=False):
    """Write ``model``'s graphs (``graph_paths``: the one pass, or a classify model's two) and, with
    ``quantize``, ONNX Runtime's dynamic int8 quantization of each in its place; returns the paths.
    ``portable``: standard ONNX operators only (attention as traced ops, not ONNX Runtime's fused one)."""
    check_exportable(model)
    model.eval()  # (fairseq-generate makes train() return None)
    pad, cls, sep = model.encoder.padding_idx, model.encoder.dictionary.bos(), model.encoder.dictionary.eos()
    example = torch.tensor([[cls, 2000, 2001, 2002, sep], [cls, 2003, sep, pad, pad]], dtype=torch.long)
    example = example.clamp(max=len(model.encoder.dictionary) - 1).to(next(model.parameters()).device)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    batch_and_source = {0: "batch", 1: "source_length"}
    batch_and_slots = {0: "batch", 1: "slots"}
    if not model.decoder.predicts_length:
        graphs = [
            (
                OnePassGraph(model),
                (example,),
                path,
                {"src_tokens": batch_and_source, "lprobs": batch_and_slots, "padding_mask": batch_and_slots},
            )
        ]
    else:
        with torch.no_grad():
            states, _ = EncoderGraph(model)(example)
        out_lengths = torch.tensor([4, 2], device=example.device)
        prev_tokens = torch.full((2, 4), pad, dtype=torch.long, device=example.device)
        prev_tokens[0, 1] = cls  # a word read back at one slot, so that the graph keeps the word path
        graphs = [
            (
                EncoderGraph(model),
                (example,),
                path,
                {"src_tokens": batch_and_source, "encoder_states": batch_and_source, "length_lprobs": {0: "batch"}},
            ),
            (
                SlotsGraph(model),
                (states, example, out_lengths, prev_tokens),
                slots_graph_path(path),
                {
                    "encoder_states": batch_and_source,
                    "src_tokens": batch_and_source,
                    "out_lengths": {0: "batch"},
                    "prev_tokens": batch_and_slots,
                    "lprobs": batch_and_slots,
                    "padding_mask": batch_and_slots,
                },
            ),
        ]
    for graph, inputs, target, axes in graphs:
        written = target + ".fp32.onnx" if quantize else target
        names = list(axes)
        with torch.no_grad(), standard_operators() if portable else contextlib.nullcontext():
            torch.onnx.export(
                graph.eval(),
                inputs,
                written,
                input_names=names[: len(inputs)],
                output_names=names[len(inputs) :],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,  # TorchScript tracing: the slot count stays a graph value (modules/latent.py)
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(written, target, weight_type=QuantType.QInt8, per_channel=True)
            os.remove(written)
    return [target for _, _, target, _ in graphs]


def onnx_session(path, threads=None, spinning=True):
    """A session on ``threads`` intra-op threads (default: torch's). Its threads spin-wait between the
    graph's operators and briefly after a run, which is what makes them fast at batch 1; the generator
    therefore runs torch's own work on one thread while the session is in use (``generation_context``),
    or the two pools would take turns on the same cores (measured in docs/inference.md)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def torch_on_one_thread():
    """Torch's intra-op threads down to one for the block (the thread count is process-wide), then back."""
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


class OnnxSourceEncoder(FairseqEncoder):
    """Holds the source for the graph: the whole pass runs in the decoder's session (CTC), or runs the
    encoder graph (``session``: a classify model), whose states and length log-probabilities it holds."""

    def __init__(self, encoder, session=None):
        super().__init__(encoder.dictionary)
        self.padding_idx = encoder.padding_idx
        self._max_positions = encoder.max_positions()
        self.session = session

    def forward(self, src_tokens, src_lengths=None, **kwargs):
        padding_mask = src_tokens.eq(self.padding_idx)
        if src_lengths is None:
            src_lengths = (~padding_mask).sum(1)
        states = length_lprobs = None
        if self.session is not None:
            states, length_lprobs = (
                torch.from_numpy(a).to(src_tokens.device)
                for a in self.session.run(None, {"src_tokens": src_tokens.cpu().numpy()})
            )
        return {
            "encoder_out": [states],
            "length_lprobs": [length_lprobs],
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

    def __init__(self, decoder, session, path, files=None):
        super().__init__(decoder.dictionary)
        self.torch_decoder = decoder
        self.session, self.path = session, path
        self.onnx_file_bytes = sum(os.path.getsize(f) for f in files or [path])

    # the one pass
    def forward(self, prev_output_tokens=None, encoder_out=None, out_lengths=None, prev_tokens=None, **kwargs):
        if self.predicts_length:
            return self._slots_pass(encoder_out, out_lengths, prev_tokens)
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

    def _slots_pass(self, encoder_out, out_lengths, prev_tokens):
        src_tokens = encoder_out["src_tokens"][0]
        length_lprobs = encoder_out["length_lprobs"][0]
        if out_lengths is None:
            out_lengths = self.length_candidates(length_lprobs, encoder_out["src_lengths"][0])[0][:, 0]
        if prev_tokens is None:  # [PAD] reads nothing: the first pass
            slots = int(out_lengths.max())
            prev_tokens = torch.full((len(out_lengths), slots), self.torch_decoder.dictionary.pad(), dtype=torch.long)
        feed = {
            "encoder_states": encoder_out["encoder_out"][0].cpu().numpy(),
            "src_tokens": src_tokens.cpu().numpy(),
            "out_lengths": out_lengths.cpu().numpy(),
            "prev_tokens": prev_tokens.cpu().numpy(),
        }
        lprobs, padding_mask = (torch.from_numpy(a).to(src_tokens.device) for a in self.session.run(None, feed))
        return lprobs, {"padding_mask": padding_mask, "out_lengths": out_lengths, "length_logits": length_lprobs}

    def generation_context(self):
        return torch_on_one_thread()

    @property
    def outputs_log_probs(self):
        return True  # the graph ends in its log-softmax (fp32)

    def get_normalized_probs(self, net_output, log_probs, sample=None):
        return net_output[0] if log_probs else net_output[0].exp()

    # everything else: the exported decoder's answers
    @property
    def length_control(self):
        return self.torch_decoder.length_control

    @property
    def num_length_classes(self):
        return self.torch_decoder.num_length_classes

    def length_logits(self, encoder_out):
        return encoder_out["length_lprobs"][0]  # log-probabilities: their log-softmax is themselves

    def length_candidates(self, length_lprobs, src_lengths, k=1):
        return self.torch_decoder.length_candidates(length_lprobs, src_lengths, k)

    @property
    def length_slot_ratio(self):
        return self.torch_decoder.length_slot_ratio

    def slots_for_lengths(self, lengths):
        return self.torch_decoder.slots_for_lengths(lengths)

    @property
    def merges_repeats(self):
        return self.torch_decoder.merges_repeats

    @property
    def has_crf(self):
        return self.torch_decoder.has_crf

    def crf_log_likelihood(self, lprobs, target_slots, mask):
        return self.torch_decoder.crf_log_likelihood(lprobs, target_slots, mask)

    def crf_viterbi(self, lprobs, mask, beam=None):
        return self.torch_decoder.crf_viterbi(lprobs, mask, beam)

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
    files = graph_paths(model, path)
    for f in files:
        if not os.path.exists(f):
            raise FileNotFoundError(
                f"{f}: no such ONNX graph; export this checkpoint first (python -m bnb_fairseq.tools.export_onnx)"
            )
    # a classify model's encoder runs its own graph; the decoder's session runs the last graph either way
    # (the encoder graph runs once a sentence, between the decoder graph's runs: its threads do not spin,
    # so that they never wait busily beside the decoder's)
    encoder = OnnxSourceEncoder(model.encoder, onnx_session(path, threads, spinning=False) if len(files) > 1 else None)
    decoder = OnnxParallelDecoder(model.decoder, onnx_session(files[-1], threads), path, files)
    del model.encoder, model.decoder  # the PyTorch encoder's weights are no longer needed
    model.encoder, model.decoder = encoder, decoder
    return model
