"""Attention as ONNX Runtime's fused ``com.microsoft.MultiHeadAttention`` operator in an exported graph.

Traced as PyTorch ops, one attention layer is some thirty small nodes (reshapes, transposes, the
mask's where/isnan guards, softmax); at batch 1 on a CPU their dispatch costs as much as the layer's
matrix products. The fused operator does the head split, masking, softmax and head merge in one
kernel. Only the export uses it: in PyTorch the forward below is plain SDPA, and the projections stay
ordinary MatMuls, so ONNX Runtime's int8 quantization still reaches them. The operator is ONNX Runtime's
own; ``standard_operators()`` exports the traced form instead, for other ONNX runtimes.
"""

import contextlib

import torch
import torch.nn.functional as F

_fused = True


def fused_in_export():
    """Whether an ONNX export now writes attention as the fused operator."""
    return _fused and torch.onnx.is_in_onnx_export()


@contextlib.contextmanager
def standard_operators():
    """Within it, exports write attention with standard ONNX operators only."""
    global _fused
    before, _fused = _fused, False
    try:
        yield
    finally:
        _fused = before


class ExportedAttention(torch.autograd.Function):
    """(B, T, H*D) queries, (B, S, H*D) keys and values, (B, S) int32 ``keep`` (1 at real keys, or None)
    -> (B, T, H*D); bidirectional, no dropout (what an exported one-pass graph needs)."""

    @staticmethod
    def forward(ctx, q, k, v, keep, heads):
        def split(x):
            b, t, d = x.shape
            return x.view(b, t, heads, d // heads).transpose(1, 2)

        mask = None if keep is None else keep.bool()[:, None, None, :]
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        b, h, t, dh = out.shape
        return out.transpose(1, 2).reshape(b, t, h * dh)

    @staticmethod
    def symbolic(g, q, k, v, keep, heads):
        none = g.op("prim::Constant").setType(torch._C.NoneType.get())
        inputs = [q, k, v, none] + ([] if keep is None or keep.node().mustBeNone() else [keep])
        return g.op("com.microsoft::MultiHeadAttention", *inputs, num_heads_i=heads).setType(q.type())


def exported_attention(q, k, v, key_padding_mask, heads):
    """``key_padding_mask``: (B, S) bool, True at padding keys, or None."""
    keep = None if key_padding_mask is None else (~key_padding_mask).to(torch.int32)
    return ExportedAttention.apply(q, k, v, keep, heads)
