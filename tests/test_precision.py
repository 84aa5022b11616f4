"""Numerics of a fit: bf16 with gradient accumulation, and a NaN gradient injected on purpose (skip and count, or
stop naming the parameter). tests/test_modules.py covers that bf16 trains and that fp32 accumulation steps once per
window; tests/test_optimizer.py covers the SVD fallback."""

import csv
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cli_runs import add_callbacks  # noqa: E402
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.cli import GaLorePlusCLI, main  # noqa: E402

NAN_PARAMETER = "bert.encoder.layer.0.attention.self.query.weight"  # a low-rank (projected) weight
NAN_STEP = 2


def logged(cli: GaLorePlusCLI, key: str) -> list[float]:
    with open(Path(cli.trainer.logger.log_dir) / "metrics.csv") as handle:
        return [float(row[key]) for row in csv.DictReader(handle) if row.get(key)]


@pytest.mark.parametrize(("precision", "weights"), [("bf16-mixed", torch.float32), ("bf16-true", torch.bfloat16)])
def test_bf16_with_accumulation_steps_once_per_window_in_fp32_and_learns(tmp_path, precision, weights):
    trainer = {"precision": precision, "accumulate_grad_batches": 2, "max_steps": 12}
    config = run_config("classification", tmp_path, optimizer={"lr": 5e-3}, trainer=trainer)
    cli = GaLorePlusCLI(args=["fit", "--config", str(config)])
    optimizer = cli.trainer.optimizers[0]
    assert cli.trainer.global_step == optimizer.step_count == 12
    assert next(cli.model.model.parameters()).dtype == weights
    projected = [s for s in optimizer.state.values() if "left_basis" in s or "right_basis" in s]
    assert projected and all(
        value.dtype == torch.float32
        for state in projected
        for key, value in state.items()
        if key.endswith(("basis", "exp_avg", "exp_avg_sq"))  # bases, moments and residual moments
    )
    plain = [s for s in optimizer.state.values() if "exp_avg" in s and not {"left_basis", "right_basis"} & s.keys()]
    assert plain and all(state["exp_avg"].dtype == weights for state in plain)  # as torch's AdamW keeps them
    refreshes = logged(cli, "optim/basis_refreshes")
    assert len(refreshes) == 12 and [bool(r) for r in refreshes] == [step % 4 == 0 for step in range(12)]
    losses = logged(cli, "train/loss")
    assert sum(losses[-3:]) < sum(losses[:3])


def fit_with_nan(root: Path, **optimizer) -> Path:
    config = run_config("classification", root, optimizer=optimizer)
    nan = {"name": f"model.{NAN_PARAMETER}", "at_step": NAN_STEP}
    return add_callbacks(config, {"class_path": "probe_callbacks.NaNGradient", "init_args": nan})


def test_a_nan_gradient_is_skipped_and_counted_by_default(tmp_path):
    cli = GaLorePlusCLI(args=["fit", "--config", str(fit_with_nan(tmp_path))])
    assert logged(cli, "optim/skipped_steps") == [0.0] * NAN_STEP + [1.0] * (4 - NAN_STEP)
    optimizer = cli.trainer.optimizers[0]
    states = {name: optimizer.state[p] for name, p in cli.model.model.named_parameters()}
    assert states[NAN_PARAMETER]["step"] == 3 and states["classifier.weight"]["step"] == 4  # only its update skipped
    for name, p in cli.model.model.named_parameters():
        assert bool(p.isfinite().all()), name
        for key, value in states[name].items():
            assert not isinstance(value, torch.Tensor) or bool(value.isfinite().all()), f"{name} {key}"


def test_a_nan_gradient_stops_the_run_naming_the_parameter_when_asked(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["fit", "--config", str(fit_with_nan(tmp_path, on_nonfinite="raise"))])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: non-finite gradient") and f"'{NAN_PARAMETER}'" in err[-1]
    assert f"at optimizer step {NAN_STEP}" in err[-1] and "on_nonfinite='skip'" in err[-1]
    assert not any("Traceback" in line for line in err)
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == NAN_STEP  # the checkpoint before the NaN is intact, nothing after it was written
