"""What every LightningModule of the app shares: the model spec, the optimizer section, the metric loops, checkpoints.

A module hosts one Hugging Face transformers model, given either as ``name_or_path`` (``from_pretrained``, offline from
a local folder) or as a small ``model_config`` (random init). The model is built in ``configure_model``, once the
DataModule has its tokenizer, so vocabulary size, label count and pad/bos/eos ids always come from the data.
Subclasses state how a model is built, which batch keys feed the loss and how predictions become text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from lightning import LightningModule
from torch import nn
from transformers import AutoConfig, PretrainedConfig, PreTrainedTokenizerBase

from lightning_modules.export import export_payload
from lightning_modules.lora import apply_lora, lora_settings
from lightning_modules.lr_schedule import DEFAULT_SCHEDULE, ScheduleConfig
from lightning_modules.optimizer_config import DEFAULT_OPTIMIZER, OptimizerConfig, build_optimizer
from lightning_modules.rng_state import capture_rng_states_of_all_ranks, restore_rng_state_of_rank


def _looks_like_path(name: str) -> bool:
    """A local folder rather than a hub id (hub ids are `name` or `org/name`)."""
    return name.startswith((".", "/", "~"))


class TransformerModule(LightningModule):
    """A transformers model trained with the configured optimizer and scored with the DataModule's metric suite.

    Args:
        name_or_path: a local model folder (or a hub id when online) for ``from_pretrained``.
        model_config: a transformers config as a dict with ``model_type`` and sizes, for a randomly initialised model.
        optimizer: the optimizer section (see ``OptimizerConfig``).
        schedule: the learning-rate schedule (see ``ScheduleConfig``).
    """

    task_kind: ClassVar[str] = ""
    auto_class: ClassVar[str] = ""
    loss_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name_or_path: str | None = None,
        model_config: dict | None = None,
        optimizer: OptimizerConfig = DEFAULT_OPTIMIZER,
        schedule: ScheduleConfig = DEFAULT_SCHEDULE,
    ) -> None:
        super().__init__()
        if isinstance(optimizer, dict):  # hyperparameters of a checkpoint (load_from_checkpoint) are plain dicts
            optimizer = OptimizerConfig(**{**optimizer, "betas": tuple(optimizer.get("betas", (0.9, 0.999)))})
        if isinstance(schedule, dict):
            schedule = ScheduleConfig(**schedule)
        if (name_or_path is None) == (model_config is None):
            raise ValueError(
                "model: give exactly one of `name_or_path` (a local model folder) or `model_config` "
                "(a dict with model_type and sizes, randomly initialised)"
            )
        if name_or_path is not None and _looks_like_path(name_or_path) and not Path(name_or_path).expanduser().exists():
            raise FileNotFoundError(f"model.name_or_path: folder not found: {name_or_path}")
        if model_config is not None and "model_type" not in model_config and "encoder" not in model_config:
            raise ValueError("model.model_config needs a `model_type` (e.g. bert, t5, gpt2, llama)")
        self.save_hyperparameters()
        for key in ("optimizer", "schedule"):  # plain dicts, so checkpoints load with weights_only=True
            if hasattr(self.hparams[key], "as_dict"):
                self.hparams[key] = self.hparams[key].as_dict()
        self.name_or_path = name_or_path
        self.model_config = model_config
        self.optimizer_config = optimizer
        self.schedule_config = schedule
        self.model: nn.Module | None = None
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self._lora: dict | None = lora_settings(optimizer, self.task_kind) if optimizer.name == "lora" else None
        self._export: dict | None = None

    # --- what a kind states -------------------------------------------------------------------------------------
    def build_model(self, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
        """The transformers model, from ``name_or_path`` or ``model_config``."""
        raise NotImplementedError

    def predict_texts(self, batch: dict[str, Any]) -> list[str]:
        """Predictions for a batch as strings, in the form the metric suite compares with the references."""
        raise NotImplementedError

    def references(self, batch: dict[str, Any]) -> list[list[str]]:
        """References for a batch (generation tasks carry them in the batch)."""
        return batch["references"]

    # --- model --------------------------------------------------------------------------------------------------
    def token_ids(self, tokenizer: PreTrainedTokenizerBase) -> dict[str, int | None]:
        """Vocabulary size and special ids taken from the DataModule's tokenizer."""
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        return {
            "vocab_size": len(tokenizer),
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": bos,
            "eos_token_id": tokenizer.eos_token_id,
        }

    def random_config(self, tokenizer: PreTrainedTokenizerBase, **extra: Any) -> PretrainedConfig:
        """``model_config`` with the tokenizer's vocabulary and special ids (and ``extra``) filled in."""
        settings = {**self.model_config, **self.token_ids(tokenizer), **extra}
        return AutoConfig.for_model(**settings)

    def align_with_tokenizer(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase) -> nn.Module:
        """Grow a pretrained model's embeddings to the tokenizer and give it pad/eos ids for loss and generate()."""
        if len(tokenizer) > model.get_input_embeddings().num_embeddings:
            model.resize_token_embeddings(len(tokenizer))
        for config in (model.config, getattr(model, "generation_config", None)):
            if config is not None and getattr(config, "pad_token_id", None) is None:
                config.pad_token_id = tokenizer.pad_token_id
        return model

    def _datamodule(self) -> Any:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None or getattr(datamodule, "tokenizer", None) is None:
            raise ValueError(f"{type(self).__name__} needs a DataModule with a tokenizer (set `data:` in the config)")
        if datamodule.task_kind != self.task_kind:
            raise ValueError(
                f"data {type(datamodule).__name__} is a {datamodule.task_kind!r} task but model "
                f"{type(self).__name__} is for {self.task_kind!r}; pick the matching model class_path"
            )
        return datamodule

    def configure_model(self) -> None:
        """Build the transformers model from the data's tokenizer (once), and wrap it with LoRA when asked."""
        if self.model is not None:
            return
        datamodule = self._datamodule()
        self.tokenizer = datamodule.tokenizer
        model = self.build_model(self.tokenizer)
        self._export = export_payload(model, self.auto_class, self.tokenizer, self._lora)
        self.model = apply_lora(model, self._lora) if self._lora else model

    # --- optimizer ----------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        """The only place the optimizer is built: the optimizer section on the model, stepped per optimizer step."""
        optimizer = build_optimizer(self.model, self.optimizer_config)
        scheduler = self.schedule_config.build(optimizer, int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # --- loops --------------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Fresh metric suites from the DataModule, as submodules so they follow the device and gather under DDP."""
        datamodule = self._datamodule()
        if stage in ("fit", "validate"):
            self.val_metrics = datamodule.metric_suite()
        if stage == "test":
            self.test_metrics = datamodule.metric_suite()

    def forward(self, batch: dict[str, Any]) -> Any:
        return self.model(**{key: batch[key] for key in self.loss_keys if key in batch})

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self(batch).loss
        self.log("train/loss", loss, prog_bar=True, batch_size=self._batch_size(batch))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_metrics)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[str]:
        return self.predict_texts(batch)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_metrics)

    def _evaluate(self, batch: dict[str, Any], split: str, metrics: Any) -> None:
        loss = self(batch).loss
        self.log(f"{split}/loss", loss, sync_dist=True, batch_size=self._batch_size(batch))
        metrics.update(self.predict_texts(batch), self.references(batch))

    def _log_metrics(self, split: str, metrics: Any) -> None:
        results = metrics.compute()  # the suite gathers its own list states, so every rank holds the same values
        self.log_dict({f"{split}/{name}": float(value) for name, value in results.items()}, sync_dist=True)
        metrics.reset()

    @staticmethod
    def _batch_size(batch: dict[str, Any]) -> int:
        first = batch["pixel_values"] if "pixel_values" in batch else batch["input_ids"]
        return int(first.shape[0])

    # --- checkpoints --------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Add the RNG states (exact resume) and what ``galoreplus export`` needs, all weights_only-safe."""
        checkpoint["rng_states"] = capture_rng_states_of_all_ranks()
        checkpoint["export"] = self._export

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse a checkpoint of another model with one clear message; restore the RNG states when resuming fit."""
        self._check_fits(checkpoint.get("state_dict", {}))
        if "rng_states" in checkpoint and self._trainer is not None and self.trainer.state.fn == "fit":
            restore_rng_state_of_rank(checkpoint["rng_states"], self.trainer.global_rank)

    def _check_fits(self, saved: dict[str, torch.Tensor]) -> None:
        own = self.state_dict()
        missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
        reshaped = [
            f"{k} {tuple(saved[k].shape)} vs {tuple(own[k].shape)}"
            for k in own.keys() & saved.keys()
            if saved[k].shape != own[k].shape
        ]
        if missing or unexpected or reshaped:
            details = [
                f"{len(missing)} weights missing (e.g. {missing[0]})" if missing else "",
                f"{len(unexpected)} unknown weights (e.g. {unexpected[0]})" if unexpected else "",
                f"{len(reshaped)} shapes differ (e.g. {sorted(reshaped)[0]}, checkpoint vs model)" if reshaped else "",
            ]
            raise ValueError(
                f"--ckpt_path: the checkpoint was written by another model ({'; '.join(d for d in details if d)}); "
                "use the config it was trained with"
            )


class GenerativeModule(TransformerModule):
    """A module whose evaluation generates text.

    Args:
        max_new_tokens: the most tokens ``generate()`` adds per example.
        num_beams: beam width of ``generate()`` (1 = greedy).
    """

    def __init__(
        self,
        name_or_path: str | None = None,
        model_config: dict | None = None,
        optimizer: OptimizerConfig = DEFAULT_OPTIMIZER,
        schedule: ScheduleConfig = DEFAULT_SCHEDULE,
        max_new_tokens: int = 32,
        num_beams: int = 1,
    ) -> None:
        super().__init__(name_or_path, model_config, optimizer, schedule)
        if max_new_tokens <= 0 or num_beams <= 0:
            raise ValueError(f"model: max_new_tokens={max_new_tokens} and num_beams={num_beams} must be positive")
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams

    def generate_ids(self, **inputs: torch.Tensor) -> torch.Tensor:
        """``generate()`` with the configured budget and the tokenizer's pad/eos ids."""
        return self.model.generate(
            **inputs,
            max_new_tokens=self.max_new_tokens,
            num_beams=self.num_beams,
            do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
