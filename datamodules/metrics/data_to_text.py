"""The data-to-text suite: the E2E NLG challenge's BLEU, NIST, METEOR, ROUGE-L and CIDEr."""

from typing import Any

from nltk.translate.nist_score import corpus_nist
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from datamodules.metrics.coco_tokenize import tokenize_for_coco
from datamodules.metrics.meteor import meteor_score
from datamodules.metrics.sacrebleu_corpus import make_bleu, reference_streams
from datamodules.metrics.text_pairs import TextPairMetric


def nist_score(references: list[list[list[str]]], hypotheses: list[list[str]], n: int = 5) -> float:
    """nltk's corpus NIST-`n`, where an n-gram order that no hypothesis is long enough for adds 0.

    nltk divides by zero there (early in training, outputs are short). Orders above the longest hypothesis add
    nothing, and neither the information weights nor the length penalty depend on `n`, so NIST-`n` equals nltk's
    NIST at `n` = that length.
    """
    longest = max(len(hypothesis) for hypothesis in hypotheses)
    return corpus_nist(references, hypotheses, n=min(n, longest)) if longest else 0.0


class DataToTextMetrics(TextPairMetric):
    """The E2E metric set over all references of each meaning representation.

    - `bleu`: sacreBLEU corpus BLEU (0-100) on the raw text; its signature is in `signature` after `compute`.
    - `nist`: nltk `corpus_nist` (n=5) on the tokens sacreBLEU's BLEU uses (`tokenize`, 13a by default).
    - `meteor`: pycocoevalcap METEOR 1.5 (0-1); needs `java` (about 12 s). Where it is missing, or with
      `meteor=False`, the key is left out (with a one-line warning when Java is the reason).
    - `rougeL`: pycocoevalcap's `Rouge` (ROUGE-L F with beta 1.2, best-matching reference; 0-1), as the E2E scripts.
    - `cider`: pycocoevalcap's `Cider` (CIDEr-D, 0-10).
    METEOR, ROUGE-L and CIDEr read text tokenised by `coco_tokenize`, or by the Java PTBTokenizer with
    `ptb_tokenizer=True`.
    """

    def __init__(self, tokenize: str = "13a", meteor: bool = True, ptb_tokenizer: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        make_bleu(tokenize)
        self.tokenize = tokenize
        self.meteor = meteor
        self.ptb_tokenizer = ptb_tokenizer
        self.signature: str | None = None

    def score(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        bleu = make_bleu(self.tokenize)
        scores = {"bleu": bleu.corpus_score(predictions, reference_streams(references)).score}
        self.signature = str(bleu.get_signature())
        scores["nist"] = nist_score(
            [[bleu.tokenizer(ref).split() for ref in refs] for refs in references],
            [bleu.tokenizer(prediction).split() for prediction in predictions],
        )
        gts, res = tokenize_for_coco(predictions, references, self.ptb_tokenizer)
        if self.meteor:
            meteor = meteor_score(gts, res)
            if meteor is not None:
                scores["meteor"] = meteor
        scores["rougeL"] = float(Rouge().compute_score(gts, res)[0])
        scores["cider"] = float(Cider().compute_score(gts, res)[0])
        return scores
