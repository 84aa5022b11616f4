"""Decoder-only generation (``AutoModelForCausalLM``): the prompt is masked out of the loss (labels -100 there)."""

from typing import Any

from torch import nn
from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from lightning_modules.base import GenerativeModule


class CausalLMModule(GenerativeModule):
    """Trains on prompt + target with the loss on the target only; generates from the left-padded prompt."""

    task_kind = "causal_lm"
    auto_class = "AutoModelForCausalLM"
    loss_keys = ("input_ids", "attention_mask", "labels")

    def build_model(self, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
        if self.name_or_path is not None:
            model = AutoModelForCausalLM.from_pretrained(self.name_or_path)
            return self.align_with_tokenizer(model, tokenizer)
        return AutoModelForCausalLM.from_config(self.random_config(tokenizer))

    def predict_texts(self, batch: dict[str, Any]) -> list[str]:
        prompt = batch["prompt_input_ids"]
        ids = self.generate_ids(input_ids=prompt, attention_mask=batch["prompt_attention_mask"])
        return self.decode(ids[:, prompt.shape[1] :])
