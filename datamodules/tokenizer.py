"""Tokenizers: a model's own (a local folder), the GPT-2 BPE files, or a byte-level BPE trained on the task's text.

Every tokenizer returned has pad, bos and eos tokens, because collation pads and the generation tasks end targets
with eos. Trained tokenizers are cached on disk under a hash of their training text and vocabulary size, so every
run (and every DDP rank) on the same data gets the same ids.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from transformers import AutoTokenizer, GPT2Tokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from datamodules.errors import require_file

SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def default_cache_dir() -> Path:
    """Where trained tokenizers live unless a config says otherwise: $XDG_CACHE_HOME/galoreplus (~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "galoreplus" / "tokenizers"


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """A tokenizer from a local folder: a saved transformers tokenizer, or bare GPT-2 `vocab.json` + `merges.txt`."""
    folder = require_file(path, "tokenizer folder")
    if (folder / "tokenizer.json").exists() or (folder / "tokenizer_config.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    elif (folder / "vocab.json").exists() and (folder / "merges.txt").exists():
        # GPT2TokenizerFast(vocab_file=...) silently builds a 1-token tokenizer in transformers 5
        tokenizer = GPT2Tokenizer.from_pretrained(str(folder))
    else:
        raise FileNotFoundError(
            f"{folder}: no tokenizer files; expected tokenizer.json / tokenizer_config.json "
            "(a saved transformers tokenizer) or vocab.json + merges.txt (GPT-2 BPE)"
        )
    return with_special_tokens(tokenizer)


def with_special_tokens(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Fill in pad/bos/eos from the tokens a tokenizer already has (BERT: [SEP]/[CLS]; GPT-2: <|endoftext|>)."""
    if tokenizer.eos_token is None:
        tokenizer.eos_token = tokenizer.sep_token or tokenizer.pad_token
    if tokenizer.bos_token is None:
        tokenizer.bos_token = tokenizer.cls_token or tokenizer.eos_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token is None:
        raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no eos, sep or pad token to end sequences with")
    return tokenizer


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, cache_dir: str | Path | None = None
) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on `texts`, loaded from the cache when the same text was seen before."""
    texts = list(texts)
    digest = hashlib.sha256(f"{vocab_size}\0".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    folder = Path(cache_dir or default_cache_dir()) / f"bpe-{vocab_size}-{digest.hexdigest()[:16]}"
    if not (folder / "tokenizer.json").exists():
        _train_into(folder, texts, vocab_size)
    return PreTrainedTokenizerFast.from_pretrained(str(folder))


def _train_into(folder: Path, texts: list[str], vocab_size: int) -> None:
    """Train, then move the saved files into place in one rename so concurrent ranks never read a half-written one."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS.values()), show_progress=False
    )
    wrapped = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, **SPECIAL_TOKENS)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".staging-"))
    wrapped.save_pretrained(str(staging))
    try:
        staging.rename(folder)
    except OSError:  # another process finished first; its files are identical
        shutil.rmtree(staging, ignore_errors=True)
