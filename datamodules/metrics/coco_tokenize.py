"""Tokenisation for the pycocoevalcap scorers: our own by default, the Java PTB tokenizer as an option."""

import re
import shutil
import warnings

_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|\d+(?:[.,:]\d+)+|\w+(?:-\w+)*|[^\w\s]")
# The punctuation that PTBTokenizer's output loses in pycocoevalcap (quotes and brackets included).
_DROPPED = frozenset(".?!,:;-'\"`()[]{}")


def coco_tokenize(text: str) -> str:
    """Lower-case `text`, split it into PTB-like tokens and drop punctuation, joined by single spaces.

    This approximates what pycocoevalcap's PTBTokenizer (Stanford CoreNLP, needs Java) feeds its scorers:
    clitics split off (`dog's` -> `dog 's`, `don't` -> `do n't`), hyphenated words and numbers such as `3.5`,
    `1,000` or `8:25` kept whole, the punctuation `. ? ! , : ; -`, quotes and brackets removed, and other symbols
    (`$`, `%`, `&`) kept as tokens of their own, `£` written `#` as PTB does. On the COCO and E2E references in
    ../shared/data it agrees with PTB on all but a few percent of sentences.
    """
    return " ".join(token for token in _TOKEN.findall(text.lower().replace("£", "#")) if not set(token) <= _DROPPED)


def tokenize_for_coco(
    predictions: list[str], references: list[list[str]], ptb_tokenizer: bool = False
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """The `(gts, res)` dicts that pycocoevalcap scorers take: example index -> tokenised references/prediction.

    With `ptb_tokenizer=True` and `java` on PATH the Java PTBTokenizer is used; without Java that falls back to
    `coco_tokenize` with a one-line warning.
    """
    if ptb_tokenizer and shutil.which("java") is None:
        warnings.warn("ptb_tokenizer=True but `java` is not on PATH: using coco_tokenize instead", stacklevel=2)
        ptb_tokenizer = False
    if ptb_tokenizer:
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({i: [{"caption": ref} for ref in refs] for i, refs in enumerate(references)})
        res = tokenizer.tokenize({i: [{"caption": prediction}] for i, prediction in enumerate(predictions)})
        return gts, res
    gts = {i: [coco_tokenize(ref) for ref in refs] for i, refs in enumerate(references)}
    res = {i: [coco_tokenize(prediction)] for i, prediction in enumerate(predictions)}
    return gts, res
