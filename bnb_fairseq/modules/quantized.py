"""Low-bit inference layers: int8 dynamic-activation Linear, weight-only int4/int8 Linear with per-group
scales, and an embedding table stored in int8/int4 rows.

Each wraps one of torch's own CPU kernels (fbgemm's dynamic int8 matmul, aten's int4-packed and
int8-packed weight-only matmuls); nothing here computes a matmul by hand. torchao's ``quantize_`` was
measured first on this project's 2-core AVX512-VNNI CPU (torch 2.13, torchao 0.18, a 384 x 1536 layer,
one thread): its eager int8 dynamic layer ran at 1.0x fp32 for 40 rows and 1.4x for 2,560 rows, fbgemm's
at 1.7x and 3.5x, so the int8 path calls fbgemm's operator directly (the same kernel that the deprecated
``torch.ao.quantization.quantize_dynamic`` wraps).
"""

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F


def packed_bytes(module):
    """Bytes held by a module's tensors, including the packed low-bit weights these layers keep outside
    ``parameters()``."""
    total = 0
    for t in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
        total += t.numel() * t.element_size()
    extra = getattr(module, "packed_nbytes", None)
    return total + (extra() if extra is not None else 0)


def model_bytes(model):
    """Bytes of every tensor of a model in memory (fp32, bf16 or packed low-bit)."""
    return sum(packed_bytes(m) for m in model.modules())


def group_quantize(weight, bits, group_size):
    """Asymmetric per-group quantization of rows: ``(q (N, K) int32 in [0, 2^bits), scale (N, G),
    minimum (N, G))`` with ``weight ~ q * scale + minimum`` in each group of ``group_size`` columns."""
    n, k = weight.shape
    if k % group_size:
        raise ValueError(f"{k} columns are not a multiple of the group size {group_size}")
    groups = weight.float().reshape(n, k // group_size, group_size)
    low, high = groups.amin(-1), groups.amax(-1)
    scale = ((high - low) / (2**bits - 1)).clamp(min=1e-8)
    q = ((groups - low[..., None]) / scale[..., None]).round().clamp(0, 2**bits - 1).to(torch.int32)
    return q.reshape(n, k), scale, low


def group_dequantize(q, scale, low, group_size):
    n, k = q.shape
    return (q.reshape(n, k // group_size, group_size).float() * scale[..., None] + low[..., None]).reshape(n, k)


def pick_group_size(k, wanted):
    """The largest of ``wanted``, 128, 64, 32 that divides ``k`` (None when none does)."""
    for g in (wanted, 128, 64, 32):
        if g <= k and k % g == 0:
            return g
    return None


class DynamicInt8Linear(nn.Module):
    """int8 weights (one scale per output row), activations quantized per call (fbgemm's
    ``quantized::linear_dynamic``, int8 x int8 -> int32 with VNNI); fp32 in and out."""

    def __init__(self, weight, bias=None):
        super().__init__()
        weight = weight.detach().float()
        self.in_features, self.out_features = weight.size(1), weight.size(0)
        scales = (weight.abs().amax(1) / 127).clamp(min=1e-8).double()
        zeros = torch.zeros(weight.size(0), dtype=torch.long)
        with warnings.catch_warnings():  # quantized tensors are deprecated in torch, fbgemm's kernel is not
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
        bias = None if bias is None else bias.detach().float()
        self._packed = torch.ops.quantized.linear_prepack(qweight, bias)
        self._nbytes = qweight.numel() + scales.numel() * 4 + (bias.numel() * 4 if bias is not None else 0)

    @classmethod
    def from_linear(cls, linear):
        return cls(linear.weight, linear.bias)

    def packed_nbytes(self):
        return self._nbytes

    def forward(self, x):
        shape = x.shape
        y = torch.ops.quantized.linear_dynamic(x.reshape(-1, shape[-1]).float().contiguous(), self._packed, True)
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights per row"


class Int4WeightOnlyLinear(nn.Module):
    """4-bit weights with a scale and minimum per group of ``group_size`` inputs, packed for aten's CPU
    kernel (``_weight_int4pack_mm_for_cpu``), which multiplies in bf16; the bias is added in fp32."""

    def __init__(self, weight, bias=None, group_size=32):
        super().__init__()
        weight = weight.detach()
        self.out_features, self.in_features = weight.shape
        self.group_size = group_size
        padded = -self.out_features % 16  # the packing wants rows in multiples of 16: zero rows, cut after
        if padded:
            weight = torch.cat([weight, weight.new_zeros(padded, self.in_features)])
        q, scale, low = group_quantize(weight, 4, group_size)
        # the kernel computes (q - 8) * scale + zero: its zero is the value of the middle code 8
        scales_and_zeros = torch.stack([scale, low + 8 * scale], -1).transpose(0, 1).contiguous()
        self.register_buffer("scales_and_zeros", scales_and_zeros.to(torch.bfloat16))
        self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1))
        self.register_buffer("bias", None if bias is None else bias.detach().float())

    @classmethod
    def from_linear(cls, linear, group_size=32):
        return cls(linear.weight, linear.bias, group_size)

    def forward(self, x):
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).to(torch.bfloat16).contiguous()
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.packed, self.group_size, self.scales_and_zeros)
        y = y[:, : self.out_features].float()
        y = y if self.bias is None else y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, int4 groups of {self.group_size}"


class QuantizedEmbedding(nn.Module):
    """An embedding table kept as ``bits``-bit codes (8 or 4; two 4-bit codes per byte) with a scale and
    minimum per group of columns; rows are dequantized when looked up, so only the rows a batch reads
    are ever in float."""

    def __init__(self, weight, padding_idx=None, bits=8, group_size=32):
        super().__init__()
        if bits not in (4, 8):
            raise ValueError(f"QuantizedEmbedding: {bits} bits; choose 8 or 4")
        weight = weight.detach()
        self.num_embeddings, self.embedding_dim = weight.shape
        self.padding_idx, self.bits, self.group_size = padding_idx, bits, group_size
        self.dtype = weight.dtype
        q, scale, low = group_quantize(weight, bits, group_size)
        q = q.to(torch.uint8)
        if bits == 4:
            q = q[:, 0::2] | (q[:, 1::2] << 4)
        self.register_buffer("codes", q)
        self.register_buffer("scale", scale.to(torch.float16))
        self.register_buffer("low", low.to(torch.float16))

    def rows(self, ids):
        codes = F.embedding(ids, self.codes)
        if self.bits == 4:
            codes = torch.stack([codes & 15, codes >> 4], -1).flatten(-2)
        g = self.group_size
        grouped = codes.reshape(*ids.shape, self.embedding_dim // g, g).float()
        scale, low = F.embedding(ids, self.scale).float(), F.embedding(ids, self.low).float()
        return (grouped * scale[..., None] + low[..., None]).flatten(-2).to(self.dtype)

    def forward(self, ids):
        return self.rows(ids)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, int{self.bits} groups of {self.group_size}"


PACKED_SUFFIXES = (".int4_codes", ".int4_scale", ".int4_low")


def pack_state_int4(state_dict, group_size=32, min_size=4096):
    """A state dict with every 2-D float tensor of at least ``min_size`` values (Linear weights and
    embedding tables) stored as 4-bit codes, two per byte, with a fp16 scale and minimum per group of
    ``group_size`` columns (keys ``NAME.int4_codes/.int4_scale/.int4_low``); other tensors as they are.
    Portable: the codes are not packed for any CPU's kernel. ``unpack_state_int4`` reverses it."""
    out = {}
    for name, t in state_dict.items():
        size = pick_group_size(t.size(-1), group_size) if torch.is_tensor(t) and t.dim() == 2 else None
        if size is None or not t.is_floating_point() or t.numel() < min_size:
            out[name] = t
            continue
        q, scale, low = group_quantize(t, 4, size)
        q = q.to(torch.uint8)
        out[name + ".int4_codes"] = q[:, 0::2] | (q[:, 1::2] << 4)
        out[name + ".int4_scale"] = scale.to(torch.float16)
        out[name + ".int4_low"] = low.to(torch.float16)
    return out


def unpack_state_int4(state_dict, prefix=""):
    """Replace (in place) the packed entries of ``pack_state_int4`` under ``prefix`` by fp32 tensors."""
    for key in [k for k in state_dict if k.startswith(prefix) and k.endswith(".int4_codes")]:
        name = key[: -len(".int4_codes")]
        codes = state_dict.pop(key)
        scale, low = state_dict.pop(name + ".int4_scale").float(), state_dict.pop(name + ".int4_low").float()
        q = torch.stack([codes & 15, codes >> 4], -1).flatten(-2).to(torch.int32)
        state_dict[name] = group_dequantize(q, scale, low, q.size(1) // scale.size(1))
    return state_dict
