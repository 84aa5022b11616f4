"""Metric suites per task family: torchmetrics `Metric`s whose list states gather across DDP ranks."""

from datamodules.metrics.captioning import CaptioningMetrics
from datamodules.metrics.classification import ClassificationMetrics
from datamodules.metrics.data_to_text import DataToTextMetrics
from datamodules.metrics.reasoning import ReasoningMetrics
from datamodules.metrics.summarization import SummarizationMetrics
from datamodules.metrics.translation import TranslationMetrics

__all__ = [
    "CaptioningMetrics",
    "ClassificationMetrics",
    "DataToTextMetrics",
    "ReasoningMetrics",
    "SummarizationMetrics",
    "TranslationMetrics",
]
