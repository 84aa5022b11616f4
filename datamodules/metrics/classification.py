"""The classification suite: accuracy and macro-F1 from torchmetrics."""

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from datamodules.metrics.list_state import ListStateMetric


class ClassificationMetrics(ListStateMetric):
    """`accuracy` (micro) and `f1_macro` over `num_labels` classes, both 0-1.

    `update` takes label ids as strings (`predictions=["0", "2"]`, `references=[["0"], ["1"]]`), the suite
    contract shared with the text tasks, or as int tensors (`predictions` of shape (N,), `references` of shape
    (N,)). Ids are stored as int64 list states, so they gather across DDP ranks.
    """

    def __init__(self, num_labels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_labels < 2:
            raise ValueError(f"ClassificationMetrics needs num_labels >= 2, got {num_labels}")
        self.num_labels = num_labels
        self.add_list_state("predicted", torch.int64)
        self.add_list_state("target", torch.int64)

    def update(self, predictions: Sequence[str] | Tensor, references: Sequence[Sequence[str]] | Tensor) -> None:
        """Add a batch of predicted and true label ids (strings, one reference each, or int tensors)."""
        predicted = self._label_ids(predictions, "prediction")
        target = self._label_ids(
            references if isinstance(references, Tensor) else [_single(refs, i) for i, refs in enumerate(references)],
            "reference",
        )
        if len(predicted) != len(target):
            raise ValueError(f"got {len(predicted)} predictions but {len(target)} references")
        self.append_to("predicted", predicted)
        self.append_to("target", target)

    def compute(self) -> dict[str, Tensor]:
        """Accuracy and macro-F1 of every stored label, gathered across ranks."""
        predicted, target = self.gathered("predicted"), self.gathered("target")
        if not len(target):
            raise ValueError("ClassificationMetrics.compute() was called before any update: no labels to score")
        return {
            name: value.to(self.device)
            for name, value in {
                "accuracy": multiclass_accuracy(predicted, target, self.num_labels, average="micro"),
                "f1_macro": multiclass_f1_score(predicted, target, self.num_labels, average="macro"),
            }.items()
        }

    def _label_ids(self, labels: Sequence[str] | Tensor, role: str) -> list[int]:
        """`labels` as a list of ints in [0, num_labels); a ValueError names the first bad one."""
        if isinstance(labels, Tensor):
            labels = labels.reshape(-1).tolist()
        ids = []
        for index, label in enumerate(labels):
            try:
                label_id = int(label)
            except (TypeError, ValueError):
                raise ValueError(f"{role} {index} of the batch is {label!r}, expected a label id such as '0'") from None
            if not 0 <= label_id < self.num_labels:
                raise ValueError(f"{role} {index} of the batch is label {label_id}, outside [0, {self.num_labels})")
            ids.append(label_id)
        return ids


def _single(refs: Sequence[str], index: int) -> str:
    """The one reference label of an example."""
    if isinstance(refs, str) or len(refs) != 1:
        raise ValueError(f"reference {index} of the batch is {refs!r}; expected one label id in a list, e.g. ['1']")
    return refs[0]
