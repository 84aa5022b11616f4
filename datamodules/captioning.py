"""Image captioning (COCO-format captions with images): an image in, a caption out; ranked by CIDEr-D."""

from datamodules.base import TaskDataModule
from datamodules.embedded import shapes
from datamodules.images import ImageTransform
from datamodules.metrics import CaptioningMetrics


class CaptioningDataModule(TaskDataModule):
    """Images become `pixel_values` (3, image_size, image_size); every caption of an image is a reference.

    Args:
        image_size: side of the square input image in pixels (tiny ViTs use 32; ViT-base 224).
        image_processor_path: a local image processor folder (a pretrained ViT's); None: Pillow resize and ViT's
            mean/std 0.5 normalisation at `image_size`.
        **kwargs: the source, tokenizer and loader settings of `TaskDataModule`.
    """

    task_kind = "captioning"
    key_metric = "cider"
    canonical_columns = ("image", "target")
    default_columns = {"image": "image", "target": "captions"}
    embedded_task = staticmethod(shapes.generate)

    def __init__(self, image_size: int = 32, image_processor_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.image_size, self.image_processor_path = image_size, image_processor_path
        self.embedded_options = {"image_size": image_size} | self.embedded_options

    def image_transform(self) -> ImageTransform:
        return ImageTransform(self.image_size, self.image_processor_path)

    def metric_suite(self) -> CaptioningMetrics:
        return CaptioningMetrics()
