"""Encoding of canonical rows into token ids, and collation into the batch dicts of docs/ARCHITECTURE.md.

One encoder and one collation rule per task kind:
- classification: `input_ids`, `attention_mask`, `labels` (int64);
- seq2seq: `input_ids`, `attention_mask`, `labels` (pad = -100), `references`;
- causal_lm: prompt + target + eos in `input_ids` with `labels` masked to -100 on the prompt and padding, plus the
  left-padded prompt alone (`prompt_input_ids`, `prompt_attention_mask`) for generation, `references`;
- captioning: `pixel_values`, `labels` (pad = -100), `references`.
Targets end with the eos token, so generation learns where to stop.
"""

from collections.abc import Callable

import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100
TASK_KINDS = ("classification", "seq2seq", "causal_lm", "captioning")


def encode(
    task_kind: str,
    row: dict,
    target: str | None,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int,
    max_target_length: int,
) -> dict:
    """One training or evaluation example; `target` is the reference trained on (None for classification)."""
    if task_kind == "classification":
        ids = tokenizer(row["prompt"], truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "label": row["label"]}
    if task_kind == "causal_lm":
        target = " " + target  # the answer follows the prompt's cue ("Answer:") after a space
    target_ids = _ids(tokenizer, target, max_target_length - 1) + [tokenizer.eos_token_id]
    example = {"labels": target_ids, "references": row["references"]}
    if task_kind == "captioning":
        return example | {"image": row["image"]}
    if task_kind == "seq2seq":
        return example | {"input_ids": _ids(tokenizer, row["prompt"], max_length)}
    if task_kind == "causal_lm":
        budget = max(1, max_length - len(target_ids))
        prompt_ids = _ids(tokenizer, row["prompt"], None)[-budget:]  # keep the end of the prompt: the cue to answer
        return example | {"input_ids": prompt_ids}
    raise ValueError(f"unknown task_kind {task_kind!r}; expected one of {TASK_KINDS}")


def _ids(tokenizer: PreTrainedTokenizerBase, text: str, max_length: int | None) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids if max_length is None else ids[:max_length]


class ExampleDataset(Dataset):
    """Encoded examples in memory; images are read and transformed when an example is fetched."""

    def __init__(self, examples: list[dict], image_transform: Callable | None = None) -> None:
        self.examples = examples
        self.image_transform = image_transform

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        example = self.examples[index]
        if "image" in example:
            example = example | {"pixel_values": self.image_transform(example["image"])}
        return example


class Collator:
    """Pads a list of examples into the batch dict for `task_kind` (a class, so DataLoader workers can pickle it)."""

    def __init__(self, task_kind: str, pad_token_id: int) -> None:
        if task_kind not in TASK_KINDS:
            raise ValueError(f"unknown task_kind {task_kind!r}; expected one of {TASK_KINDS}")
        self.task_kind = task_kind
        self.pad_token_id = pad_token_id

    def __call__(self, examples: list[dict]) -> dict:
        if self.task_kind == "classification":
            ids, mask = _pad([e["input_ids"] for e in examples], self.pad_token_id)
            labels = torch.tensor([e["label"] for e in examples], dtype=torch.long)
            return {"input_ids": ids, "attention_mask": mask, "labels": labels}
        references = [e["references"] for e in examples]
        if self.task_kind == "captioning":
            labels, _ = _pad([e["labels"] for e in examples], IGNORE_INDEX)
            pixels = torch.stack([e["pixel_values"] for e in examples])
            return {"pixel_values": pixels, "labels": labels, "references": references}
        if self.task_kind == "seq2seq":
            ids, mask = _pad([e["input_ids"] for e in examples], self.pad_token_id)
            labels, _ = _pad([e["labels"] for e in examples], IGNORE_INDEX)
            return {"input_ids": ids, "attention_mask": mask, "labels": labels, "references": references}
        full = [e["input_ids"] + e["labels"] for e in examples]
        masked = [[IGNORE_INDEX] * len(e["input_ids"]) + e["labels"] for e in examples]
        ids, mask = _pad(full, self.pad_token_id)
        labels, _ = _pad(masked, IGNORE_INDEX)
        prompt_ids, prompt_mask = _pad([e["input_ids"] for e in examples], self.pad_token_id, left=True)
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "prompt_input_ids": prompt_ids,
            "prompt_attention_mask": prompt_mask,
            "references": references,
        }


def _pad(sequences: list[list[int]], value: int, left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad to the longest sequence; returns the int64 ids and the 0/1 attention mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), value, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        span = slice(width - len(sequence), width) if left else slice(0, len(sequence))
        ids[row, span] = torch.tensor(sequence, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask
