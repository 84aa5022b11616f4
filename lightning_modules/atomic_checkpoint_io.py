"""Checkpoint writes that a crash cannot tear: write a temp file beside the target, fsync, then ``os.replace``.

Lightning's own writer goes through an fsspec transaction whose temp file lives in the system temp folder; when that
is another filesystem (a tmpfs /tmp, the usual case) the final move is a copy, and a kill during it leaves a
half-written ``last.ckpt``. A rename within one folder is atomic, so the last good checkpoint always survives.
"""

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from typing_extensions import override


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with an atomic local write (remote URLs keep Lightning's own path)."""

    @override
    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            with open(temp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
