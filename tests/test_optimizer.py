"""GaLorePlusAdamW against its references: torch.optim.AdamW and the official galore-torch GaLoreAdamW."""

import copy

import pytest
import torch
from torch import nn

from galoreplus import GaLorePlusAdamW, param_groups


class TwoLayer(nn.Module):
    def __init__(self, width: int = 48, hidden: int = 96) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


def _train(model, optimizer, steps, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = torch.randn(32, 48, generator=gen, dtype=dtype)
        target = torch.sin(x.roll(1, dims=1))
        optimizer.zero_grad()
        loss = (model(x) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_adamw_path_equals_torch_adamw():
    torch.manual_seed(0)
    ours_model = TwoLayer()
    ref_model = copy.deepcopy(ours_model)
    ours = GaLorePlusAdamW(ours_model.parameters(), lr=1e-2, weight_decay=0.1)
    ref = torch.optim.AdamW(ref_model.parameters(), lr=1e-2, weight_decay=0.1, foreach=True)
    _train(ours_model, ours, 50)
    _train(ref_model, ref, 50)
    for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_galore_preset_reproduces_official_galore_torch():
    """Same updates as galore-torch over 4 refreshes (weight_decay 0 and eps 1e-12 make the formulas agree).

    Both libraries take an fp32 SVD whose singular-vector signs are a discontinuous function of the gradient, and
    GaLore carries moments across refreshes, so a 1-ulp difference can flip a sign and part the runs; fp64 weights
    and a fixed seed keep the two gradients equal to ~1e-9, where every sign agrees.
    """
    galore_torch = pytest.importorskip("galore_torch")
    torch.manual_seed(0)
    ours_model = TwoLayer().double()
    ref_model = copy.deepcopy(ours_model)
    settings = {"rank": 8, "update_proj_gap": 4, "scale": 0.5}
    ours = GaLorePlusAdamW(param_groups(ours_model, "galore", **settings), lr=1e-2, eps=1e-12)
    targets = [ref_model.fc1.weight, ref_model.fc2.weight]
    rest = [p for p in ref_model.parameters() if all(p is not t for t in targets)]
    ref = galore_torch.GaLoreAdamW(
        [{"params": rest}, {"params": targets, "proj_type": "std", **settings}], lr=1e-2, eps=1e-12
    )
    _train(ours_model, ours, 13, dtype=torch.float64)  # refreshes at steps 0, 4, 8 and 12
    _train(ref_model, ref, 13, dtype=torch.float64)
    assert ours.stats["basis_seconds_total"] > 0
    assert ours.state[ours_model.fc1.weight]["refreshes"] == 4
    for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_closure_is_called_and_its_loss_returned():
    model = TwoLayer()
    optimizer = GaLorePlusAdamW(param_groups(model, "galore_plus", rank=4), lr=1e-3)
    x = torch.randn(4, 48)

    def closure():
        optimizer.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert torch.is_tensor(loss) and loss.item() > 0
    assert optimizer.step_count == 1 and optimizer.stats["basis_refreshes"] == 2


@pytest.mark.parametrize("preset", ["adamw", "galore", "galore_plus"])
def test_every_preset_trains_a_tiny_model(preset):
    torch.manual_seed(0)
    model = TwoLayer()
    extra = {} if preset == "adamw" else {"rank": 16, "update_proj_gap": 50, "scale": 1.0}
    optimizer = GaLorePlusAdamW(param_groups(model, preset, **extra), lr=1e-2)
    losses = _train(model, optimizer, 200)
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def test_nonfinite_gradient_is_skipped_and_counted():
    model = TwoLayer()
    optimizer = GaLorePlusAdamW(param_groups(model, "galore_plus", rank=4, residual_warmup_steps=0), lr=1e-2)
    _train(model, optimizer, 2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    moments = optimizer.state[model.fc1.weight]["exp_avg"].clone()
    optimizer.zero_grad()
    model(torch.randn(4, 48)).pow(2).mean().backward()
    model.fc1.weight.grad[0, 0] = float("nan")
    optimizer.step()
    assert optimizer.stats["skipped_steps"] == 1
    assert torch.equal(model.fc1.weight, before["fc1.weight"])
    assert torch.equal(optimizer.state[model.fc1.weight]["exp_avg"], moments)
    assert optimizer.state[model.fc1.weight]["step"] == 2
    assert not torch.equal(model.fc2.weight, before["fc2.weight"])
    assert all(p.isfinite().all() for p in model.parameters())


def test_nonfinite_gradient_can_stop_training_naming_the_parameter():
    model = TwoLayer()
    optimizer = GaLorePlusAdamW(param_groups(model, "galore", rank=4), on_nonfinite="raise")
    model(torch.randn(4, 48)).pow(2).mean().backward()
    model.fc2.weight.grad[1, 1] = float("inf")
    with pytest.raises(FloatingPointError, match="fc2.weight"):
        optimizer.step()


def test_failed_svd_keeps_previous_basis_and_is_counted(monkeypatch):
    import galoreplus.optimizer as optimizer_module

    model = TwoLayer()
    optimizer = GaLorePlusAdamW(param_groups(model, "galore", rank=4, update_proj_gap=1), lr=1e-2)
    _train(model, optimizer, 1)
    basis = optimizer.state[model.fc1.weight]["right_basis"].clone()  # fc1 is tall: GaLore's std uses the right side

    def fail(*args, **kwargs):
        raise torch.linalg.LinAlgError("did not converge")

    monkeypatch.setattr(optimizer_module, "estimate_bases", fail)
    _train(model, optimizer, 1)
    assert optimizer.stats["svd_failures"] == 2
    assert torch.equal(optimizer.state[model.fc1.weight]["right_basis"], basis)
    assert all(p.isfinite().all() for p in model.parameters())


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"rank": 0}, ["rank"]),
        ({"rank": 500}, ["rank=500", "fc1.weight"]),
        ({"rank": 4, "svd_method": "qr"}, ["svd_method", "exact"]),
        ({"rank": 4, "residual_mode": "r3"}, ["residual_mode"]),
        ({"rank": 4, "proj_type": "diagonal"}, ["proj_type"]),
        ({"rank": 4, "residual_density": 1.0}, ["residual_density", "[0, 1)"]),
        ({"rank": 4, "residual_density": -0.1}, ["residual_density"]),
        ({"rank": 4, "update_proj_gap": 0}, ["update_proj_gap"]),
        ({"rank": 4, "rnak": 4}, ["rnak"]),
    ],
)
def test_bad_settings_raise_a_message_naming_the_setting(overrides, names):
    model = TwoLayer()
    with pytest.raises(ValueError) as error:
        GaLorePlusAdamW(param_groups(model, None, **overrides))
    for name in names:
        assert name in str(error.value)


def test_bad_optimizer_arguments_and_presets():
    model = TwoLayer()
    with pytest.raises(ValueError, match="preset='galor'"):
        param_groups(model, "galor")
    with pytest.raises(ValueError, match="'nothing_here' matches no linear layer"):
        param_groups(model, "galore", target_modules=["nothing_here"])
    with pytest.raises(ValueError, match="on_nonfinite"):
        GaLorePlusAdamW(model.parameters(), on_nonfinite="ignore")
    with pytest.raises(ValueError, match="2-D weights only"):
        GaLorePlusAdamW([{"params": [model.fc1.bias], "rank": 2}])
