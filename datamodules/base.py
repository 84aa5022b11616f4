"""The one LightningDataModule that every task family specialises: sources, splits, tokenizer, encoding, loaders.

A family module only states its task kind, key metric, metric suite, canonical columns and embedded task. Rows are
read from one of three sources, mapped to canonical columns (`text`/`label` for classification, `source`/`target`
for text generation, `image`/`target` for captioning), given missing validation/test splits carved
deterministically from train, cut to the sample limits, tokenized and collated into the batch contract of
docs/ARCHITECTURE.md.
"""

from collections.abc import Callable

from lightning import LightningDataModule
from transformers import PreTrainedTokenizerBase

from datamodules.batching import Collator, ExampleDataset, encode
from datamodules.errors import require_columns, require_rows
from datamodules.sources import SPLITS, carve_splits, read_file, read_hub
from datamodules.stateful_sampler import ResumableDataLoader
from datamodules.tokenizer import load_tokenizer, train_tokenizer

EMBEDDED_SIZES = {"train": 2000, "validation": 200, "test": 200}


class TaskDataModule(LightningDataModule):
    """Data for one task family from a Hugging Face dataset, local files, or the family's embedded offline task.

    Args:
        dataset: a Hugging Face hub id (needs the network) or a folder written by `Dataset(Dict).save_to_disk`.
        dataset_config: the hub configuration name (GSM8K: `main`).
        files: local files per split, e.g. `{train: a.jsonl, test: b.jsonl}`. A value is a path (`.jsonl`, `.json`,
            `.csv`, `.tsv`, `.parquet`, COCO captions `.json`) or a dict of parallel files `{column: path}` (`.gz`
            or plain text, one row per line), or `{annotations: captions.json, images: folder}` for COCO.
            With neither `dataset` nor `files`, the embedded offline task is generated.
        splits: our split name -> the source's split name (hub and save_to_disk only). Splits left out are carved.
        columns: canonical column -> source column (default: the family's usual names, e.g. GSM8K's
            question/answer). `target` may name several columns (multi-reference, DialogSum test summary1..3).
        delimiter: CSV/TSV field separator; default `,` for .csv and tab for .tsv.
        quoting: Python csv quoting mode; 3 (QUOTE_NONE) keeps quotes as text, which SST-2 and AG News need.
        column_names: header for CSV/TSV files that have none (AG News).
        val_fraction: share of train carved off as validation where the source has no validation split.
        test_fraction: share of train carved off as test where the source has no test split.
        seed: seed of the carving and of the embedded task.
        embedded_options: keyword arguments of the family's embedded task generator (its difficulty knobs).
        prompt_template: how a row becomes the model input, formatted with the canonical columns.
        group_references: merge rows with the same source into one multi-reference row (E2E: one row per MR).
        tokenizer_path: a local tokenizer folder (a model's own, or GPT-2 vocab.json + merges.txt). None trains a
            byte-level BPE on the training text.
        vocab_size: vocabulary size of the trained BPE.
        cache_dir: where trained tokenizers are cached; None uses $XDG_CACHE_HOME/galoreplus/tokenizers.
        max_length: maximum input tokens (text, source or prompt plus target for causal_lm).
        max_target_length: maximum target tokens, eos included.
        batch_size: examples per batch.
        num_workers: DataLoader worker processes.
        limit_train_samples / limit_val_samples / limit_test_samples: keep only the first N rows of a split (None:
            all; for the embedded task, how many to generate).
    """

    task_kind: str = ""
    key_metric: str = ""
    canonical_columns: tuple[str, ...] = ("source", "target")
    default_columns: dict[str, str | list[str]] = {}
    default_prompt_template: str = "{source}"

    def __init__(
        self,
        dataset: str | None = None,
        dataset_config: str | None = None,
        files: dict[str, str | dict[str, str]] | None = None,
        splits: dict[str, str] | None = None,
        columns: dict[str, str | list[str]] | None = None,
        delimiter: str | None = None,
        quoting: int = 0,
        column_names: list[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        embedded_options: dict | None = None,
        prompt_template: str | None = None,
        group_references: bool = False,
        tokenizer_path: str | None = None,
        vocab_size: int = 2000,
        cache_dir: str | None = None,
        max_length: int = 128,
        max_target_length: int = 64,
        batch_size: int = 16,
        num_workers: int = 0,
        limit_train_samples: int | None = None,
        limit_val_samples: int | None = None,
        limit_test_samples: int | None = None,
    ) -> None:
        super().__init__()
        if dataset is not None and files is not None:
            raise ValueError("give either `dataset` (hub id or save_to_disk folder) or `files`, not both")
        unknown = set(files or {}) - set(SPLITS)
        if unknown:
            raise ValueError(f"files: unknown split(s) {sorted(unknown)}; expected keys among {SPLITS}")
        self.dataset, self.dataset_config, self.files = dataset, dataset_config, files
        self.splits = splits or {split: split for split in SPLITS}
        self.columns = self.default_columns | (columns or {})
        self.csv_options = {"delimiter": delimiter, "quoting": quoting, "column_names": column_names}
        self.carve_fractions = {"validation": val_fraction, "test": test_fraction}
        self.seed = seed
        self.embedded_options = embedded_options or {}
        self.prompt_template = prompt_template or self.default_prompt_template
        self.group_references = group_references
        self.tokenizer_path, self.vocab_size, self.cache_dir = tokenizer_path, vocab_size, cache_dir
        self.max_length, self.max_target_length = max_length, max_target_length
        self.batch_size, self.num_workers = batch_size, num_workers
        self.limits = {"train": limit_train_samples, "validation": limit_val_samples, "test": limit_test_samples}
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self.rows: dict[str, list[dict]] = {}
        self.data: dict[str, ExampleDataset] = {}

    # --- what a family states --------------------------------------------------------------------------------
    @staticmethod
    def embedded_task(split: str, size: int, seed: int, **options) -> list[dict]:
        """Canonical rows of the family's offline task; `size` rows, deterministic in (split, seed, options)."""
        raise NotImplementedError

    def metric_suite(self):
        """A fresh torchmetrics Metric for this family (see datamodules.metrics)."""
        raise NotImplementedError

    def image_transform(self) -> Callable | None:
        """Turns an example's `image` into `pixel_values`; only captioning has one."""
        return None

    def finish_rows(self, rows: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """A family's last pass over the canonical rows of all splits (classification maps label names to ids)."""
        return rows

    # --- loading ---------------------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        """Load, carve, limit, tokenize; runs once, whatever the stage, so every stage sees the same data."""
        if self.tokenizer is not None:
            return
        self.rows = self.finish_rows(self._load_rows())
        self.tokenizer = self._build_tokenizer()
        self.data = {split: ExampleDataset(self._encode(split), self.image_transform()) for split in SPLITS}

    def _where(self) -> str:
        if self.files is not None:
            return "files " + ", ".join(f"{split}: {spec}" for split, spec in self.files.items())
        return f"dataset {self.dataset!r}" if self.dataset is not None else f"embedded {type(self).__name__} task"

    def _load_rows(self) -> dict[str, list[dict]]:
        if self.dataset is None and self.files is None:
            sizes = {split: self.limits[split] or EMBEDDED_SIZES[split] for split in SPLITS}
            rows = {
                split: self.embedded_task(split, sizes[split], self.seed, **self.embedded_options) for split in SPLITS
            }
        else:
            rows = {}
            for split in SPLITS:
                raw = self._read_split(split)
                if raw is not None:
                    where = f"{self._where()} ({split} split)"
                    rows[split] = self._canonical(require_rows(raw, split, where), where)
            if "train" not in rows:
                raise ValueError(f"{self._where()}: no train split; give `files.train` or `splits.train`")
            missing = {split: self.carve_fractions[split] for split in ("validation", "test") if split not in rows}
            if missing:
                rows |= carve_splits(rows.pop("train"), missing, self.seed)
        where = self._where()
        return {split: require_rows(rows[split][: self.limits[split]], split, where) for split in SPLITS}

    def _read_split(self, split: str) -> list[dict] | None:
        if self.files is not None:
            return read_file(self.files[split], **self.csv_options) if split in self.files else None
        if split not in self.splits:
            return None
        return read_hub(self.dataset, self.dataset_config, self.splits[split])

    def _canonical(self, raw: list[dict], where: str) -> list[dict]:
        """Rename source columns to canonical ones; `target` becomes `references`, a list of strings.

        A nested field is named with a dot (WMT on the hub: `translation.de`).
        """
        sources = {name: self.columns.get(name, name) for name in self.canonical_columns}
        sources = {name: [column] if isinstance(column, str) else list(column) for name, column in sources.items()}
        rows, by_source = [], {}
        for number, row in enumerate(raw, start=1):
            row = row | {
                f"{key}.{inner}": v
                for key, value in row.items()
                if isinstance(value, dict)
                for inner, v in value.items()
            }
            require_columns(row, [c for columns in sources.values() for c in columns], f"{where}, row {number}")
            out = {name: row[columns[0]] for name, columns in sources.items() if name != "target"}
            if "target" in sources:
                values = [row[column] for column in sources["target"]]
                out["references"] = [
                    str(v) for value in values for v in (value if isinstance(value, list) else [value])
                ]
            if self.group_references and out["source"] in by_source:
                by_source[out["source"]]["references"] += out["references"]
                continue
            by_source[out.get("source")] = out
            rows.append(out)
        return rows

    # --- tokenizing ------------------------------------------------------------------------------------------
    def _build_tokenizer(self) -> PreTrainedTokenizerBase:
        if self.tokenizer_path is not None:
            return load_tokenizer(self.tokenizer_path)
        texts = []
        for row in self.rows["train"]:
            if "image" not in row:
                texts.append(self._prompt(row))
            texts.extend(row.get("references", []))
        return train_tokenizer(texts, self.vocab_size, self.cache_dir)

    def _prompt(self, row: dict) -> str:
        try:
            return self.prompt_template.format(**row)
        except KeyError as error:
            raise ValueError(
                f"prompt_template {self.prompt_template!r} names {error}, which is not among the "
                f"canonical columns {sorted(row)}"
            ) from None

    def _encode(self, split: str) -> list[dict]:
        """Train: one example per reference; validation/test: one per row, trained on its first reference."""
        examples = []
        for row in self.rows[split]:
            if "image" not in row:
                row = row | {"prompt": self._prompt(row)}
            if self.task_kind == "classification":
                examples.append(encode(self.task_kind, row, None, self.tokenizer, self.max_length, 0))
                continue
            targets = row["references"] if split == "train" else row["references"][:1]
            for target in targets:
                examples.append(
                    encode(self.task_kind, row, target, self.tokenizer, self.max_length, self.max_target_length)
                )
        return examples

    # --- loaders ---------------------------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool) -> ResumableDataLoader:
        if not self.data:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for data loaders")
        return ResumableDataLoader(
            self.data[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            num_workers=self.num_workers,
            collate_fn=Collator(self.task_kind, self.tokenizer.pad_token_id),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> ResumableDataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> ResumableDataLoader:
        return self._loader("validation", shuffle=False)

    def test_dataloader(self) -> ResumableDataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> ResumableDataLoader:
        return self._loader("test", shuffle=False)
