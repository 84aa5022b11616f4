"""The global torch, numpy and Python RNG states as plain tensors and numbers, for checkpoints.

Lightning does not store them, yet dropout draws from the global torch RNG, so a resumed run needs them to continue
exactly. Everything here survives ``torch.load(weights_only=True)`` (numpy's key array travels as a tensor).
"""

import random
from typing import Any

import numpy as np
import torch


def capture_rng_state() -> dict[str, Any]:
    """The current RNG states of torch (CPU and CUDA), numpy and Python's ``random``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        # this process's own device only: under DDP rank r draws from cuda:r, and device counts may differ on resume
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": pos,
            "has_gauss": has_gauss,
            "cached": cached,
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the RNG states captured by ``capture_rng_state``."""
    torch.set_rng_state(state["torch"])
    if isinstance(state["cuda"], torch.Tensor) and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached"],
        )
    )
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["internal"]), python_state["gauss"]))


def capture_rng_states_of_all_ranks() -> list[dict[str, Any]]:
    """Every rank's states, index = global rank; call on all ranks (Lightning dumps checkpoints on every rank)."""
    state = capture_rng_state()
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [state]
    states: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(states, state)
    return states


def restore_rng_state_of_rank(states: list[dict[str, Any]], rank: int) -> None:
    """Restore this rank's saved states; a run resumed on more ranks than it saved falls back to rank 0's."""
    restore_rng_state(states[rank] if rank < len(states) else states[0])
