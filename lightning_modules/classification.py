"""Sequence classification (``AutoModelForSequenceClassification``): the label count comes from the DataModule."""

from typing import Any

from torch import nn
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerBase

from lightning_modules.base import TransformerModule


class SequenceClassificationModule(TransformerModule):
    """Classifies a text (or text pair); predictions and references are label ids as strings."""

    task_kind = "classification"
    auto_class = "AutoModelForSequenceClassification"
    loss_keys = ("input_ids", "attention_mask", "token_type_ids", "labels")

    def build_model(self, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
        num_labels = self.trainer.datamodule.num_labels
        if self.name_or_path is not None:
            model = AutoModelForSequenceClassification.from_pretrained(self.name_or_path, num_labels=num_labels)
            return self.align_with_tokenizer(model, tokenizer)
        return AutoModelForSequenceClassification.from_config(self.random_config(tokenizer, num_labels=num_labels))

    def predict_texts(self, batch: dict[str, Any]) -> list[str]:
        logits = self.model(**{k: batch[k] for k in self.loss_keys if k in batch and k != "labels"}).logits
        return [str(label) for label in logits.argmax(dim=-1).tolist()]

    def references(self, batch: dict[str, Any]) -> list[list[str]]:
        return [[str(label)] for label in batch["labels"].tolist()]
