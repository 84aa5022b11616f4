"""`galoreplus export`: a checkpoint becomes a plain transformers folder (LoRA merged) that `from_pretrained` loads.

Every checkpoint carries what this needs under ``"export"`` (written by the module's ``on_save_checkpoint``): the
model's transformers class, its config as JSON, the tokenizer's files and the LoRA settings. All of it is strings,
bytes and plain dicts, so the checkpoint still loads with ``torch.load(weights_only=True)`` and no DataModule or
config file is needed to export.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch
import transformers
from torch import nn
from transformers import AutoConfig, PreTrainedTokenizerBase

from lightning_modules.lora import apply_lora, merge_lora

MODEL_PREFIX = "model."


def _tokenizer_files(tokenizer: PreTrainedTokenizerBase) -> dict[str, str | bytes]:
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        files = {}
        for path in Path(folder).iterdir():
            data = path.read_bytes()
            try:
                files[path.name] = data.decode("utf-8")
            except UnicodeDecodeError:
                files[path.name] = data
        return files


def export_payload(
    model: nn.Module, auto_class: str, tokenizer: PreTrainedTokenizerBase, lora: dict | None
) -> dict[str, Any]:
    """What a checkpoint carries so that ``export`` can rebuild the transformers model on its own."""
    return {
        "auto_class": auto_class,
        "config": model.config.to_json_string(use_diff=False),
        "tokenizer": _tokenizer_files(tokenizer),
        "lora": lora,
    }


def export_checkpoint(ckpt_path: str | Path, out: str | Path) -> Path:
    """Write the checkpoint's model (LoRA merged) and tokenizer to ``out`` with ``save_pretrained``."""
    ckpt_path, out = Path(ckpt_path), Path(out)
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"--ckpt_path: checkpoint not found: {ckpt_path}")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    payload = checkpoint.get("export")
    if not payload:
        raise ValueError(f"--ckpt_path: {ckpt_path} holds no export entry; it was not written by a galoreplus run")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder; give a new or existing folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out: cannot create {out}: {error.strerror}") from error
    (out / "config.json").write_text(payload["config"])
    config = AutoConfig.from_pretrained(out)
    model_class = getattr(transformers, payload["auto_class"])
    model = model_class.from_config(config) if hasattr(model_class, "from_config") else model_class(config)
    if payload["lora"]:
        model = apply_lora(model, payload["lora"])
    state = {k[len(MODEL_PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(MODEL_PREFIX)}
    model.load_state_dict(state)
    if payload["lora"]:
        model = merge_lora(model)
    model.save_pretrained(out)
    for name, data in payload["tokenizer"].items():
        target = out / name
        target.write_bytes(data) if isinstance(data, bytes) else target.write_text(data)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``galoreplus export --ckpt_path CKPT --out DIR``."""
    parser = argparse.ArgumentParser(prog="galoreplus export", description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by galoreplus fit")
    parser.add_argument("--out", required=True, help="the folder to write the transformers model and tokenizer to")
    args = parser.parse_args(argv)
    print(f"exported to {export_checkpoint(args.ckpt_path, args.out)}")
