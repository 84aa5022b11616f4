"""The captioning suite: CIDEr-D and BLEU-4 from pycocoevalcap."""

from typing import Any

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from datamodules.metrics.coco_tokenize import tokenize_for_coco
from datamodules.metrics.text_pairs import TextPairMetric


class CaptioningMetrics(TextPairMetric):
    """`cider` (pycocoevalcap's `Cider`, which is CIDEr-D: clipped counts and a length penalty; 0-10) and `bleu4`
    (pycocoevalcap's corpus BLEU-4, 0-1), over all captions of each image.

    Text is tokenised by `coco_tokenize` (lower-case, PTB-like, no Java) unless `ptb_tokenizer=True`, which runs
    the Java PTBTokenizer where `java` is on PATH. CIDEr's document frequencies come from the scored references,
    so it is computed once on the whole (gathered) corpus.
    """

    def __init__(self, ptb_tokenizer: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ptb_tokenizer = ptb_tokenizer

    def score(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        gts, res = tokenize_for_coco(predictions, references, self.ptb_tokenizer)
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        cider, _ = Cider().compute_score(gts, res)
        return {"cider": float(cider), "bleu4": float(bleu[3])}
