"""GaLorePlusAdamW: one optimizer for AdamW, vanilla GaLore and GaLore+, so ablations share one code path.

Formulas follow ``torch.optim.AdamW``: decoupled weight decay is applied before the update, and eps is added after
bias correction. The official galore-torch differs in both (it decays the already-updated weight and folds the bias
correction into the step size, so its eps sits inside it); with weight_decay=0 and a tiny eps the two agree.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from galoreplus.basis import estimate_bases
from galoreplus.layout import Layout, build_layout
from galoreplus.projection import back_project, project
from galoreplus.residual import residual_step
from galoreplus.seeding import seeded_generator
from galoreplus.settings import check_group_keys, fill_and_check_low_rank

STAT_KEYS = (
    "basis_refreshes",
    "basis_seconds",
    "basis_seconds_total",
    "residual_entries",
    "state_bytes",
    "skipped_steps",
    "svd_failures",
    "captured_energy",
)


class GaLorePlusAdamW(torch.optim.Optimizer):
    """AdamW whose groups with ``rank`` keep Adam's moments in a low-rank subspace (GaLore / GaLore+).

    Args:
        params: parameters or param groups; build groups from a model with :func:`galoreplus.param_groups`.
        lr, betas, eps, weight_decay: as in ``torch.optim.AdamW``.
        seed: seeds every random draw (head choice, test matrices) together with the parameter index and the refresh
            count, so DDP replicas agree without communication and a resumed run draws what an uninterrupted one would.
        on_nonfinite: ``"skip"`` skips a parameter whose gradient holds NaN/Inf and counts it in ``stats``;
            ``"raise"`` stops with a message that names the parameter.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        seed: int = 0,
        on_nonfinite: str = "skip",
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"lr={lr!r} is invalid; expected a number >= 0")
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"betas={betas!r} is invalid; expected two numbers in [0, 1)")
        if not eps >= 0.0:
            raise ValueError(f"eps={eps!r} is invalid; expected a number >= 0")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay={weight_decay!r} is invalid; expected a number >= 0")
        if on_nonfinite not in ("skip", "raise"):
            raise ValueError(f"on_nonfinite={on_nonfinite!r} is invalid; expected 'skip' or 'raise'")
        self.seed = int(seed)
        self.on_nonfinite = on_nonfinite
        self.step_count = 0
        self._layouts: dict[Tensor, Layout] = {}
        self._names: dict[Tensor, str] = {}
        self._index: dict[Tensor, int] = {}
        self._energy: dict[int, float] = {}
        self.stats: dict[str, float] = dict.fromkeys(STAT_KEYS, 0)
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    # ----------------------------------------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        group_no = len(self.param_groups)
        check_group_keys(param_group, f"param_groups[{group_no}]")
        if param_group.get("rank", 0) is None:
            param_group = {k: v for k, v in param_group.items() if k != "rank"}
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        names = list(param_group.get("names") or [])
        for j, p in enumerate(params):
            self._index[p] = len(self._index)
            self._names[p] = names[j] if j < len(names) else f"param_groups[{group_no}].params[{j}]"
        if "rank" in param_group:
            fill_and_check_low_rank(param_group, f"param_groups[{group_no}] ({', '.join(names[:3]) or 'unnamed'})")
            for p in params:
                where = f"parameter '{self._names[p]}'"
                if p.dim() != 2:
                    raise ValueError(
                        f"{where}: rank is set for a {p.dim()}-D tensor of shape {tuple(p.shape)}; the low-rank path "
                        "takes 2-D weights only: leave rank out of this group"
                    )
                self._layouts[p] = build_layout(tuple(p.shape), param_group, where)
        super().add_param_group(param_group)

    def _rebuild_layouts(self) -> None:
        for group in self.param_groups:
            if "rank" in group:
                for p in group["params"]:
                    self._layouts[p] = build_layout(tuple(p.shape), group, f"parameter '{self._names[p]}'")

    # ------------------------------------------------------------------------------------------------ step
    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.stats["basis_refreshes"] = 0
        self.stats["basis_seconds"] = 0.0
        with_grad = [[p for p in group["params"] if p.grad is not None] for group in self.param_groups]
        finite = self._finite([p for params in with_grad for p in params])
        for group, params in zip(self.param_groups, with_grad, strict=True):
            params = [p for p in params if finite[p]]
            if not params:
                continue
            if "rank" in group:
                self._low_rank_step(group, params)
            else:
                self._adamw_step(group, params)
        self.step_count += 1
        self.stats["captured_energy"] = sum(self._energy.values()) / len(self._energy) if self._energy else 0.0
        self.stats["residual_entries"] = sum(
            s["residual_index"].numel() for s in self.state.values() if "residual_index" in s
        )
        self.stats["state_bytes"] = self.state_bytes()
        return loss

    def _finite(self, params: list[Tensor]) -> dict[Tensor, bool]:
        """Whether each gradient is finite: one norm per gradient and one host sync per step."""
        if not params:
            return {}
        norms = torch._foreach_norm([p.grad for p in params])
        finite = torch.stack([n.float().to(params[0].device) for n in norms]).isfinite().cpu()
        flags = dict(zip(params, finite.tolist(), strict=True))
        bad = [p for p in params if not flags[p]]
        if bad and self.on_nonfinite == "raise":
            raise FloatingPointError(
                f"non-finite gradient (NaN or Inf) in parameter '{self._names[bad[0]]}' at optimizer step "
                f"{self.step_count}; lower the learning rate, enable gradient clipping, or set on_nonfinite='skip'"
            )
        self.stats["skipped_steps"] += len(bad)
        return flags

    def _adamw_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Multi-tensor AdamW, the same arithmetic as ``torch.optim.AdamW(foreach=True)``."""
        beta1, beta2 = group["betas"]
        grads, exp_avgs, exp_avg_sqs, steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step"] += 1
            grads.append(p.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if group["weight_decay"]:
            torch._foreach_mul_(params, 1.0 - group["lr"] * group["weight_decay"])
        denoms = _adam_moments(exp_avgs, exp_avg_sqs, grads, beta1, beta2, steps, group["eps"])
        step_sizes = [-group["lr"] / (1.0 - beta1**s) for s in steps]
        torch._foreach_addcdiv_(params, exp_avgs, denoms, step_sizes)

    def _low_rank_step(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Project, Adam on the small tensors (multi-tensor), back-project, add the sparse residual correction."""
        beta1, beta2 = group["betas"]
        works, projected, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for p in params:
            state, layout = self.state[p], self._layouts[p]
            work = layout.to_work(p.grad)
            if not state:
                state["step"] = 0
                state["refreshes"] = 0
            refresh = state["step"] % group["update_proj_gap"] == 0
            if refresh:
                self._refresh(p, group, state, layout, work)
            small = project(work, state).float()
            if refresh:
                self._energy[self._index[p]] = float(
                    small.square().sum() / work.float().square().sum().clamp_min(1e-30)
                )
            if "exp_avg" not in state:
                state["exp_avg"] = torch.zeros_like(small)
                state["exp_avg_sq"] = torch.zeros_like(small)
            works.append(work)
            projected.append(small)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"] + 1)
        denoms = _adam_moments(exp_avgs, exp_avg_sqs, projected, beta1, beta2, steps, group["eps"])
        normalized = torch._foreach_div(exp_avgs, denoms)
        torch._foreach_mul_(normalized, [group["scale"] / (1.0 - beta1**s) for s in steps])
        for p, work, small, norm in zip(params, works, projected, normalized, strict=True):
            state, layout = self.state[p], self._layouts[p]
            flip = layout.stored_transposed
            update = back_project(norm, state, p.dtype, transposed=flip)  # the scale is already in ``norm``
            update = update.mT if flip else update  # work layout again, as a view
            if group["residual_density"] > 0:
                residual_step(update, work, small, state, group)
            state["step"] += 1
            if group["weight_decay"]:
                p.mul_(1.0 - group["lr"] * group["weight_decay"])
            p.add_(layout.from_work(update), alpha=-group["lr"])

    def _refresh(self, p: Tensor, group: dict[str, Any], state: dict[str, Any], layout: Layout, work: Tensor) -> None:
        """Re-estimate the basis (head draw + SVD/rsi), timed; a failed SVD keeps the previous basis."""
        cuda = work.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(work.device)
        start = time.perf_counter()
        generator = seeded_generator(self.seed, self._index[p], state["refreshes"], work.device)
        source = work
        if layout.cross_head and group["basis_from"] == "random_head":
            state["head_ids"] = torch.randint(
                0, layout.group_heads, (layout.groups,), generator=generator, device=work.device
            )
            source = layout.head_blocks(p.grad, state["head_ids"])
        warm = group["svd_warm_start"] and group["svd_method"] == "rsi"
        try:
            left, right = estimate_bases(
                source,
                group["rank"],
                layout.side,
                group["svd_method"],
                iters=group["svd_iters"],
                oversample=group["svd_oversample"],
                generator=generator,
                start_left=state.get("left_basis") if warm else None,
                start_right=state.get("right_basis") if warm else None,
            )
            if not all(b is None or bool(b.isfinite().all()) for b in (left, right)):
                raise torch.linalg.LinAlgError("basis estimate is not finite")
        except torch.linalg.LinAlgError:
            self.stats["svd_failures"] += 1
            if "left_basis" in state or "right_basis" in state:
                left, right = state.get("left_basis"), state.get("right_basis")
            else:
                left, right = _random_bases(source, group["rank"], layout.side, generator)
        for key, basis in (("left_basis", left), ("right_basis", right)):
            if basis is not None:
                if group["svd_align_signs"] and key in state:
                    basis = _aligned_signs(basis, state[key])
                state[key] = basis
        state["refreshes"] += 1
        if cuda:
            torch.cuda.synchronize(work.device)
        elapsed = time.perf_counter() - start
        self.stats["basis_refreshes"] += 1
        self.stats["basis_seconds"] += elapsed
        self.stats["basis_seconds_total"] += elapsed

    # ------------------------------------------------------------------------------------------- state I/O
    def state_bytes(self) -> int:
        """Bytes of every tensor the optimizer keeps (bases, moments, indices, scores)."""
        return sum(
            v.numel() * v.element_size() for s in self.state.values() for v in s.values() if isinstance(v, Tensor)
        )

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        sd["galoreplus"] = {
            "seed": self.seed,
            "step_count": self.step_count,
            "stats": dict(self.stats),
            "energy": dict(self._energy),
        }
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch casts floating state to the parameter's dtype; keep fp32 bases/moments and int64 indices as saved."""
        state_dict = dict(state_dict)
        extra = state_dict.pop("galoreplus", {})
        super().load_state_dict(state_dict)
        self.seed = int(extra.get("seed", self.seed))
        self.step_count = int(extra.get("step_count", 0))
        self.stats.update(extra.get("stats", {}))
        self._energy = {int(k): float(v) for k, v in extra.get("energy", {}).items()}
        params = [p for g in self.param_groups for p in g["params"]]
        for index, saved in state_dict["state"].items():
            p = params[index]
            for key, value in saved.items():
                if isinstance(value, Tensor):
                    self.state[p][key] = value.to(device=p.device, copy=True)
        self._rebuild_layouts()


def _adam_moments(
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    grads: list[Tensor],
    beta1: float,
    beta2: float,
    steps: list[int],
    eps: float,
) -> list[Tensor]:
    """Update both moments in place and return sqrt(v̂) + eps, eps after bias correction as in torch's AdamW."""
    torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1.0 - beta2)
    denoms = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denoms, [math.sqrt(1.0 - beta2**s) for s in steps])
    torch._foreach_add_(denoms, eps)
    return denoms


def _aligned_signs(basis: Tensor, previous: Tensor) -> Tensor:
    """Flip each new basis vector whose sign LAPACK chose against the previous one, so carried moments keep meaning."""
    signs = (basis * previous).sum(-2, keepdim=True).sign()
    return basis * torch.where(signs == 0, torch.ones_like(signs), signs)


def _random_bases(
    source: Tensor, rank: int, side: str, generator: torch.Generator
) -> tuple[Tensor | None, Tensor | None]:
    """Fallback when the very first SVD fails: a random orthonormal basis keeps training going (and is counted)."""

    def draw(size: int) -> Tensor:
        gauss = torch.randn(source.shape[0], size, rank, generator=generator, device=source.device)
        return torch.linalg.qr(gauss).Q

    return (
        draw(source.shape[-2]) if side in ("left", "full") else None,
        draw(source.shape[-1]) if side in ("right", "full") else None,
    )
