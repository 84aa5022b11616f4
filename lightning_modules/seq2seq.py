"""Encoder-decoder generation (``AutoModelForSeq2SeqLM``): translation, summarization, data-to-text."""

from typing import Any

from torch import nn
from transformers import AutoModelForSeq2SeqLM, PreTrainedTokenizerBase

from lightning_modules.base import GenerativeModule


class Seq2SeqModule(GenerativeModule):
    """Trains on (source, target) pairs and generates from the source for the metrics."""

    task_kind = "seq2seq"
    auto_class = "AutoModelForSeq2SeqLM"
    loss_keys = ("input_ids", "attention_mask", "labels")

    def build_model(self, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
        if self.name_or_path is not None:
            model = AutoModelForSeq2SeqLM.from_pretrained(self.name_or_path)
            return self.align_with_tokenizer(model, tokenizer)
        start = {"decoder_start_token_id": self.model_config.get("decoder_start_token_id", tokenizer.pad_token_id)}
        return AutoModelForSeq2SeqLM.from_config(self.random_config(tokenizer, **start))

    def predict_texts(self, batch: dict[str, Any]) -> list[str]:
        ids = self.generate_ids(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return self.decode(ids)
