"""Embedded captioning task: small noisy images of one or two coloured shapes, captioned with colour, size, place.

Images are drawn with numpy (no files, no Pillow) at `image_size` pixels and come with three paraphrased captions;
some colour-shape pairs are never drawn in train, and pixel noise and position jitter blur the size and place cues.
"""

import itertools

import numpy as np

from datamodules.embedded.sampling import draw, held_out, split_rng

COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 80, 230),
    "yellow": (230, 220, 50),
    "white": (235, 235, 235),
    "purple": (150, 60, 200),
}
SHAPES = ["square", "circle", "triangle", "cross"]
PLACES = {
    "on the left": (0.28, 0.5),
    "on the right": (0.72, 0.5),
    "at the top": (0.5, 0.28),
    "at the bottom": (0.5, 0.72),
    "in the middle": (0.5, 0.5),
}


def generate(
    split: str,
    size: int,
    seed: int,
    image_size: int = 32,
    p_held_out: float = 0.3,
    noise: float = 18.0,
    p_two_shapes: float = 0.4,
) -> list[dict]:
    """`size` rows `{"image": uint8 array (image_size, image_size, 3), "references": [3 captions]}`."""
    rng = split_rng(seed, split)
    noise_rng = np.random.default_rng(rng.getrandbits(64))
    pairs = list(itertools.product(COLOURS, SHAPES))
    hidden = held_out(seed, pairs, 0.2)
    yy, xx = np.mgrid[0:image_size, 0:image_size] / image_size
    rows = []
    for _ in range(size):
        image = np.full((image_size, image_size, 3), 25.0)
        first = (*draw(rng, split, pairs, hidden, p_held_out), rng.choice(["small", "large"]))
        if rng.random() < p_two_shapes:
            second = (*draw(rng, split, pairs, hidden, p_held_out / 2), "small")
            left_right = rng.random() < 0.5
            places = [(0.28, 0.5), (0.72, 0.5)] if left_right else [(0.5, 0.28), (0.5, 0.72)]
            relation = "to the left of" if left_right else "above"
            for (colour, shape, size_word), centre in zip((first, second), places, strict=True):
                _paint(image, xx, yy, shape, COLOURS[colour], centre, 0.16 if size_word == "small" else 0.22, rng)
            a, b = _phrase(first), _phrase(second)
            captions = [f"a {a} {relation} a {b}", f"there is a {a} {relation} a {b}", f"a {a} and a {b}"]
        else:
            place = rng.choice(sorted(PLACES))
            _paint(
                image, xx, yy, first[1], COLOURS[first[0]], PLACES[place], 0.14 if first[2] == "small" else 0.26, rng
            )
            captions = [
                f"a {_phrase(first)} {place}",
                f"there is a {_phrase(first)} {place}",
                f"a {first[0]} {first[1]} {place}",
            ]
        image += noise_rng.normal(0.0, noise, image.shape)
        rows.append({"image": np.clip(image, 0, 255).astype(np.uint8), "references": captions})
    return rows


def _phrase(shape: tuple[str, str, str]) -> str:
    colour, name, size_word = shape
    return f"{size_word} {colour} {name}"


def _paint(
    image: np.ndarray, xx: np.ndarray, yy: np.ndarray, shape: str, colour: tuple, centre: tuple, radius: float, rng
) -> None:
    """Draw one shape in place, its centre jittered by up to 4 % of the image."""
    cx, cy = (c + rng.uniform(-0.04, 0.04) for c in centre)
    dx, dy = xx - cx, yy - cy
    if shape == "square":
        mask = (np.abs(dx) < radius * 0.8) & (np.abs(dy) < radius * 0.8)
    elif shape == "circle":
        mask = dx**2 + dy**2 < radius**2
    elif shape == "triangle":
        mask = (dy < radius * 0.8) & (dy > -radius) & (np.abs(dx) < (dy + radius) * 0.6)
    else:
        mask = ((np.abs(dx) < radius * 0.3) & (np.abs(dy) < radius)) | (
            (np.abs(dy) < radius * 0.3) & (np.abs(dx) < radius)
        )
    image[mask] = colour
