"""BERT-compatible transformer layers (post-LN, SDPA attention), batch-first.

Module names follow the Hugging Face BERT parameter layout (``attention.self.query`` ...),
so checkpoint loading is a name lookup. Unlike HF's BertModel, a layer may take
cross-attention without being causal, which the BnB decoder needs; causal layers with a
key/value cache serve the autoregressive BERT2BERT baseline.

A ``LayerVariant`` states how a checkpoint family's layers differ from BERT's (ALBERT's shared
layer, ModernBERT's pre-norm, rotary positions, GeGLU and local attention windows, MobileBERT's
NoNorm, trigram input embeddings, bottlenecks and stacked FFNs): the same modules serve every
family, with those differences as options.
"""

import json
from dataclasses import asdict, dataclass, fields
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from bnb_fairseq.modules.onnx_attention import exported_attention, fused_in_export

ACTIVATIONS = {
    "gelu": F.gelu,
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: F.gelu(x, approximate="tanh"),
}


@dataclass(frozen=True)
class LayerVariant:
    """How a family's layer stack differs from BERT's; every default is BERT's."""

    pre_norm: bool = False  # LayerNorm before each sublayer, residual after (ModernBERT)
    first_attention_norm: bool = True  # False: layer 0 reads the (already normalised) embeddings as they are
    final_norm: bool = False  # a LayerNorm after the last layer (``encoder.final_norm``)
    attention_bias: bool = True
    mlp_bias: bool = True
    norm_bias: bool = True
    glu: bool = False  # gated FFN: act(x W_a) * (x W_g), W_a and W_g stacked in ``intermediate.dense``
    absolute_positions: bool = True  # False: no position table; positions only through rotary attention
    rotary_thetas: Tuple[float, ...] = ()  # per layer: rotary base of its self-attention (empty: no rotary)
    attention_windows: Tuple[int, ...] = ()  # per layer: half width of its local attention window (0: global)
    layer_order: Tuple[int, ...] = ()  # the layer applied at each depth (ALBERT's shared layer: all 0)
    head_bias: bool = True  # bias of the MLM head's dense layer
    head_activation: str = ""  # the MLM head's activation ("": the layers')
    # MobileBERT (see BertLayer and BertEmbeddings for where each part sits)
    no_norm: bool = False  # NoNorm (elementwise scale and shift) for every norm of the embeddings and layers
    bottleneck_size: int = 0  # width inside each layer, between its input and output bottlenecks (0: none)
    bottleneck_attention: bool = False  # queries, keys and values read the input bottleneck
    shared_query_key_bottleneck: bool = False  # queries and keys read ``bottleneck.attention``, values the input
    extra_ffns: int = 0  # FFN sublayers (``ffn.K``) before the layer's own one
    trigram_input: bool = False  # a token's input is [next, own, previous] word embedding
    embedding_transform: bool = False  # words -> hidden width before positions and types (hidden-wide tables)
    embedding_norm_eps: float = 0.0  # eps of the embeddings' LayerNorm (0: the layers')
    ffn_norm_eps: float = 0.0  # eps of the layer's own FFN output LayerNorm (0: the layers')
    head_extra_output: bool = False  # MLM head keeps the hidden width; extra output columns ``lm_head.extra_output``

    def to_json(self):
        """The options that differ from BERT's, as stored in a model's config ("" for BERT's layer)."""
        changed = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}
        return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in changed.items()}, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        if not text:
            return cls()
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"layer variant options {unknown} unknown to this version (known: {sorted(known)})")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def as_dict(self):
        return asdict(self)

    def order(self, layers):
        """The index of the layer applied at each of the first ``layers`` depths."""
        if not self.layer_order:
            return list(range(layers))
        if layers > len(self.layer_order):
            raise ValueError(f"{layers} layers asked for; the shared-layer schedule has {len(self.layer_order)}")
        return list(self.layer_order[:layers])


BERT_LAYER = LayerVariant()


def rotate(x, positions, theta):
    """Rotary position embedding of ``x`` (B, H, T, D) at ``positions`` (T,) or (B, T), possibly
    fractional: pairs (i, i + D/2) of each head are rotated by position x theta^(-2i/D)."""
    d = x.size(-1)
    inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angles = positions.to(torch.float32)[..., None] * inv_freq
    angles = torch.cat([angles, angles], -1)
    if angles.dim() == 3:  # per sentence: (B, 1, T, D)
        angles = angles[:, None]
    first, second = x.float().chunk(2, -1)
    rotated = x.float() * angles.cos() + torch.cat([-second, first], -1) * angles.sin()
    return rotated.to(x.dtype)


def init_bert_weights(module, std=0.02):
    """BERT's initialisation: N(0, std) weights, zero biases, unit LayerNorm, zero padding row."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class NoNorm(nn.Module):
    """MobileBERT's normalisation: an elementwise scale and shift, no statistics."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return x * self.weight + self.bias


def make_norm(dim, eps, bias=True, no_norm=False):
    return NoNorm(dim) if no_norm else nn.LayerNorm(dim, eps=eps, bias=bias)


class QKV(nn.Module):
    """Query, key and value projections to ``dim``; their inputs may have other widths (MobileBERT)."""

    def __init__(self, dim, bias=True, query_in=None, key_in=None, value_in=None):
        super().__init__()
        self.query = nn.Linear(query_in or dim, dim, bias=bias)
        self.key = nn.Linear(key_in or dim, dim, bias=bias)
        self.value = nn.Linear(value_in or dim, dim, bias=bias)


class DenseNorm(nn.Module):
    """A sublayer's output: dense -> dropout -> add residual -> LayerNorm (BERT's post-LN). With
    ``pre_norm`` the LayerNorm is applied to the sublayer's input instead (``normalized_input``) and
    the output is residual + dropout(dense); ``norm=False`` leaves a pre-norm sublayer without one.
    ``no_norm``: NoNorm in place of the LayerNorm (MobileBERT). Without a residual (MobileBERT's
    bottlenecks) it is dense -> norm."""

    def __init__(self, in_dim, dim, eps, dropout, bias=True, norm_bias=True, pre_norm=False, norm=True, no_norm=False):
        super().__init__()
        self.dense = nn.Linear(in_dim, dim, bias=bias)
        self.LayerNorm = make_norm(dim, eps, norm_bias, no_norm) if norm or not pre_norm else None
        self.dropout = nn.Dropout(dropout)
        self.pre_norm = pre_norm

    def normalized_input(self, x):
        return self.LayerNorm(x) if self.pre_norm and self.LayerNorm is not None else x

    def forward(self, x, residual=None):
        out = self.dense(x)
        if residual is not None:
            out = self.dropout(out) + residual
        return out if self.pre_norm else self.LayerNorm(out)


class BertAttention(nn.Module):
    """``rotary_theta`` > 0 rotates queries and keys by their positions (self-attention only);
    ``window`` > 0 lets a query see only keys at most that many positions away. ``dim`` is the width
    of the heads together and of the output; ``query_in``/``key_in``/``value_in`` the widths of the
    projections' inputs when they differ (MobileBERT's bottlenecks)."""

    def __init__(
        self,
        dim,
        heads,
        eps,
        dropout,
        attention_dropout,
        bias=True,
        norm_bias=True,
        pre_norm=False,
        norm=True,
        rotary_theta=0.0,
        window=0,
        query_in=None,
        key_in=None,
        value_in=None,
        no_norm=False,
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden size {dim} is not a multiple of {heads} attention heads")
        self.heads = heads
        self.attention_dropout = attention_dropout
        self.self = QKV(dim, bias, query_in, key_in, value_in)
        self.output = DenseNorm(dim, dim, eps, dropout, bias, norm_bias, pre_norm, norm, no_norm)
        self.rotary_theta = rotary_theta
        self.window = window

    def _split(self, x):
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(
        self,
        x,
        memory=None,
        key_padding_mask=None,
        causal=False,
        cache=None,
        positions=None,
        keys=None,
        values=None,
        residual=None,
    ):
        """``key_padding_mask``: (B, S) bool, True at padding keys. ``causal``: each query sees only
        itself and earlier positions (right-padded queries need no key mask then). ``cache``: a dict
        for incremental decoding: self-attention appends this step's keys/values to it,
        cross-attention computes the memory's keys/values once and reuses them. ``positions``: (T,)
        or (B, T) positions of the queries for rotary attention (default: 0.., after the cached ones).
        ``keys``/``values``: other inputs of the key/value projections than ``x`` (or ``memory``), and
        ``residual`` another residual than ``x`` (MobileBERT's bottlenecks)."""
        residual = x if residual is None else residual
        x = self.output.normalized_input(x)
        kv = x if memory is None else memory
        k_in, v_in = kv if keys is None else keys, kv if values is None else values
        own_positions = memory is None and (self.rotary_theta or self.window)
        if fused_in_export() and cache is None and not causal and not own_positions:
            # an exported graph's attention: one fused operator (modules/onnx_attention.py)
            out = exported_attention(
                self.self.query(x), self.self.key(k_in), self.self.value(v_in), key_padding_mask, self.heads
            )
            return self.output(out, residual)
        q = self._split(self.self.query(x))
        offset = cache["k"].size(2) if memory is None and cache is not None and "k" in cache else 0
        if memory is not None and cache is not None and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k = self._split(self.self.key(k_in))
            v = self._split(self.self.value(v_in))
            if self.rotary_theta and memory is None:
                if positions is None:
                    positions = torch.arange(offset, offset + q.size(2), device=q.device)
                q, k = rotate(q, positions, self.rotary_theta), rotate(k, positions, self.rotary_theta)
            if cache is not None:
                if memory is None and "k" in cache:
                    k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
                cache["k"], cache["v"] = k, v
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        is_causal = causal and q.size(2) > 1
        if self.window and memory is None:
            query_at = torch.arange(offset, offset + q.size(2), device=q.device)[:, None]
            key_at = torch.arange(k.size(2), device=q.device)[None, :]
            allowed = (query_at - key_at).abs() <= self.window
            if causal:
                allowed = allowed & (key_at <= query_at)
            mask = allowed if mask is None else mask & allowed
            is_causal = False
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.attention_dropout if self.training else 0.0,
            is_causal=is_causal,
        )
        b, h, t, dh = out.shape
        return self.output(out.transpose(1, 2).reshape(b, t, h * dh), residual)


class BertIntermediate(nn.Module):
    """``glu``: the dense layer gives 2 x ffn_dim features, act(first half) x second half (GeGLU)."""

    def __init__(self, dim, ffn_dim, activation, bias=True, glu=False):
        super().__init__()
        self.dense = nn.Linear(dim, 2 * ffn_dim if glu else ffn_dim, bias=bias)
        self.act = ACTIVATIONS[activation]
        self.glu = glu

    def forward(self, x):
        if self.glu:
            value, gate = self.dense(x).chunk(2, -1)
            return self.act(value) * gate
        return self.act(self.dense(x))


class Bottleneck(nn.Module):
    """MobileBERT's input bottleneck: ``input`` (dense -> norm, hidden -> inner width) gives the layer's
    residual inside the bottleneck; ``attention``, a second one, the inputs of queries and keys
    (``shared_query_key_bottleneck``). ``__call__(h)`` -> (residual, query input, key input, value input)."""

    def __init__(self, dim, inner, eps, variant):
        super().__init__()
        v = variant
        self.input = DenseNorm(dim, inner, eps, 0.0, v.attention_bias, v.norm_bias, no_norm=v.no_norm)
        self.shared_attention = v.shared_query_key_bottleneck and not v.bottleneck_attention
        self.attention = (
            DenseNorm(dim, inner, eps, 0.0, v.attention_bias, v.norm_bias, no_norm=v.no_norm)
            if self.shared_attention
            else None
        )
        self.bottleneck_attention = v.bottleneck_attention

    def forward(self, h):
        inner = self.input(h)
        if self.bottleneck_attention:
            return inner, inner, inner, inner
        if self.attention is not None:
            shared = self.attention(h)
            return inner, shared, shared, h
        return inner, h, h, h


class FeedForward(nn.Module):
    """One of MobileBERT's extra FFN sublayers: intermediate -> output (dense, add residual, norm)."""

    def __init__(self, dim, ffn_dim, activation, eps, variant):
        super().__init__()
        v = variant
        self.intermediate = BertIntermediate(dim, ffn_dim, activation, v.mlp_bias, v.glu)
        self.output = DenseNorm(ffn_dim, dim, eps, 0.0, v.mlp_bias, v.norm_bias, no_norm=v.no_norm)

    def forward(self, x):
        return self.output(self.intermediate(x), x)


class BertLayer(nn.Module):
    """self-attention -> [cross-attention] -> FFN, each post-LN (pre-LN by ``variant``). ``index``: the
    layer's depth, which picks its rotary base and attention window in the variant.

    MobileBERT (``variant.bottleneck_size``): the layer reads its ``dim``-wide input ``h`` through an
    input bottleneck (``bottleneck.input``: dense -> norm, to the inner width), which is the residual
    of the self-attention; queries and keys read that bottleneck (``bottleneck_attention``), a second
    one (``bottleneck.attention``, ``shared_query_key_bottleneck``) or ``h``; values that bottleneck or
    ``h``. After the self-attention come ``extra_ffns`` FFN sublayers (``ffn.K``) and the layer's own
    FFN, all in the inner width, and the output bottleneck (``output_bottleneck``: dense to ``dim``,
    add ``h``, norm). Dropout sits where MobileBERT has it: not after the self-attention or FFN
    outputs inside a bottleneck, only after the output bottleneck.

    Cross-attention (a decoder's, new to the checkpoint) sits after the self-attention, in the inner
    width: its queries and residual are the self-attention's output; its keys and values read the
    ``dim``-wide memory exactly as the self-attention reads ``h`` (through the same bottleneck
    modules), so its projections have the self-attention's shapes and ``--cross-attention-init self``
    can copy them. Its output norm is a NoNorm where the layer's are."""

    def __init__(
        self,
        dim,
        heads,
        ffn_dim,
        activation,
        eps,
        dropout,
        attention_dropout,
        cross_attention=False,
        variant=BERT_LAYER,
        index=0,
    ):
        super().__init__()
        v = variant
        inner = v.bottleneck_size or dim
        common = dict(bias=v.attention_bias, norm_bias=v.norm_bias, pre_norm=v.pre_norm, no_norm=v.no_norm)
        self.bottleneck = Bottleneck(dim, inner, eps, v) if v.bottleneck_size else None
        # input widths of the attention projections: the bottleneck's (inner) or the layer input's (dim)
        query_in = inner if v.bottleneck_attention or v.shared_query_key_bottleneck else dim
        value_in = inner if v.bottleneck_attention else dim
        inside = 0.0 if v.bottleneck_size else dropout  # MobileBERT has no dropout inside a bottleneck
        widths = dict(query_in=query_in, key_in=query_in, value_in=value_in)
        self.attention = BertAttention(
            inner,
            heads,
            eps,
            inside,
            attention_dropout,
            norm=v.first_attention_norm or index > 0,
            rotary_theta=v.rotary_thetas[index] if v.rotary_thetas else 0.0,
            window=v.attention_windows[index] if v.attention_windows else 0,
            **widths,
            **common,
        )
        self.crossattention = (
            BertAttention(inner, heads, eps, inside, attention_dropout, **widths, **common) if cross_attention else None
        )
        self.ffn = (
            nn.ModuleList([FeedForward(inner, ffn_dim, activation, eps, v) for _ in range(v.extra_ffns)])
            if v.extra_ffns
            else None
        )
        self.intermediate = BertIntermediate(inner, ffn_dim, activation, v.mlp_bias, v.glu)
        self.output = DenseNorm(
            ffn_dim, inner, v.ffn_norm_eps or eps, inside, v.mlp_bias, v.norm_bias, v.pre_norm, no_norm=v.no_norm
        )
        self.output_bottleneck = (
            DenseNorm(inner, dim, eps, dropout, v.mlp_bias, v.norm_bias, no_norm=v.no_norm)
            if v.bottleneck_size
            else None
        )

    def forward(
        self, x, padding_mask=None, memory=None, memory_padding_mask=None, causal=False, cache=None, positions=None
    ):
        """``cache``: None, or a dict holding this layer's incremental state (see BertAttention)."""
        self_cache = cross_cache = None
        if cache is not None:
            self_cache, cross_cache = cache.setdefault("self", {}), cache.setdefault("cross", {})
        h = x
        residual = keys = values = None
        if self.bottleneck is not None:
            residual, x, keys, values = self.bottleneck(h)
        x = self.attention(
            x,
            key_padding_mask=None if causal else padding_mask,
            causal=causal,
            cache=self_cache,
            positions=positions,
            keys=keys,
            values=values,
            residual=residual,
        )
        if self.crossattention is not None:
            memory_values = None
            if self.bottleneck is not None and not (cross_cache is not None and "k" in cross_cache):
                _, _, memory, memory_values = self.bottleneck(memory)
            x = self.crossattention(
                x, memory=memory, key_padding_mask=memory_padding_mask, cache=cross_cache, values=memory_values
            )
        for ffn in self.ffn or ():
            x = ffn(x)
        x = self.output(self.intermediate(self.output.normalized_input(x)), x)
        return x if self.output_bottleneck is None else self.output_bottleneck(x, h)


class BertEmbeddings(nn.Module):
    """word/position/type embeddings -> LayerNorm -> dropout; also accepts ready input vectors.

    ``embedding_size`` below ``dim`` (ELECTRA) embeds in that width and projects to ``dim`` after the
    LayerNorm (``embeddings_project``, as ELECTRA does); ``type_vocab_size`` 0 leaves token types out
    (DistilBERT). Inputs given as vectors (``inputs_embeds``) are in the word embeddings' width,
    ``position_embeds`` in the position table's.

    MobileBERT (``variant.trigram_input`` / ``embedding_transform``): a token's input is the concatenation
    of the next, its own and the previous token's word embeddings (zeros beyond the ends; ``causal``:
    zeros for the next token, which a causal decoder must not read, so ``left_context`` is 1),
    projected to ``dim`` by ``embedding_transformation`` before the ``dim``-wide position and type
    embeddings are added; then the norm (a NoNorm with ``variant.no_norm``)."""

    def __init__(
        self,
        vocab_size,
        dim,
        max_positions,
        type_vocab_size,
        pad_idx,
        eps,
        dropout,
        embedding_size=None,
        variant=BERT_LAYER,
    ):
        super().__init__()
        width = embedding_size or dim
        transform = variant.trigram_input or variant.embedding_transform
        self.word_embeddings = nn.Embedding(vocab_size, width, padding_idx=pad_idx)
        self.trigram_input = variant.trigram_input
        self.left_context = 1 if variant.trigram_input else 0
        self.embedding_transformation = (
            nn.Linear(width * (3 if variant.trigram_input else 1), dim) if transform else None
        )
        table = dim if transform else width
        # a rotary family (ModernBERT) has no position table: its attention layers see positions
        self.position_embeddings = nn.Embedding(max_positions, table) if variant.absolute_positions else None
        self.max_positions = max_positions
        self.token_type_embeddings = nn.Embedding(type_vocab_size, table) if type_vocab_size > 0 else None
        self.LayerNorm = make_norm(table, variant.embedding_norm_eps or eps, variant.norm_bias, variant.no_norm)
        self.dropout = nn.Dropout(dropout)
        self.embeddings_project = nn.Linear(width, dim) if table != dim else None

    def forward(self, tokens=None, inputs_embeds=None, position_embeds=None, token_types=None, causal=False):
        """``position_embeds`` (B, T, table width) replaces the embeddings of positions 0..T-1 when given;
        ``token_types`` (B, T) are segment ids (None: all segment 0; an int: all that segment). ``causal``:
        a trigram input leaves out the next token."""
        x = self.word_embeddings(tokens) if inputs_embeds is None else inputs_embeds
        if self.trigram_input:
            after = torch.zeros_like(x) if causal else F.pad(x[:, 1:], (0, 0, 0, 1))
            x = torch.cat([after, x, F.pad(x[:, :-1], (0, 0, 1, 0))], -1)
        if self.embedding_transformation is not None:
            x = self.embedding_transformation(x)
        if position_embeds is None:
            t = x.size(1)
            if t > self.max_positions:
                raise ValueError(f"sequence of {t} positions exceeds the model's {self.max_positions}")
            if self.position_embeddings is not None:
                position_embeds = self.position_embeddings.weight[:t].unsqueeze(0)
        if position_embeds is not None:
            x = x + position_embeds
        if self.token_type_embeddings is not None:
            if token_types is None or isinstance(token_types, int):
                x = x + self.token_type_embeddings.weight[token_types or 0]
            else:
                x = x + self.token_type_embeddings(token_types)
        x = self.dropout(self.LayerNorm(x))
        return x if self.embeddings_project is None else self.embeddings_project(x)


class BertStack(nn.Module):
    """``layers`` layers applied in turn. A variant with a ``layer_order`` applies the same layer at
    several depths (ALBERT: one layer, N times), holding each distinct layer once."""

    def __init__(self, layers, variant=BERT_LAYER, **layer_kwargs):
        super().__init__()
        self.order = variant.order(layers)
        distinct = max(self.order) + 1 if self.order else 0
        self.layer = nn.ModuleList([BertLayer(variant=variant, index=i, **layer_kwargs) for i in range(distinct)])
        dim, eps = layer_kwargs["dim"], layer_kwargs["eps"]
        self.final_norm = nn.LayerNorm(dim, eps=eps, bias=variant.norm_bias) if variant.final_norm else None

    def new_caches(self):
        """One incremental-decoding cache per applied layer."""
        return [{} for _ in self.order]

    def forward(
        self, x, padding_mask=None, memory=None, memory_padding_mask=None, causal=False, caches=None, positions=None
    ):
        """``caches``: None, or ``new_caches()`` for incremental decoding. ``positions``: rotary positions
        of the inputs (see BertAttention)."""
        for depth, i in enumerate(self.order):
            cache = None if caches is None else caches[depth]
            x = self.layer[i](x, padding_mask, memory, memory_padding_mask, causal, cache, positions)
        return x if self.final_norm is None else self.final_norm(x)


class BertLMHead(nn.Module):
    """BERT's MLM head: dense -> act -> LayerNorm -> tied word embeddings + bias. With word embeddings
    narrower than the hidden states (ELECTRA) the dense layer maps down to their width.

    ``variant.head_extra_output`` (MobileBERT): the dense layer keeps the hidden width and the output
    matrix is the word embeddings with ``dim - embedding_size`` more columns of its own
    (``extra_output``, vocabulary x columns: MobileBERT's ``cls.predictions.dense`` transposed). The
    head's norm is a LayerNorm whatever ``variant.no_norm`` says, as MobileBERT's is."""

    def __init__(self, dim, vocab_size, activation, eps, embedding_size=None, variant=BERT_LAYER):
        super().__init__()
        width = embedding_size or dim
        head_width = dim if variant.head_extra_output else width
        self.dense = nn.Linear(dim, head_width, bias=variant.head_bias)
        self.act = ACTIVATIONS[variant.head_activation or activation]
        self.LayerNorm = nn.LayerNorm(head_width, eps=eps, bias=variant.norm_bias)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        self.extra_output = None
        if head_width > width:
            self.extra_output = nn.Parameter(torch.empty(vocab_size, head_width - width).normal_(std=0.02))
        # set for inference only (generation/precision.py): a frozen, quantized copy of the output matrix
        self.output_projection = None

    def output_matrix(self, embedding_weight, rows=None):
        """The output matrix given the tied word embeddings (``rows``: the vocabulary ids of their rows,
        when they are a subset): the embeddings themselves, or with ``extra_output``'s columns."""
        if self.extra_output is None:
            return embedding_weight
        extra = self.extra_output if rows is None else self.extra_output[rows]
        if extra.size(0) != embedding_weight.size(0):
            raise ValueError(
                f"{embedding_weight.size(0)} embedding rows for a vocabulary of {extra.size(0)}: give the rows' "
                "ids (output_matrix(weight, rows)) to trim this head's output"
            )
        return torch.cat([embedding_weight, extra.to(embedding_weight.dtype)], 1)

    def forward(self, x, embedding_weight=None, bias=None):
        """``embedding_weight``/``bias`` may be a subset of the vocabulary's rows (a trimmed output); with
        an ``output_projection`` they are not needed. Narrower than the hidden states, the weight is the
        word embeddings of the whole vocabulary and gets ``extra_output``'s columns here."""
        h = self.LayerNorm(self.act(self.dense(x)))
        if self.output_projection is not None:
            return self.output_projection(h)
        if embedding_weight.size(1) != h.size(-1):
            embedding_weight = self.output_matrix(embedding_weight)
        return F.linear(h, embedding_weight, self.bias if bias is None else bias)
