"""Embedded summarization task: a shuffled news-like paragraph whose one-sentence summary gathers its key facts.

The summary names who made the decision (not the people who merely spoke), what was decided, where, when and the cost,
facts spread over sentences among distractors; some person-decision pairs appear only in validation and test.
"""

import itertools

from datamodules.embedded.sampling import draw, held_out, split_rng

PEOPLE = [
    "anna berg",
    "omar haddad",
    "li wei",
    "maria costa",
    "john reed",
    "sara nilsen",
    "ivan petrov",
    "nora kaya",
    "paul dubois",
    "emma stone",
]
TITLES = ["mayor", "minister", "director", "chair", "governor"]
TOWNS = ["riverton", "oakdale", "millbrook", "eastport", "hillcrest", "lakeside", "stonebridge", "fairview"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
DECISIONS = ["approved", "announced", "rejected", "opened", "cancelled", "postponed"]
PROJECTS = [
    "a new bridge",
    "the harbour plan",
    "a public library",
    "the tram line",
    "a solar farm",
    "the city park",
    "a new hospital",
    "the school extension",
]
SPEECH = ["said", "mentioned", "noted", "argued", "complained"]
TOPICS = [
    "the weather was cold",
    "traffic was heavy",
    "the meeting ran late",
    "the hall was full",
    "the budget was tight",
    "the crowd was calm",
    "the press asked many questions",
    "the debate was long",
]


def generate(
    split: str, size: int, seed: int, p_held_out: float = 0.3, min_distractors: int = 2, max_distractors: int = 5
) -> list[dict]:
    """`size` rows `{"source", "references"}`; the options set how much distracting text surrounds the facts."""
    rng = split_rng(seed, split)
    pairs = list(itertools.product(PEOPLE, DECISIONS))
    hidden = held_out(seed, pairs, 0.15)
    rows = []
    for _ in range(size):
        person, decision = draw(rng, split, pairs, hidden, p_held_out)
        title, town, day, project = rng.choice(TITLES), rng.choice(TOWNS), rng.choice(DAYS), rng.choice(PROJECTS)
        cost = rng.randint(2, 90)
        others = rng.sample([p for p in PEOPLE if p != person], 2)
        facts = [f"{title} {person} {decision} {project} .", f"the project would cost {cost} million ."]
        distractors = [
            f"{rng.choice(others)} {rng.choice(SPEECH)} that {rng.choice(TOPICS)} ."
            for _ in range(rng.randint(min_distractors, max_distractors))
        ]
        body = facts + distractors
        rng.shuffle(body)
        opening = f"on {day} , the council of {town} met ."
        summary = f"{title} {person} {decision} {project} in {town} on {day} , at a cost of {cost} million ."
        rows.append({"source": " ".join([opening, *body]), "references": [summary]})
    return rows
