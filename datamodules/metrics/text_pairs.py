"""The shared base of the text metric suites: predictions and their references, gathered across DDP ranks."""

from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import torch
from torch import Tensor

from datamodules.metrics.list_state import ListStateMetric


def _decode(data: Tensor, lengths: Tensor) -> list[str]:
    """Split the concatenated UTF-8 bytes `data` into strings of byte lengths `lengths`."""
    raw = data.numpy().tobytes()
    ends = list(accumulate(lengths.tolist()))
    return [raw[end - length : end].decode("utf-8") for end, length in zip(ends, lengths.tolist(), strict=True)]


class TextPairMetric(ListStateMetric):
    """Collects `(prediction, references)` pairs and scores the whole corpus at once in `compute`.

    Strings cannot be all-gathered, so each `update` stores them as UTF-8 bytes in uint8 tensors beside int64 byte
    lengths, and the number of references per prediction: five list states that gather like any tensor. Corpus
    scores (BLEU, CIDEr's document frequencies) then see every rank's pairs, in rank order. Subclasses implement
    `score(predictions, references) -> dict[str, float]`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_list_state("prediction_bytes", torch.uint8)
        self.add_list_state("prediction_lengths", torch.int64)
        self.add_list_state("reference_bytes", torch.uint8)
        self.add_list_state("reference_lengths", torch.int64)
        self.add_list_state("reference_counts", torch.int64)

    def update(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        """Add a batch: one prediction per example and a non-empty list of reference strings for each."""
        self.check_batch(predictions, references)
        encoded_predictions = [prediction.encode("utf-8") for prediction in predictions]
        encoded_references = [ref.encode("utf-8") for refs in references for ref in refs]
        self.append_to("prediction_bytes", b"".join(encoded_predictions))
        self.append_to("prediction_lengths", [len(data) for data in encoded_predictions])
        self.append_to("reference_bytes", b"".join(encoded_references))
        self.append_to("reference_lengths", [len(data) for data in encoded_references])
        self.append_to("reference_counts", [len(refs) for refs in references])

    def check_batch(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
        """Raise a ValueError naming the example where the batch is not strings and lists of strings."""
        if isinstance(predictions, str) or len(predictions) != len(references):
            raise ValueError(
                f"{type(self).__name__}.update expects a list of prediction strings and a list of reference lists "
                f"of the same length; got {_describe(predictions)} and {_describe(references)}"
            )
        for index, (prediction, refs) in enumerate(zip(predictions, references, strict=True)):
            if not isinstance(prediction, str):
                raise ValueError(f"prediction {index} of the batch is {type(prediction).__name__}, expected str")
            if isinstance(refs, str) or not refs or not all(isinstance(ref, str) for ref in refs):
                raise ValueError(
                    f"references {index} of the batch is {refs!r}; expected a non-empty list of strings "
                    "(wrap a single reference as [reference])"
                )

    def pairs(self) -> tuple[list[str], list[list[str]]]:
        """The stored predictions and reference lists, decoded, in update (and then rank) order."""
        predictions = _decode(self.gathered("prediction_bytes"), self.gathered("prediction_lengths"))
        flat_references = _decode(self.gathered("reference_bytes"), self.gathered("reference_lengths"))
        ends = list(accumulate(self.gathered("reference_counts").tolist()))
        starts = [0, *ends][:-1]
        return predictions, [flat_references[start:end] for start, end in zip(starts, ends, strict=True)]

    def compute(self) -> dict[str, Tensor]:
        """Score every stored pair as one corpus; metric names are bare (`bleu`, `cider`, ...)."""
        predictions, references = self.pairs()
        if not predictions:
            raise ValueError(f"{type(self).__name__}.compute() was called before any update: no predictions to score")
        return {
            name: torch.tensor(value, dtype=torch.float32, device=self.device)
            for name, value in self.score(predictions, references).items()
        }

    def score(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        """Corpus-level scores of `predictions` against their `references`; each suite implements it."""
        raise NotImplementedError(f"{type(self).__name__} must implement score()")


def _describe(value: object) -> str:
    """`value`'s type and, for sequences, its length, for error messages."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__
