"""Embedded translation task: English-like sentences into an invented verb-final language with case and agreement.

Subject-verb-object sentences become subject-object-verb with adjectives after nouns, plural and accusative suffixes,
tense and number on the verb, and a negation particle; some adjective-noun pairs appear only in validation and test.
"""

import itertools

from datamodules.embedded.sampling import draw, held_out, split_rng

NOUNS = {
    "dog": "kato",
    "cat": "miru",
    "bird": "pelo",
    "horse": "sanu",
    "child": "tiko",
    "woman": "lena",
    "man": "buro",
    "farmer": "garu",
    "teacher": "ravi",
    "doctor": "dovo",
    "fish": "fenu",
    "king": "rexo",
}
PLURALS = {"child": "children", "woman": "women", "man": "men", "fish": "fish"}
ADJECTIVES = {
    "big": "grand",
    "small": "pik",
    "red": "ros",
    "old": "vel",
    "happy": "feli",
    "tired": "las",
    "young": "jov",
    "black": "nor",
    "": "",
}
# verb: (present singular, present plural, past, target stem)
VERBS = {
    "see": ("sees", "see", "saw", "vid"),
    "follow": ("follows", "follow", "followed", "sek"),
    "help": ("helps", "help", "helped", "jut"),
    "like": ("likes", "like", "liked", "am"),
    "call": ("calls", "call", "called", "vok"),
    "find": ("finds", "find", "found", "trov"),
    "feed": ("feeds", "feed", "fed", "nutr"),
    "watch": ("watches", "watch", "watched", "spekt"),
}
TIMES = {
    "present": [("", ""), ("today", "hodi"), ("at night", "nokte")],
    "past": [("", ""), ("yesterday", "heri"), ("last week", "pasem")],
}


def generate(split: str, size: int, seed: int, p_held_out: float = 0.3, p_negation: float = 0.2) -> list[dict]:
    """`size` rows `{"source", "references"}` with one reference each."""
    rng = split_rng(seed, split)
    pairs = list(itertools.product(ADJECTIVES, NOUNS))
    hidden = held_out(seed, [p for p in pairs if p[0]], 0.15)

    def noun_phrase(case: str) -> tuple[str, str, bool]:
        adjective, noun = draw(rng, split, pairs, hidden, p_held_out)
        plural = rng.random() < 0.35
        english = " ".join(w for w in ["the", adjective, PLURALS.get(noun, noun + "s") if plural else noun] if w)
        word = NOUNS[noun] + ("i" if plural else "") + ("m" if case == "object" else "")
        target = " ".join(w for w in [word, ADJECTIVES[adjective] + ("e" if plural and adjective else "")] if w)
        return english, target, plural

    rows = []
    for _ in range(size):
        subject, subject_target, plural = noun_phrase("subject")
        obj, obj_target, _ = noun_phrase("object")
        singular, plural_form, past, stem = VERBS[rng.choice(sorted(VERBS))]
        tense = rng.choice(["present", "past"])
        negated = rng.random() < p_negation
        if tense == "past":
            verb = f"did not {plural_form}" if negated else past
        else:
            verb = (
                f"{'do' if plural else 'does'} not {plural_form}" if negated else (plural_form if plural else singular)
            )
        time, time_target = rng.choice(TIMES[tense])
        verb_target = stem + ("an" if plural else "a") + ("ta" if tense == "past" else "")
        source = " ".join(w for w in [subject, verb, obj, time] if w)
        target = " ".join(
            w for w in [time_target, subject_target, obj_target, "ne" if negated else "", verb_target] if w
        )
        rows.append({"source": source, "references": [target]})
    return rows
