"""The seeded random streams that every embedded task draws from, so determinism is defined in one place."""

import random
from collections.abc import Sequence


def split_rng(seed: int, split: str) -> random.Random:
    """A stream per (seed, split): the same seed gives the same rows, and splits draw different rows."""
    return random.Random(f"galoreplus-{seed}-{split}")


def held_out(seed: int, combinations: Sequence[tuple], fraction: float) -> set[tuple]:
    """The combinations that train never sees, chosen by the seed alone (so every split agrees on them)."""
    count = max(1, round(fraction * len(combinations)))
    return set(random.Random(f"galoreplus-{seed}-held-out").sample(list(combinations), count))


def draw(rng: random.Random, split: str, combinations: Sequence[tuple], hidden: set[tuple], p_hidden: float) -> tuple:
    """A combination: never a hidden one in train; in validation/test a hidden one with probability `p_hidden`
    (when the task holds any back: one-step word problems have too few combinations to hide some)."""
    if split != "train" and hidden and rng.random() < p_hidden:
        return rng.choice(sorted(hidden))
    while True:
        combination = rng.choice(combinations)
        if combination not in hidden:
            return combination
