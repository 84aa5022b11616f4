"""A torchmetrics base class whose list states keep their dtype when they are gathered across DDP ranks."""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat
from torchmetrics.utilities.distributed import gather_all_tensors


class ListStateMetric(Metric):
    """Metric with 1-D tensor list states (`dist_reduce_fx="cat"`) of a fixed dtype.

    torchmetrics fills the list of a rank that saw no data with an empty tensor of the metric's float dtype before
    the all-gather; gathered next to another rank's integer tensors, that mixes dtypes. Registering each list state
    with its dtype lets `_sync_dist` fill empty lists with an empty tensor of the right dtype instead.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._list_dtypes: dict[str, torch.dtype] = {}

    def add_list_state(self, name: str, dtype: torch.dtype) -> None:
        """Register `name` as a list of 1-D `dtype` tensors that is concatenated across ranks."""
        self.add_state(name, default=[], dist_reduce_fx="cat")
        self._list_dtypes[name] = dtype

    def append_to(self, name: str, values: list[int] | bytes) -> None:
        """Append `values` to the list state `name` as one 1-D tensor of its registered dtype."""
        dtype = self._list_dtypes[name]
        if isinstance(values, bytes):
            tensor = torch.frombuffer(bytearray(values), dtype=torch.uint8) if values else torch.empty(0, dtype=dtype)
        else:
            tensor = torch.tensor(values, dtype=dtype)
        getattr(self, name).append(tensor.to(dtype=dtype, device=self.device))

    def gathered(self, name: str) -> Tensor:
        """The list state `name` as one 1-D CPU tensor (empty where no rank saw data)."""
        value = getattr(self, name)
        if isinstance(value, list) and not value:
            return torch.empty(0, dtype=self._list_dtypes[name])
        return dim_zero_cat(value).cpu()

    def _sync_dist(self, dist_sync_fn: Callable = gather_all_tensors, process_group: Any | None = None) -> None:
        for name, dtype in self._list_dtypes.items():
            if isinstance(getattr(self, name), list) and not getattr(self, name):
                setattr(self, name, [torch.empty(0, dtype=dtype, device=self.device)])
        super()._sync_dist(dist_sync_fn, process_group)
