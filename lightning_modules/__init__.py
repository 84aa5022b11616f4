"""The Lightning application: one LightningModule per model kind, callbacks, the CLI, export and the ablation runner."""

from lightning_modules.base import GenerativeModule, TransformerModule
from lightning_modules.captioning import CaptioningModule
from lightning_modules.causal_lm import CausalLMModule
from lightning_modules.classification import SequenceClassificationModule
from lightning_modules.seq2seq import Seq2SeqModule

__all__ = [
    "CaptioningModule",
    "CausalLMModule",
    "GenerativeModule",
    "Seq2SeqModule",
    "SequenceClassificationModule",
    "TransformerModule",
]
