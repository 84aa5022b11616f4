"""Translation (Multi30k, WMT): a source sentence in, its translation out; ranked by sacreBLEU."""

from datamodules.base import TaskDataModule
from datamodules.embedded import toy_language
from datamodules.metrics import TranslationMetrics


class TranslationDataModule(TaskDataModule):
    """Encoder-decoder data: `source` -> `target`; the hub's Multi30k columns `en`/`de` are the default mapping."""

    task_kind = "seq2seq"
    key_metric = "bleu"
    default_columns = {"source": "en", "target": "de"}
    embedded_task = staticmethod(toy_language.generate)

    def metric_suite(self) -> TranslationMetrics:
        return TranslationMetrics()
