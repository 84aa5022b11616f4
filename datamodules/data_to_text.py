"""Data-to-text (E2E NLG): a meaning representation in, a sentence out; multi-reference, ranked by BLEU."""

from datamodules.base import TaskDataModule
from datamodules.embedded import restaurants
from datamodules.metrics import DataToTextMetrics


class DataToTextDataModule(TaskDataModule):
    """Decoder-only data with the prompt `Meaning representation: ...\\nSentence:`; E2E rows that share an `mr` are
    grouped into one multi-reference example (training still sees every reference)."""

    task_kind = "causal_lm"
    key_metric = "bleu"
    default_columns = {"source": "mr", "target": "ref"}
    default_prompt_template = "Meaning representation: {source}\nSentence:"
    embedded_task = staticmethod(restaurants.generate)

    def __init__(self, group_references: bool = True, meteor: bool = True, **kwargs) -> None:
        """``meteor: false`` leaves METEOR out: it starts Java, about 12 s per evaluation (slow for short studies)."""
        super().__init__(group_references=group_references, **kwargs)
        self.meteor = meteor

    def metric_suite(self) -> DataToTextMetrics:
        return DataToTextMetrics(meteor=self.meteor)
