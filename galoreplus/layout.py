"""How one weight's gradient is laid out as a batch of "work" matrices, and on which side their bases live.

Vanilla GaLore sees a weight as one matrix. Cross-head projection sees an attention weight as head blocks: it turns
the weight so that heads lie along rows, (heads * head_dim, model_dim), groups ``group_size`` heads, and gives each
group one basis, estimated from the group's stacked blocks or from one randomly drawn head of it:

- ``shared_side="model_dim"``: a group's work matrix is its stacked blocks (g * head_dim, model_dim) and the basis
  spans the model-dim side, the side every head shares (right for q/k/v, left for the output projection). State size
  equals GaLore's at the same rank; ``group_size="all"`` with ``stacked`` is exactly GaLore on that side.
- ``shared_side="head_dim"``: a group's work matrix is its blocks side by side (head_dim, g * model_dim), so one
  head-dim basis projects each head's block; the state is heads times larger than GaLore's at the same rank.

Every view is a reshape of the gradient, so one batched matmul/QR/SVD serves all groups: no Python loop over heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Layout:
    shape: tuple[int, int]
    side: str  # left | right | full: where the basis lives on the work matrices
    transpose: bool = False  # heads along columns: work on the transposed weight
    groups: int = 1  # work matrices in the batch
    group_heads: int = 1  # heads per group
    head_dim: int = 0  # 0: no cross-head projection
    shared_side: str = "model_dim"

    @property
    def cross_head(self) -> bool:
        return self.head_dim > 0

    @property
    def stored_transposed(self) -> bool:
        """One work matrix that is the weight's transpose: back-project in the weight's own memory order."""
        return self.transpose and self.shared_side == "model_dim" and self.groups == 1

    def _heads_as_rows(self, grad: Tensor) -> Tensor:
        return grad.mT if self.transpose else grad

    def to_work(self, grad: Tensor) -> Tensor:
        """The (groups, p, q) batch of work matrices; a view except for ``head_dim`` sharing."""
        if not self.cross_head:
            return grad.unsqueeze(0)
        rows = self._heads_as_rows(grad)
        model_dim = rows.shape[1]
        if self.shared_side == "model_dim":
            return rows.reshape(self.groups, self.group_heads * self.head_dim, model_dim)
        blocks = rows.reshape(self.groups, self.group_heads, self.head_dim, model_dim)
        return blocks.permute(0, 2, 1, 3).reshape(self.groups, self.head_dim, self.group_heads * model_dim)

    def from_work(self, work: Tensor) -> Tensor:
        """Inverse of :meth:`to_work`: a (possibly strided) tensor of the weight's shape."""
        if not self.cross_head:
            return work.squeeze(0)
        if self.shared_side == "head_dim":
            model_dim = work.shape[-1] // self.group_heads
            work = work.reshape(self.groups, self.head_dim, self.group_heads, model_dim).permute(0, 2, 1, 3)
        rows = work.reshape(-1, work.shape[-1])
        return rows.mT if self.transpose else rows

    def head_blocks(self, grad: Tensor, head_ids: Tensor) -> Tensor:
        """One head block per group, (groups, head_dim, model_dim): the ``random_head`` basis source."""
        rows = self._heads_as_rows(grad)
        blocks = rows.reshape(self.groups, self.group_heads, self.head_dim, rows.shape[1])
        return blocks[torch.arange(self.groups, device=grad.device), head_ids]

    def source_shape(self, basis_from: str) -> tuple[int, int]:
        """Shape of each matrix the basis is estimated from: the work matrix, or one head block."""
        if self.cross_head and basis_from == "random_head":
            return self.head_dim, self.model_dim
        return self.work_shape()

    @property
    def model_dim(self) -> int:
        return self.shape[0] if self.transpose else self.shape[1]

    def work_shape(self) -> tuple[int, int]:
        if not self.cross_head:
            return self.shape
        if self.shared_side == "model_dim":
            return self.group_heads * self.head_dim, self.model_dim
        return self.head_dim, self.group_heads * self.model_dim


def plain_side(shape: tuple[int, int], proj_type: str) -> str:
    """GaLore's choice: ``std`` puts the basis on the smaller side (right for tall and square weights)."""
    tall = shape[0] >= shape[1]
    if proj_type == "std":
        return "right" if tall else "left"
    if proj_type == "reverse_std":
        return "left" if tall else "right"
    return proj_type


def build_layout(shape: tuple[int, int], group: dict, where: str) -> Layout:
    """The layout of one weight under a validated low-rank group; shape errors name the parameter."""
    heads = group["num_heads"]
    if heads is None:
        layout = Layout(shape=shape, side=plain_side(shape, group["proj_type"]))
    else:
        axis = group["head_axis"]
        splits = group["head_splits"]
        along = shape[axis]
        if along % (heads * splits):
            raise ValueError(
                f"{where}: num_heads={heads} (x head_splits={splits}) does not divide the head axis "
                f"(axis {axis}, size {along}) of shape {tuple(shape)}; check num_heads/head_axis for this weight"
            )
        size = heads if group["group_size"] == "all" else group["group_size"]
        layout = Layout(
            shape=shape,
            side="right" if group["shared_side"] == "model_dim" else "left",
            transpose=axis == 1,
            groups=splits * heads // size,
            group_heads=size,
            head_dim=along // (heads * splits),
            shared_side=group["shared_side"],
        )
    limit = min(layout.source_shape(group["basis_from"]))
    if group["rank"] > limit:
        what = "head block" if layout.cross_head and group["basis_from"] == "random_head" else "matrix"
        raise ValueError(
            f"{where}: rank={group['rank']} is larger than the {what} it is estimated from "
            f"({'x'.join(map(str, layout.source_shape(group['basis_from'])))}); use rank <= {limit}"
        )
    return layout
