"""Embedded classification task: review-like sentences whose sentiment follows negation and "but"/"although" clauses.

Binary sentiment from templated sentences with intensifiers, negators that flip the adjective and contrast clauses that
decide the label; some adjectives are never negated in train, and 10 % of labels are flipped (best accuracy ~0.9).
"""

from datamodules.embedded.sampling import held_out, split_rng

LABEL_NAMES = ["negative", "positive"]
SUBJECTS = [
    "the film",
    "the plot",
    "the acting",
    "the soundtrack",
    "the ending",
    "the cast",
    "the script",
    "the pacing",
    "the dialogue",
    "the direction",
    "the camera work",
    "the story",
]
POSITIVE = ["good", "great", "moving", "clever", "charming", "gripping", "funny", "beautiful", "sharp", "fresh"]
NEGATIVE = ["bad", "dull", "clumsy", "boring", "flat", "tedious", "messy", "weak", "stale", "silly"]
INTENSIFIERS = ["", "", "very", "really", "truly", "quite", "rather", "so"]
NEGATORS = ["not", "never", "hardly", "not at all"]
FILLERS = ["", "", "", "honestly , ", "i think ", "overall , ", "to be fair , ", "in the end , "]


def generate(
    split: str,
    size: int,
    seed: int,
    label_noise: float = 0.1,
    p_contrast: float = 0.35,
    p_negation: float = 0.35,
    p_held_out: float = 0.2,
) -> list[dict]:
    """`size` rows `{"text", "label"}` (label 1 = positive); the options set noise and how often each rule fires."""
    rng = split_rng(seed, split)
    polarity = {a: 1 for a in POSITIVE} | {a: 0 for a in NEGATIVE}
    # held out: some adjectives under negation; train sees those adjectives only un-negated
    hidden = held_out(seed, [(a, True) for a in polarity], 0.2)
    negatable = [a for a in polarity if (a, True) not in hidden]

    def clause() -> tuple[str, int]:
        if split != "train" and rng.random() < p_held_out:
            adjective, negated = rng.choice(sorted(hidden))
        else:
            negated = rng.random() < p_negation
            adjective = rng.choice(negatable if negated else list(polarity))
        words = [
            rng.choice(SUBJECTS),
            "is",
            rng.choice(NEGATORS) if negated else "",
            rng.choice(INTENSIFIERS),
            adjective,
        ]
        return " ".join(w for w in words if w), polarity[adjective] ^ negated

    rows = []
    for _ in range(size):
        text, label = clause()
        if rng.random() < p_contrast:
            other, other_label = clause()
            if rng.random() < 0.5:
                text, label = f"{text} , but {other}", other_label
            else:
                text, label = f"although {text} , {other}", other_label
        if rng.random() < label_noise:
            label = 1 - label
        rows.append({"text": rng.choice(FILLERS) + text, "label": label})
    return rows
