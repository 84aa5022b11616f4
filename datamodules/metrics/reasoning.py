"""The arithmetic-reasoning suite: exact match of the final number (GSM8K accuracy)."""

from collections.abc import Sequence

from datamodules.metrics.final_number import extract_final_number
from datamodules.metrics.text_pairs import TextPairMetric


class ReasoningMetrics(TextPairMetric):
    """`exact_match` (0-1): the share of predictions whose final number equals that of one of their references.

    Both sides go through `extract_final_number` (`#### <number>` if present, else the last number; `$`,
    thousands commas and trailing fractional zeros removed). A prediction without a number counts as wrong; a
    reference without one is an error at `update`.
    """

    def check_batch(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        super().check_batch(predictions, references)
        for index, refs in enumerate(references):
            for ref in refs:
                if extract_final_number(ref) is None:
                    raise ValueError(
                        f"reference {index} of the batch has no number to compare with: {ref[-80:]!r}; "
                        "expected a final answer such as '#### 42'"
                    )

    def score(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        hits = 0
        for prediction, refs in zip(predictions, references, strict=True):
            answer = extract_final_number(prediction)
            hits += answer is not None and answer in {extract_final_number(ref) for ref in refs}
        return {"exact_match": hits / len(predictions)}
