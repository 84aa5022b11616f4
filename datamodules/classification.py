"""Text classification (SST-2, AG News): a sentence in, a label id out; ranked by accuracy."""

from datamodules.base import TaskDataModule
from datamodules.embedded import sentiment
from datamodules.metrics import ClassificationMetrics


class ClassificationDataModule(TaskDataModule):
    """Labels may be ids (`0`, `"1"`) or names (`World`, `Sports`), mapped through `label_names`.

    Args:
        label_names: the class names in id order. None: ids are kept where every label is an integer, otherwise the
            sorted distinct names of the train split become the classes.
        **kwargs: the source, tokenizer and loader settings of `TaskDataModule`.
    """

    task_kind = "classification"
    key_metric = "accuracy"
    canonical_columns = ("text", "label")
    default_columns = {"text": "sentence", "label": "label"}
    default_prompt_template = "{text}"
    embedded_task = staticmethod(sentiment.generate)

    def __init__(self, label_names: list[str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.label_names = label_names

    @property
    def num_labels(self) -> int:
        if self.label_names is None:
            raise RuntimeError("num_labels is known after setup() (or from `label_names` in the config)")
        return len(self.label_names)

    def metric_suite(self) -> ClassificationMetrics:
        return ClassificationMetrics(self.num_labels)

    def finish_rows(self, rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """Turn every label into an id in range(num_labels); unknown names or ids fail naming split and row."""
        if self.label_names is None and self.dataset is None and self.files is None:
            self.label_names = list(sentiment.LABEL_NAMES)
        if self.label_names is None:
            labels = [row["label"] for split in rows.values() for row in split]
            if all(_as_id(label) is not None for label in labels):
                self.label_names = [str(i) for i in range(max(_as_id(label) for label in labels) + 1)]
            else:
                self.label_names = sorted({str(row["label"]) for row in rows["train"]})
        index = {name: i for i, name in enumerate(self.label_names)}
        finished = {}
        for split, split_rows in rows.items():
            finished[split] = []
            for number, row in enumerate(split_rows, start=1):
                label = index.get(str(row["label"]), _as_id(row["label"]))
                if label is None or not 0 <= label < len(self.label_names):
                    raise ValueError(
                        f"{self._where()} ({split} split), row {number}: label {row['label']!r} is not "
                        f"one of {self.label_names} nor an id below {len(self.label_names)}; "
                        "set `label_names` in the data config"
                    )
                finished[split].append(row | {"label": label})
        return finished


def _as_id(label: object) -> int | None:
    """An integer label (3, "3"), or None for a name."""
    if isinstance(label, bool):
        return None
    if isinstance(label, int):
        return label
    return int(label) if isinstance(label, str) and label.strip().lstrip("-").isdigit() else None
