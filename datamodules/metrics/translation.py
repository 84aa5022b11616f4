"""The translation suite: sacreBLEU corpus BLEU and chrF."""

from typing import Any

from sacrebleu.metrics import CHRF

from datamodules.metrics.sacrebleu_corpus import make_bleu, reference_streams
from datamodules.metrics.text_pairs import TextPairMetric


class TranslationMetrics(TextPairMetric):
    """`bleu` and `chrf` (both 0-100) from sacreBLEU, on detokenised text with any number of references.

    After `compute`, `signature` holds sacreBLEU's BLEU signature (e.g. `nrefs:1|case:mixed|eff:no|tok:13a|
    smooth:exp|version:2.6.0`) for the run's record.
    """

    def __init__(self, tokenize: str = "13a", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        make_bleu(tokenize)
        self.tokenize = tokenize
        self.signature: str | None = None

    def score(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        streams = reference_streams(references)
        bleu = make_bleu(self.tokenize)
        scores = {
            "bleu": bleu.corpus_score(predictions, streams).score,
            "chrf": CHRF().corpus_score(predictions, streams).score,
        }
        self.signature = str(bleu.get_signature())
        return scores
