"""LoRA through peft, the parameter-efficient baseline: adapters on the target modules, everything else frozen."""

from torch import nn

from lightning_modules.optimizer_config import OptimizerConfig

DEFAULT_LORA_RANK = 8
# peft task types keep a task head trainable (classification) and wire generate() for the LM kinds.
PEFT_TASK_TYPES = {"classification": "SEQ_CLS", "seq2seq": "SEQ_2_SEQ_LM", "causal_lm": "CAUSAL_LM", "captioning": None}


def lora_settings(config: OptimizerConfig, task_kind: str) -> dict:
    """The LoraConfig keyword arguments, as a plain dict that checkpoints can carry to ``export``."""
    return {
        "r": config.rank or DEFAULT_LORA_RANK,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": config.target_modules,
        "task_type": PEFT_TASK_TYPES[task_kind],
    }


def apply_lora(model: nn.Module, settings: dict) -> nn.Module:
    """Wrap a transformers model with LoRA adapters; only adapters (and a classifier head) keep requires_grad."""
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(**settings))


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold the adapters into the base weights, giving a plain transformers model."""
    return model.merge_and_unload()
