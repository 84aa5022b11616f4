"""Tiny run configs for the Lightning application's tests: embedded data, ModelTester-sized models, CPU."""

from pathlib import Path
from typing import Any

import yaml

DATA = {
    "classification": "datamodules.classification.ClassificationDataModule",
    "seq2seq": "datamodules.translation.TranslationDataModule",
    "causal_lm": "datamodules.reasoning.ReasoningDataModule",
    "captioning": "datamodules.captioning.CaptioningDataModule",
}
MODELS = {
    "classification": "lightning_modules.SequenceClassificationModule",
    "seq2seq": "lightning_modules.Seq2SeqModule",
    "causal_lm": "lightning_modules.CausalLMModule",
    "captioning": "lightning_modules.CaptioningModule",
}
TINY = {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 37}
MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "classification": {"model_type": "bert", "num_hidden_layers": 2, **TINY},
    "seq2seq": {"model_type": "t5", "d_model": 32, "d_kv": 8, "d_ff": 37, "num_layers": 2, "num_heads": 4},
    "causal_lm": {"model_type": "llama", "num_hidden_layers": 2, "num_key_value_heads": 2, **TINY},
    "captioning": {
        "encoder": {"model_type": "vit", "image_size": 32, "patch_size": 8, "num_hidden_layers": 1, **TINY},
        "decoder": {
            "model_type": "gpt2",
            "n_embd": 32,
            "n_layer": 1,
            "n_head": 4,
            "is_decoder": True,
            "add_cross_attention": True,
        },
    },
}


def run_config(
    kind: str,
    root: Path,
    optimizer: dict | None = None,
    trainer: dict | None = None,
    model: dict | None = None,
    data: dict | None = None,
    checkpoint_every: int = 2,
) -> Path:
    """Write a complete fit/test config for a tiny model of ``kind`` under ``root`` and return its path."""
    init_args: dict[str, Any] = {"model_config": MODEL_CONFIGS[kind]}
    if kind != "classification":
        init_args["max_new_tokens"] = 8
    init_args["optimizer"] = {"name": "galore_plus", "rank": 4, "update_proj_gap": 4, "lr": 1e-3} | (optimizer or {})
    init_args["schedule"] = {"decay": "constant"}
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_steps": 4,
            "log_every_n_steps": 1,
            "limit_val_batches": 1,
            "limit_test_batches": 1,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(root / "runs"), "name": kind},
            },
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {
                        "dirpath": str(root / "checkpoints"),
                        "save_last": True,
                        "every_n_train_steps": checkpoint_every,
                    },
                },
                "lightning_modules.callbacks.SVDTimer",
                "lightning_modules.callbacks.MemoryMonitor",
                "lightning_modules.callbacks.TrainingTimer",
            ],
        }
        | (trainer or {}),
        "model": {"class_path": MODELS[kind], "init_args": init_args | (model or {})},
        "data": {
            "class_path": DATA[kind],
            "init_args": {
                "batch_size": 4,
                "limit_train_samples": 32,
                "limit_val_samples": 4,
                "limit_test_samples": 4,
                "vocab_size": 300,
                "max_length": 48,
                "max_target_length": 24,
                "cache_dir": str(root / "tokenizers"),
            }
            | (data or {}),
        },
    }
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
