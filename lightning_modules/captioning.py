"""Image captioning (``VisionEncoderDecoderModel``): a ViT encoder and a text decoder with cross-attention."""

from typing import Any

from torch import nn
from transformers import AutoConfig, PreTrainedTokenizerBase, VisionEncoderDecoderConfig, VisionEncoderDecoderModel

from lightning_modules.base import GenerativeModule


class CaptioningModule(GenerativeModule):
    """Captions ``pixel_values``; a random-init ``model_config`` has ``encoder`` and ``decoder`` config dicts."""

    task_kind = "captioning"
    auto_class = "VisionEncoderDecoderModel"
    loss_keys = ("pixel_values", "labels")

    def build_model(self, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
        ids = self.token_ids(tokenizer)
        if self.name_or_path is not None:
            model = self.align_with_tokenizer(VisionEncoderDecoderModel.from_pretrained(self.name_or_path), tokenizer)
        else:
            if set(self.model_config) != {"encoder", "decoder"}:
                raise ValueError("model.model_config for captioning needs exactly `encoder` and `decoder` config dicts")
            encoder = AutoConfig.for_model(**self.model_config["encoder"])
            decoder = AutoConfig.for_model(**{**self.model_config["decoder"], **ids})
            config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
            model = VisionEncoderDecoderModel(config=config)
        for config in (model.config, model.generation_config):
            config.decoder_start_token_id = ids["bos_token_id"]
            config.pad_token_id = ids["pad_token_id"]
            config.eos_token_id = ids["eos_token_id"]
        return model

    def predict_texts(self, batch: dict[str, Any]) -> list[str]:
        return self.decode(self.generate_ids(pixel_values=batch["pixel_values"]))
