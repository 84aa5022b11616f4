"""Arithmetic reasoning (GSM8K): a word problem in, a worked answer ending in `#### <number>` out; exact match."""

from datamodules.base import TaskDataModule
from datamodules.embedded import word_problems
from datamodules.metrics import ReasoningMetrics


class ReasoningDataModule(TaskDataModule):
    """Decoder-only data: the prompt `Question: ...\\nAnswer:` is masked from the loss; the answer keeps its
    `#### <number>` line, which the metric extracts and compares with the reference's."""

    task_kind = "causal_lm"
    key_metric = "exact_match"
    default_columns = {"source": "question", "target": "answer"}
    default_prompt_template = "Question: {source}\nAnswer:"
    embedded_task = staticmethod(word_problems.generate)

    def __init__(self, max_length: int = 384, max_target_length: int = 256, **kwargs) -> None:
        super().__init__(max_length=max_length, max_target_length=max_target_length, **kwargs)

    def metric_suite(self) -> ReasoningMetrics:
        return ReasoningMetrics()
