"""Summarization (XSum, CNN/DailyMail, DialogSum, SAMSum): a document in, its summary out; ranked by ROUGE-L."""

from datamodules.base import TaskDataModule
from datamodules.embedded import key_facts
from datamodules.metrics import SummarizationMetrics


class SummarizationDataModule(TaskDataModule):
    """Encoder-decoder data: `source` -> `target`; XSum's `document`/`summary` columns are the default mapping.

    DialogSum's test file has three references per dialogue: map `target: [summary1, summary2, summary3]`.
    """

    task_kind = "seq2seq"
    key_metric = "rougeL"
    default_columns = {"source": "document", "target": "summary"}
    embedded_task = staticmethod(key_facts.generate)

    def __init__(self, max_length: int = 512, max_target_length: int = 96, **kwargs) -> None:
        super().__init__(max_length=max_length, max_target_length=max_target_length, **kwargs)

    def metric_suite(self) -> SummarizationMetrics:
        return SummarizationMetrics()
