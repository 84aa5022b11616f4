"""Image to `pixel_values`: Pillow + numpy resize and normalise (torchvision is not installed, by design).

The default matches ViT's preprocessing (resize to a square, scale to [0, 1], normalise with mean 0.5 and std 0.5).
A model's own image processor can be used instead by passing its folder (`AutoImageProcessor` falls back to the
Pillow-based processor when torchvision is absent).
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor

from datamodules.errors import require_file


class ImageTransform:
    """Callable that turns an image file path or an HxWx3 uint8 array into a float tensor of shape (3, size, size)."""

    def __init__(self, size: int = 32, processor_path: str | None = None) -> None:
        self.size = size
        self.processor = None
        if processor_path is not None:
            self.processor = AutoImageProcessor.from_pretrained(str(require_file(processor_path, "image processor")))

    def __call__(self, image: str | Path | np.ndarray) -> torch.Tensor:
        if isinstance(image, np.ndarray):
            array = image
        else:
            with Image.open(image) as opened:
                rgb = opened.convert("RGB")
                if self.processor is not None:
                    return self.processor(images=rgb, return_tensors="pt")["pixel_values"][0]
                array = np.asarray(rgb.resize((self.size, self.size), Image.Resampling.BILINEAR))
        if array.shape[:2] != (self.size, self.size):
            raise ValueError(f"image array has shape {array.shape}; expected ({self.size}, {self.size}, 3)")
        pixels = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (pixels - 0.5) / 0.5
