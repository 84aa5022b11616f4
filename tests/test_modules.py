"""Each model kind fits a few steps through the real CLI and then tests from the saved checkpoint."""

import sys
from pathlib import Path

import pytest
import torch
from lightning import Callback

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.cli import GaLorePlusCLI  # noqa: E402


def fit_then_test(config: Path) -> tuple[GaLorePlusCLI, GaLorePlusCLI]:
    fit = GaLorePlusCLI(args=["fit", "--config", str(config)])
    test = GaLorePlusCLI(args=["test", "--config", str(config), "--ckpt_path", "last"])
    return fit, test


@pytest.mark.parametrize("kind", ["classification", "seq2seq", "causal_lm", "captioning"])
def test_each_kind_fits_and_tests_from_its_checkpoint(kind, tmp_path):
    fit, test = fit_then_test(run_config(kind, tmp_path, optimizer={}))
    assert fit.trainer.global_step == 4
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    metrics = test.trainer.callback_metrics
    assert torch.isfinite(metrics["test/loss"])
    assert any(name.startswith("test/") and name != "test/loss" for name in metrics)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["optimizer"]["name"] == "galore_plus"


class Snapshot(Callback):
    """Copies the weights when training starts, to compare with the weights at the end."""

    def on_train_start(self, trainer, pl_module):
        self.start = {name: p.detach().clone() for name, p in pl_module.model.named_parameters()}


def changed_parameters(cli: GaLorePlusCLI) -> set[str]:
    snapshot = next(cb for cb in cli.trainer.callbacks if isinstance(cb, Snapshot))
    return {n for n, p in cli.model.model.named_parameters() if not torch.equal(p.detach(), snapshot.start[n])}


def fit_with_snapshot(kind: str, root: Path, optimizer: dict, **trainer) -> GaLorePlusCLI:
    config = run_config(kind, root, optimizer=optimizer, trainer=trainer)
    snapshot = Snapshot()
    return GaLorePlusCLI(args=["fit", "--config", str(config)], trainer_defaults={"callbacks": [snapshot]})


def test_lora_trains_only_adapter_weights(tmp_path):
    cli = fit_with_snapshot("causal_lm", tmp_path, {"name": "lora", "rank": 4, "update_proj_gap": None})
    names = dict(cli.model.model.named_parameters())
    trainable = {n for n, p in names.items() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    changed = changed_parameters(cli)
    assert changed and changed <= trainable
    assert any("lora_B" in n for n in changed)


def test_galore_plus_trains_every_weight(tmp_path):
    cli = fit_with_snapshot("classification", tmp_path, {"residual_density": 0.01})
    assert changed_parameters(cli) == {n for n, _ in cli.model.model.named_parameters()}


def test_accumulation_steps_the_optimizer_once_per_window(tmp_path):
    config = run_config("classification", tmp_path, trainer={"accumulate_grad_batches": 4, "max_steps": 3})
    cli = GaLorePlusCLI(args=["fit", "--config", str(config)])
    assert cli.trainer.global_step == 3
    assert cli.trainer.optimizers[0].step_count == 3


@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true"])
def test_bf16_precisions_train(tmp_path, precision):
    config = run_config("causal_lm", tmp_path, trainer={"precision": precision, "max_steps": 2})
    cli = GaLorePlusCLI(args=["fit", "--config", str(config)])
    assert cli.trainer.global_step == 2
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
