"""Input corruptions for NAR pre-training, as pure functions of one block and a generator.

A block is a 1-D LongTensor ``[CLS] pieces [SEP]``. Each corruption returns ``(source, target)``;
the target is always the original text (all of it, or for ``clm`` the part after the cut), so the
model learns to reconstruct it from the corrupted source:

- ``copy``: source = target = the block (auto-encoding);
- ``mlm``: a fraction of the pieces chosen, each replaced by [MASK] (80%), by a random piece (10%)
  or kept (10%); specials are never chosen;
- ``plm``: a fraction of the piece positions chosen and their pieces rotated among them along a
  random cycle, so every chosen position receives another position's piece;
- ``clm``: the first 70-80% of the pieces are the source, the rest the target (each side keeps
  ``[CLS] ... [SEP]``).

mlm and plm round their counts at random (floor(p n + u), u uniform), so a fraction p of n
pieces is p n on average, also in short blocks. Every function returns new tensors.
"""

from dataclasses import dataclass
from typing import Dict, Tuple

import torch

NAMES = ("copy", "mlm", "plm", "clm")


def _random_count(fraction, n, generator):
    """floor(fraction x n + u), u ~ U(0, 1): fraction x n on average, an integer in [0, n]."""
    u = torch.rand((), generator=generator).item()
    return min(n, int(fraction * n + u))


def _choose(candidates, count, generator):
    """``count`` distinct entries of the 1-D tensor ``candidates``, in random order."""
    return candidates[torch.randperm(len(candidates), generator=generator)[:count]]


def _content_positions(block, special_ids):
    return torch.nonzero(~torch.isin(block, special_ids), as_tuple=True)[0]


def copy_block(block):
    """Auto-encoding: the source is the block itself."""
    return block.clone(), block.clone()


def mask_block(
    block, generator, mask_prob, mask_idx, replacement_ids, special_ids, random_token_prob=0.1, leave_unmasked_prob=0.1
):
    """BERT's masking: floor(mask_prob x n + u) of the n non-special pieces are chosen; each chosen
    piece becomes [MASK] with probability 1 - random - leave, a piece drawn uniformly from
    ``replacement_ids`` with probability ``random_token_prob``, and stays with ``leave_unmasked_prob``."""
    source = block.clone()
    positions = _content_positions(block, special_ids)
    chosen = _choose(positions, _random_count(mask_prob, len(positions), generator), generator)
    if not len(chosen):
        return source, block.clone()
    r = torch.rand(len(chosen), generator=generator)
    masked = r >= random_token_prob + leave_unmasked_prob
    replaced = r < random_token_prob
    source[chosen[masked]] = mask_idx
    if replaced.any():
        picks = torch.randint(len(replacement_ids), (int(replaced.sum()),), generator=generator)
        source[chosen[replaced]] = replacement_ids[picks]
    return source, block.clone()


def shuffle_block(block, generator, shuffle_prob, special_ids):
    """floor(shuffle_prob x n + u) of the n non-special positions (at least 2 when any, so that a piece
    can move) exchange their pieces along one random cycle: no chosen position keeps its own piece."""
    source = block.clone()
    positions = _content_positions(block, special_ids)
    count = _random_count(shuffle_prob, len(positions), generator)
    if count == 1 and len(positions) >= 2:
        count = 2
    if count < 2:
        return source, block.clone()
    cycle = _choose(positions, count, generator)  # position cycle[i] receives the piece of cycle[i + 1]
    source[cycle] = block[torch.roll(cycle, -1)]
    return source, block.clone()


def continuation_split(block, generator, min_ratio=0.7, max_ratio=0.8):
    """Prefix -> continuation: of the n pieces between [CLS] and [SEP], the first k = round(r n),
    r ~ U(min_ratio, max_ratio), kept within [1, n - 1] when n >= 2, are the source and the other
    n - k the target; both sides are wrapped in the block's own [CLS] and [SEP]."""
    if len(block) < 2:
        raise ValueError(f"a block needs at least [CLS] and [SEP]; got {block.tolist()}")
    n = len(block) - 2
    r = min_ratio + (max_ratio - min_ratio) * torch.rand((), generator=generator).item()
    k = int(r * n + 0.5)
    if n >= 2:
        k = max(1, min(n - 1, k))
    cls, sep = block[:1], block[-1:]
    return torch.cat([block[: 1 + k], sep]), torch.cat([cls, block[1 + k :]])


def continuation_cut(n, min_ratio):
    """The smallest number of source pieces ``continuation_split`` keeps of an n-piece block."""
    k = int(min_ratio * n + 0.5)
    return max(1, min(n - 1, k)) if n >= 2 else k


def parse_weights(spec):
    """``"copy:1,mlm:2"`` -> {"copy": 1.0, "mlm": 2.0}; a name alone weighs 1."""
    weights = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, value = part.partition(":")
        name = name.strip()
        if name not in NAMES:
            raise ValueError(f"--corruptions {spec!r}: unknown corruption {name!r}; choose from {', '.join(NAMES)}")
        if name in weights:
            raise ValueError(f"--corruptions {spec!r}: {name} is given twice")
        try:
            weight = float(value) if value.strip() else 1.0
        except ValueError:
            raise ValueError(f"--corruptions {spec!r}: the weight of {name} must be a number, got {value!r}") from None
        if not weight >= 0 or weight == float("inf"):
            raise ValueError(f"--corruptions {spec!r}: the weight of {name} must be a finite number >= 0")
        weights[name] = weight
    if not weights or sum(weights.values()) <= 0:
        raise ValueError(
            f"--corruptions {spec!r}: give at least one corruption with a weight > 0, e.g. copy:1,mlm:1,plm:1,clm:1"
        )
    return {name: w for name, w in weights.items() if w > 0}


@dataclass
class CorruptionMix:
    """Draws one corruption per block by weight and applies it."""

    weights: Dict[str, float]
    mask_idx: int
    replacement_ids: torch.Tensor
    special_ids: torch.Tensor
    mask_prob: float = 0.15
    random_token_prob: float = 0.1
    leave_unmasked_prob: float = 0.1
    shuffle_prob: float = 0.5
    clm_min_ratio: float = 0.7
    clm_max_ratio: float = 0.8

    def __post_init__(self):
        for option, value in (
            ("--mask-prob", self.mask_prob),
            ("--random-token-prob", self.random_token_prob),
            ("--leave-unmasked-prob", self.leave_unmasked_prob),
            ("--shuffle-prob", self.shuffle_prob),
            ("--clm-min-ratio", self.clm_min_ratio),
            ("--clm-max-ratio", self.clm_max_ratio),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{option} {value}: must be between 0 and 1")
        if self.random_token_prob + self.leave_unmasked_prob > 1.0:
            raise ValueError("--random-token-prob + --leave-unmasked-prob must be at most 1 (the rest become [MASK])")
        if self.clm_min_ratio > self.clm_max_ratio:
            raise ValueError(f"--clm-min-ratio {self.clm_min_ratio} is above --clm-max-ratio {self.clm_max_ratio}")
        if "mlm" in self.weights and self.random_token_prob > 0 and not len(self.replacement_ids):
            raise ValueError("mlm: no ordinary piece to draw random replacements from")
        self.names = list(self.weights)
        self.probs = torch.tensor([self.weights[n] for n in self.names], dtype=torch.float64)
        self.probs = self.probs / self.probs.sum()

    def choose(self, generator):
        if len(self.names) == 1:
            return self.names[0]
        return self.names[int(torch.multinomial(self.probs, 1, generator=generator))]

    def __call__(self, block, generator) -> Tuple[str, torch.Tensor, torch.Tensor]:
        name = self.choose(generator)
        if name == "copy":
            source, target = copy_block(block)
        elif name == "mlm":
            source, target = mask_block(
                block,
                generator,
                self.mask_prob,
                self.mask_idx,
                self.replacement_ids,
                self.special_ids,
                self.random_token_prob,
                self.leave_unmasked_prob,
            )
        elif name == "plm":
            source, target = shuffle_block(block, generator, self.shuffle_prob, self.special_ids)
        else:
            source, target = continuation_split(block, generator, self.clm_min_ratio, self.clm_max_ratio)
        return name, source, target
