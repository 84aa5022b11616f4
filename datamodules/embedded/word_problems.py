"""Embedded arithmetic reasoning task: GSM8K-style word problems of one to three steps with worked answers.

Each step (buy, find, give away, lose, buy packs of k) changes a count; the answer works through the steps in GSM8K's
`a + b = <<a+b=c>>c` form and ends with `#### <number>`; some action orders appear only in validation and test.
"""

import itertools

from datamodules.embedded.sampling import draw, held_out, split_rng

NAMES = ["tom", "ana", "ravi", "mia", "leo", "zoe", "sam", "ida"]
ITEMS = ["apples", "stickers", "marbles", "coins", "cards", "shells"]
ACTIONS = ["buys", "finds", "gives", "loses", "packs"]


def generate(
    split: str,
    size: int,
    seed: int,
    min_steps: int = 1,
    max_steps: int = 2,
    max_number: int = 9,
    p_held_out: float = 0.3,
) -> list[dict]:
    """`size` rows `{"source": question, "references": [worked answer ending in '#### n']}`."""
    rng = split_rng(seed, split)
    orders = [o for k in range(min_steps, max_steps + 1) for o in itertools.product(ACTIONS, repeat=k)]
    hidden = held_out(seed, [o for o in orders if len(o) > 1], 0.2) if max_steps > 1 else set()
    rows = []
    for _ in range(size):
        name, friend = rng.sample(NAMES, 2)
        item = rng.choice(ITEMS)
        count = rng.randint(2, max_number)
        question = [f"{name} has {count} {item} ."]
        lines = []
        for action in draw(rng, split, orders, hidden, p_held_out):
            if action in ("gives", "loses") and count == 0:
                action = "finds"  # nothing left to give away
            if action == "packs":
                packs, each = rng.randint(2, 3), rng.randint(2, max(2, max_number // 2))
                question.append(f"{name} buys {packs} packs with {each} {item} in each pack .")
                lines.append(
                    f"{packs} packs hold {packs} * {each} = <<{packs}*{each}={packs * each}>>{packs * each} {item} ."
                )
                new = count + packs * each
                lines.append(f"{name} has {count} + {packs * each} = <<{count}+{packs * each}={new}>>{new} {item} .")
            elif action in ("buys", "finds"):
                amount = rng.randint(1, max_number)
                question.append(f"{name} {action} {amount} more {item} .")
                new = count + amount
                lines.append(f"{name} has {count} + {amount} = <<{count}+{amount}={new}>>{new} {item} .")
            else:
                amount = rng.randint(1, count)
                question.append(
                    f"{name} gives {amount} {item} to {friend} ."
                    if action == "gives"
                    else f"{name} loses {amount} {item} ."
                )
                new = count - amount
                lines.append(f"{name} has {count} - {amount} = <<{count}-{amount}={new}>>{new} {item} .")
            count = new
        question.append(f"how many {item} does {name} have now ?")
        rows.append({"source": " ".join(question), "references": ["\n".join([*lines, f"#### {count}"])]})
    return rows
