"""A run stopped mid-epoch and resumed from `last` ends with the same weights as one that ran straight through."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.atomic_checkpoint_io import AtomicCheckpointIO  # noqa: E402
from lightning_modules.cli import GaLorePlusCLI  # noqa: E402

# BERT's dropout (0.1) is on and the train loader shuffles. 16 batches per epoch: step 10 falls mid-epoch, step 16
# validates at the epoch end, refreshes come at steps 0, 8 and 16, and the residual's warm-up ends at step 10.
RUN = {
    "optimizer": {"update_proj_gap": 8, "residual_density": 0.05, "residual_warmup_steps": 10},
    "data": {"limit_train_samples": 64},
}


def fit(root: Path, max_steps: int, *extra: str) -> dict[str, torch.Tensor]:
    config = run_config("classification", root, trainer={"max_steps": max_steps}, checkpoint_every=10, **RUN)
    GaLorePlusCLI(args=["fit", "--config", str(config), *extra])
    checkpoint = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == max_steps
    return checkpoint["state_dict"]


def test_resume_mid_epoch_continues_exactly(tmp_path):
    straight = fit(tmp_path / "straight", 20)
    first = fit(tmp_path / "resumed", 10)
    resumed = fit(tmp_path / "resumed", 20, "--ckpt_path", "last")
    assert not torch.equal(first["model.classifier.weight"], resumed["model.classifier.weight"])
    for name, value in straight.items():
        torch.testing.assert_close(resumed[name], value, atol=1e-6, rtol=0, msg=name)


def test_a_failed_checkpoint_write_leaves_the_last_good_one_intact(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": torch.tensor(1)}, target)

    def crash(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["step"] == 1
    assert [path.name for path in tmp_path.iterdir()] == ["last.ckpt"]
