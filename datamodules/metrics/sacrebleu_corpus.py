"""sacreBLEU's corpus BLEU for a variable number of references per example."""

from sacrebleu.metrics import BLEU


def reference_streams(references: list[list[str]]) -> list[list[str | None]]:
    """sacreBLEU's reference layout: one stream per reference position, `None` where an example has fewer."""
    width = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def make_bleu(tokenize: str) -> BLEU:
    """A sacreBLEU `BLEU` scorer; an unknown tokenizer name is a ValueError that lists the known ones."""
    if tokenize not in BLEU.TOKENIZERS:
        raise ValueError(f"unknown sacreBLEU tokenize={tokenize!r}; expected one of {sorted(BLEU.TOKENIZERS)}")
    return BLEU(tokenize=tokenize)
