"""SVDTimer, MemoryMonitor and TrainingTimer log their keys with sane values, and refuse to run without a logger."""

import csv
import sys
from pathlib import Path

import pytest
import torch
from lightning import Trainer
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.callbacks import MemoryMonitor, SVDTimer, TrainingTimer  # noqa: E402
from lightning_modules.cli import GaLorePlusCLI  # noqa: E402


def logged_rows(log_dir: str) -> list[dict[str, str]]:
    with open(Path(log_dir) / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def column(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(row[key]) for row in rows if row.get(key)]


def find(callbacks: list, kind: type):
    return next(cb for cb in callbacks if isinstance(cb, kind))


def test_callbacks_log_their_keys_with_sane_values(tmp_path):
    config = run_config("classification", tmp_path, optimizer={"update_proj_gap": 2}, trainer={"max_steps": 4})
    cli = GaLorePlusCLI(args=["fit", "--config", str(config)])
    rows = logged_rows(cli.trainer.logger.log_dir)
    optimizer = cli.trainer.optimizers[0]

    svd = find(cli.trainer.callbacks, SVDTimer)
    refreshes = column(rows, "optim/basis_refreshes")
    seconds = column(rows, "optim/basis_seconds")
    assert len(refreshes) == 4 and refreshes[0] > 0 and refreshes[1] == 0 and refreshes[2] > 0
    assert seconds[0] > 0 and seconds[1] == 0 and seconds[2] > 0
    assert all(0 < share < 1 for share in column(rows, "optim/basis_share")[::2])
    assert column(rows, "optim/basis_seconds_total")[-1] == pytest.approx(svd.basis_seconds_total)
    assert svd.basis_refreshes_total == sum(refreshes)
    assert 0 < column(rows, "optim/captured_energy")[-1] <= 1 + 1e-6
    assert column(rows, "optim/skipped_steps") == [0.0] * 4

    memory = find(cli.trainer.callbacks, MemoryMonitor)
    assert memory.optimizer_state_bytes == optimizer.stats["state_bytes"] > 0
    assert column(rows, "mem/optimizer_state_bytes")[-1] == optimizer.stats["state_bytes"]
    assert memory.param_bytes == sum(p.numel() * 4 for p in cli.model.parameters())
    assert column(rows, "mem/baseline_rss_bytes")[-1] > 100e6  # the imports alone
    assert column(rows, "mem/peak_bytes")[-1] >= 0

    timer = find(cli.trainer.callbacks, TrainingTimer)
    assert timer.steps == 4 and timer.samples == 16 and timer.tokens > timer.samples
    assert column(rows, "time/fit_seconds")[-1] == pytest.approx(timer.fit_seconds)
    assert timer.steps_per_second > 0 and timer.tokens_per_second > timer.samples_per_second > 0


class AdamWBoringModel(BoringModel):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=0.01)


def test_svd_timer_logs_zeros_for_other_optimizers(tmp_path):
    callbacks = [SVDTimer(), MemoryMonitor()]
    trainer = Trainer(
        default_root_dir=tmp_path,
        max_steps=3,
        log_every_n_steps=1,
        logger=CSVLogger(tmp_path),
        callbacks=callbacks,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(AdamWBoringModel())  # torch's AdamW: no stats, so the state is counted from its tensors
    rows = logged_rows(trainer.logger.log_dir)
    assert column(rows, "optim/basis_seconds") == [0.0] * 3
    params = list(trainer.lightning_module.parameters())
    moments_and_steps = sum(2 * p.numel() * 4 + 4 for p in params)  # exp_avg, exp_avg_sq, fp32 step per parameter
    assert callbacks[1].optimizer_state_bytes == moments_and_steps


@pytest.mark.parametrize("callback", [SVDTimer, MemoryMonitor, TrainingTimer])
def test_callbacks_refuse_to_run_without_a_logger(tmp_path, callback):
    trainer = Trainer(default_root_dir=tmp_path, max_steps=1, logger=False, callbacks=[callback()])
    with pytest.raises(MisconfigurationException, match="no logger"):
        trainer.fit(BoringModel())
