"""BERT-compatible transformer layers (post-LN, SDPA attention), batch-first.

Module names follow the Hugging Face BERT parameter layout (``attention.self.query`` ...),
so checkpoint loading is a name lookup. Unlike HF's BertModel, a layer may take
cross-attention without being causal, which the BnB decoder needs; causal layers with a
key/value cache serve the autoregressive BERT2BERT baseline.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {
    "gelu": F.gelu,
    "relu": F.relu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: F.gelu(x, approximate="tanh"),
}


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
            nn.init.zeros_(m.bias)


class QKV(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)


class DenseNorm(nn.Module):
    """dense -> dropout -> add residual -> LayerNorm (BERT's post-LN sublayer output)."""

    def __init__(self, in_dim, dim, eps, dropout):
        super().__init__()
        self.dense = nn.Linear(in_dim, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, dim, heads, eps, dropout, attention_dropout):
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden size {dim} is not a multiple of {heads} attention heads")
        self.heads = heads
        self.attention_dropout = attention_dropout
        self.self = QKV(dim)
        self.output = DenseNorm(dim, dim, eps, dropout)

    def _split(self, x):
        b, t, d = x.shape
        return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x, memory=None, key_padding_mask=None, causal=False, cache=None):
        """``key_padding_mask``: (B, S) bool, True at padding keys. ``causal``: each query sees only
        itself and earlier positions (right-padded queries need no key mask then). ``cache``: a dict
        for incremental decoding: self-attention appends this step's keys/values to it,
        cross-attention computes the memory's keys/values once and reuses them."""
        q = self._split(self.self.query(x))
        if memory is not None and cache is not None and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            kv = x if memory is None else memory
            k = self._split(self.self.key(kv))
            v = self._split(self.self.value(kv))
            if cache is not None:
                if memory is None and "k" in cache:
                    k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
                cache["k"], cache["v"] = k, v
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.attention_dropout if self.training else 0.0,
            is_causal=causal and q.size(2) > 1,
        )
        b, h, t, dh = out.shape
        return self.output(out.transpose(1, 2).reshape(b, t, h * dh), x)


class BertIntermediate(nn.Module):
    def __init__(self, dim, ffn_dim, activation):
        super().__init__()
        self.dense = nn.Linear(dim, ffn_dim)
        self.act = ACTIVATIONS[activation]

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    """self-attention -> [cross-attention] -> FFN, each post-LN."""

    def __init__(self, dim, heads, ffn_dim, activation, eps, dropout, attention_dropout, cross_attention=False):
        super().__init__()
        self.attention = BertAttention(dim, heads, eps, dropout, attention_dropout)
        self.crossattention = BertAttention(dim, heads, eps, dropout, attention_dropout) if cross_attention else None
        self.intermediate = BertIntermediate(dim, ffn_dim, activation)
        self.output = DenseNorm(ffn_dim, dim, eps, dropout)

    def forward(self, x, padding_mask=None, memory=None, memory_padding_mask=None, causal=False, cache=None):
        """``cache``: None, or a dict holding this layer's incremental state (see BertAttention)."""
        self_cache = cross_cache = None
        if cache is not None:
            self_cache, cross_cache = cache.setdefault("self", {}), cache.setdefault("cross", {})
        x = self.attention(x, key_padding_mask=None if causal else padding_mask, causal=causal, cache=self_cache)
        if self.crossattention is not None:
            x = self.crossattention(x, memory=memory, key_padding_mask=memory_padding_mask, cache=cross_cache)
        return self.output(self.intermediate(x), x)


class BertEmbeddings(nn.Module):
    """word/position/type embeddings -> LayerNorm -> dropout; also accepts ready input vectors.

    ``embedding_size`` below ``dim`` (ELECTRA) embeds in that width and projects to ``dim`` after the
    LayerNorm (``embeddings_project``, as ELECTRA does); ``type_vocab_size`` 0 leaves token types out
    (DistilBERT). Inputs given as vectors (``inputs_embeds``, ``position_embeds``) are in the embedding
    width."""

    def __init__(self, vocab_size, dim, max_positions, type_vocab_size, pad_idx, eps, dropout, embedding_size=None):
        super().__init__()
        width = embedding_size or dim
        self.word_embeddings = nn.Embedding(vocab_size, width, padding_idx=pad_idx)
        self.position_embeddings = nn.Embedding(max_positions, width)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, width) if type_vocab_size > 0 else None
        self.LayerNorm = nn.LayerNorm(width, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.embeddings_project = nn.Linear(width, dim) if width != dim else None

    def forward(self, tokens=None, inputs_embeds=None, position_embeds=None, token_types=None):
        """``position_embeds`` (B, T, width) replaces the embeddings of positions 0..T-1 when given;
        ``token_types`` (B, T) are segment ids (None: all segment 0)."""
        x = self.word_embeddings(tokens) if inputs_embeds is None else inputs_embeds
        if position_embeds is None:
            t = x.size(1)
            if t > self.position_embeddings.num_embeddings:
                raise ValueError(
                    f"sequence of {t} positions exceeds the model's {self.position_embeddings.num_embeddings}"
                )
            position_embeds = self.position_embeddings.weight[:t].unsqueeze(0)
        x = x + position_embeds
        if self.token_type_embeddings is not None:
            x = x + (
                self.token_type_embeddings.weight[0] if token_types is None else self.token_type_embeddings(token_types)
            )
        x = self.dropout(self.LayerNorm(x))
        return x if self.embeddings_project is None else self.embeddings_project(x)


class BertStack(nn.Module):
    def __init__(self, layers, **layer_kwargs):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(**layer_kwargs) for _ in range(layers)])

    def forward(self, x, padding_mask=None, memory=None, memory_padding_mask=None, causal=False, caches=None):
        """``caches``: None, or one dict per layer for incremental decoding."""
        for i, layer in enumerate(self.layer):
            x = layer(x, padding_mask, memory, memory_padding_mask, causal, None if caches is None else caches[i])
        return x


class BertLMHead(nn.Module):
    """BERT's MLM head: dense -> act -> LayerNorm -> tied word embeddings + bias. With word embeddings
    narrower than the hidden states (ELECTRA) the dense layer maps down to their width."""

    def __init__(self, dim, vocab_size, activation, eps, embedding_size=None):
        super().__init__()
        width = embedding_size or dim
        self.dense = nn.Linear(dim, width)
        self.act = ACTIVATIONS[activation]
        self.LayerNorm = nn.LayerNorm(width, eps=eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        # set for inference only (generation/precision.py): a frozen, quantized copy of the output matrix
        self.output_projection = None

    def forward(self, x, embedding_weight=None, bias=None):
        """``embedding_weight``/``bias`` may be a subset of the vocabulary's rows (a trimmed output); with
        an ``output_projection`` they are not needed."""
        h = self.LayerNorm(self.act(self.dense(x)))
        if self.output_projection is not None:
            return self.output_projection(h)
        return F.linear(h, embedding_weight, self.bias if bias is None else bias)
