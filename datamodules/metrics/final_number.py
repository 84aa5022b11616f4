"""The final numeric answer of a worked solution, as GSM8K scores it."""

import re
from decimal import Decimal

_NUMBER = re.compile(r"(?:(?<![\w.])-)?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def normalize_number(number: str) -> str:
    """`number` without `$` and thousands commas, with no trailing fractional zeros: `$1,000.50` -> `1000.5`."""
    value = Decimal(number.replace("$", "").replace(",", ""))
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def extract_final_number(text: str) -> str | None:
    """The answer in `text`: the first number after the last `####` if there is one, else the last number.

    The number is normalised by `normalize_number`; `None` where `text` holds no number.
    """
    _, marker, answer = text.rpartition("####")
    if marker:
        found = _NUMBER.search(answer)
        return normalize_number(found.group()) if found else None
    numbers = _NUMBER.findall(text)
    return normalize_number(numbers[-1]) if numbers else None
