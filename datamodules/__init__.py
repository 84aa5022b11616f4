"""LightningDataModules per task family (classification, translation, summarization, captioning, reasoning,
data-to-text), the embedded offline tasks they fall back to, and the metric suites in `datamodules.metrics`."""
