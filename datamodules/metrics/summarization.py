"""The summarization suite: ROUGE-1/2/L/Lsum F-measures from Google's rouge-score."""

import re
from typing import Any

from rouge_score.rouge_scorer import RougeScorer

from datamodules.metrics.text_pairs import TextPairMetric

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> str:
    """`text` with one sentence per line, for rougeLsum; text that already has line breaks is kept as it is.

    A sentence ends at `.`, `!` or `?` followed by white space. This stands in for nltk's punkt, whose data
    cannot be downloaded offline.
    """
    if "\n" in text:
        return text
    return "\n".join(_SENTENCE_BREAK.split(text.strip()))


class SummarizationMetrics(TextPairMetric):
    """Mean F-measure (0-1) of `rouge1`, `rouge2`, `rougeL` and `rougeLsum` over the examples.

    With several references an example scores its best reference, per ROUGE type (rouge-score's `score_multi`).
    rougeLsum reads sentences from line breaks; `sentence_split=True` puts each sentence of a prediction or
    reference on its own line first (see `split_sentences`), which leaves the other three types unchanged.
    """

    def __init__(self, use_stemmer: bool = True, sentence_split: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.use_stemmer = use_stemmer
        self.sentence_split = sentence_split

    def score(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        scorer = RougeScorer(list(ROUGE_TYPES), use_stemmer=self.use_stemmer)
        prepare = split_sentences if self.sentence_split else str
        totals = dict.fromkeys(ROUGE_TYPES, 0.0)
        for prediction, refs in zip(predictions, references, strict=True):
            best = scorer.score_multi([prepare(ref) for ref in refs], prepare(prediction))
            for rouge_type in ROUGE_TYPES:
                totals[rouge_type] += best[rouge_type].fmeasure
        return {rouge_type: total / len(predictions) for rouge_type, total in totals.items()}
