"""Embedded data-to-text task: E2E-style meaning representations of venues, each with three reference sentences.

An MR such as `name[The Eagle], eatType[pub], food[Italian], area[riverside]` carries 2 to 5 attributes besides the
name; references differ in order and wording; some food-area pairs appear only in validation and test.
"""

import itertools

from datamodules.embedded.sampling import draw, held_out, split_rng

NAMES = [
    "The Eagle",
    "The Mill",
    "Blue Spice",
    "The Phoenix",
    "Green Man",
    "The Cricketers",
    "Aromi",
    "Zizzi",
    "The Wrestlers",
    "Cotto",
    "Loch Fyne",
    "The Vaults",
]
EAT_TYPES = ["restaurant", "pub", "coffee shop"]
FOODS = ["Italian", "French", "Chinese", "Indian", "English", "Japanese", "Fast food"]
PRICES = {"cheap": "cheap", "moderate": "moderately priced", "high": "expensive"}
AREAS = {"city centre": "in the city centre", "riverside": "by the riverside"}
RATINGS = {"low": "a low customer rating", "average": "an average customer rating", "high": "a high customer rating"}
OPTIONAL = ["priceRange", "customer rating", "familyFriendly", "near"]


def generate(
    split: str, size: int, seed: int, p_held_out: float = 0.3, min_attributes: int = 2, max_attributes: int = 5
) -> list[dict]:
    """`size` rows `{"source": MR string, "references": [3 sentences]}` (one row per MR, as E2E grouped by mr)."""
    rng = split_rng(seed, split)
    pairs = list(itertools.product(FOODS, AREAS))
    hidden = held_out(seed, pairs, 0.2)
    rows = []
    for _ in range(size):
        food, area = draw(rng, split, pairs, hidden, p_held_out)
        mr = {"name": rng.choice(NAMES), "eatType": rng.choice(EAT_TYPES), "food": food, "area": area}
        extra = rng.randint(max(0, min_attributes - 2), max(0, max_attributes - 2))
        others = [n for n in NAMES if n != mr["name"]]
        values = {
            "priceRange": sorted(PRICES),
            "customer rating": sorted(RATINGS),
            "familyFriendly": ["yes", "no"],
            "near": others,
        }
        for key in sorted(rng.sample(OPTIONAL, min(extra, len(OPTIONAL))), key=OPTIONAL.index):
            mr[key] = rng.choice(values[key])
        source = ", ".join(f"{key}[{value}]" for key, value in mr.items())
        rows.append({"source": source, "references": [_realise(mr, style) for style in range(3)]})
    return rows


def _realise(mr: dict, style: int) -> str:
    """One of three wordings: attribute order and phrasing change with `style`."""
    name, kind, food, area = mr["name"], mr["eatType"], mr["food"], AREAS[mr["area"]]
    price = PRICES.get(mr.get("priceRange"), "")
    head = {
        0: f"{name} is a {price + ' ' if price else ''}{food} {kind} {area}",
        1: f"{area[0].upper() + area[1:]} there is a {food} {kind} called {name}",
        2: f"{name} serves {food} food {area}. It is a {kind}",
    }[style]
    details = []
    if price and style != 0:
        details.append(f"it is {price}")
    if "customer rating" in mr:
        details.append(f"it has {RATINGS[mr['customer rating']]}")
    if "familyFriendly" in mr:
        details.append("it is family friendly" if mr["familyFriendly"] == "yes" else "it is not family friendly")
    if "near" in mr:
        details.append(f"it is near {mr['near']}")
    if style == 1:
        details.reverse()
    sentence = head + (" and " + " and ".join(details) if style == 2 and details else "")
    if details and style != 2:
        sentence += ". " + ". ".join(d[0].upper() + d[1:] for d in details)
    return sentence + "."
