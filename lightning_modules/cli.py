"""The ``galoreplus`` command line: LightningCLI's ``fit/validate/test/predict`` plus ``export``, ``ablate``,
``report`` and ``analyze``.

Config mistakes (an unknown key, a bad value, a missing file) end with one line ``error: <what and how to fix>`` and
exit status 2 instead of a traceback (a non-finite gradient under ``on_nonfinite: raise`` likewise, with status 1);
``--debug`` (or ``GALOREPLUS_DEBUG=1``) re-raises for developers.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml
from lightning import LightningDataModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from lightning_modules.atomic_checkpoint_io import AtomicCheckpointIO
from lightning_modules.base import TransformerModule

# Subcommands outside LightningCLI, imported only when used: "module:function", each taking argv.
EXTRA_SUBCOMMANDS = {
    "export": "lightning_modules.export:main",
    "ablate": "lightning_modules.ablation:main",
    "report": "lightning_modules.report:main",
    "analyze": "lightning_modules.analyze:main",
}
CONFIG_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, MisconfigurationException)
TRAINING_ERRORS = (FloatingPointError,)  # a non-finite gradient with optimizer.on_nonfinite: raise
SHARDED_STRATEGIES = ("fsdp", "deepspeed")
DEBUG_FLAG = "--debug"


def debug_enabled() -> bool:
    return os.environ.get("GALOREPLUS_DEBUG") == "1"


def one_line(message: object) -> str:
    """Collapse a (jsonargparse) multi-line message into one line, keeping only the reasons of a union mismatch."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    if any(line.startswith("Does not validate against any of the Union subtypes") for line in lines):
        keys = [line for line in lines if line.startswith("Parser key")]
        reasons = [line[2:] for line in lines if line.startswith("- ") and "NoneType" not in line]
        given = [line for line in lines if line.startswith("Given value:") and "Namespace(" not in line]
        lines = keys + reasons + given if reasons else lines
    return " ".join(lines)


class OneLineErrorParser(LightningArgumentParser):
    """A parser whose errors are one line on stderr and exit status 2 (``--debug`` shows jsonargparse's own)."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if debug_enabled():
            super().error(message, ex)
        sys.stderr.write(f"error: {one_line(message)}\n")
        sys.exit(2)


class GaLorePlusCLI(LightningCLI):
    """LightningCLI with the optimizer section on the model, subclass mode for models and data, atomic checkpoints."""

    def __init__(self, args: Any = None, run: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("seed_everything_default", 0)
        super().__init__(
            model_class=TransformerModule,
            datamodule_class=LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,  # the model's optimizer section builds per-module param groups
            save_config_kwargs={"overwrite": True},
            parser_class=OneLineErrorParser,
            args=args,
            run=run,
            **kwargs,
        )

    def before_fit(self) -> None:
        if self.trainer.max_steps == 0:
            raise ValueError("trainer.max_steps=0 trains nothing; give a positive number, or -1 to use max_epochs")
        if self.trainer.accumulate_grad_batches < 1:
            raise ValueError(
                f"trainer.accumulate_grad_batches={self.trainer.accumulate_grad_batches} is invalid; expected a "
                "positive number of batches per optimizer step (1 = no accumulation)"
            )

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list) -> Trainer:
        refuse_sharded_strategy(config.get("strategy", "auto"))
        plugins = config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super()._instantiate_trainer(config, callbacks)


def refuse_sharded_strategy(strategy: Any) -> None:
    """FSDP and DeepSpeed shard each weight matrix and its gradient across ranks; GaLore+ projects whole matrices."""
    name = strategy if isinstance(strategy, str) else type(strategy).__name__
    if any(kind in name.lower() for kind in SHARDED_STRATEGIES):
        raise ValueError(
            f"trainer.strategy={name!r} is not supported yet: GaLore+ projects whole weight matrices, which FSDP and "
            "DeepSpeed shard across ranks; use strategy: ddp (one machine, or several with torchrun or SLURM)"
        )


def check_config_files(args: list[str]) -> None:
    """A ``--config`` file that is not YAML fails naming the file (jsonargparse names only the line and column)."""
    paths = [after for flag, after in zip(args, args[1:], strict=False) if flag == "--config"]
    paths += [arg.removeprefix("--config=") for arg in args if arg.startswith("--config=")]
    for path in map(Path, paths):
        if path.is_file():
            try:
                yaml.safe_load(path.read_text())
            except yaml.YAMLError as problem:
                raise ValueError(f"{path}: not valid YAML ({one_line(problem)}); fix the file") from None


def describe(error: Exception) -> str:
    """One line for a config error; a path through a regular file says so (the OS says only 'Not a directory')."""
    if isinstance(error, NotADirectoryError) and error.filename:
        return f"cannot use {error.filename}: a part of this path is a regular file, not a folder; choose another path"
    return one_line(error)


def _run(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    check_config_files(args)
    if args and args[0] in EXTRA_SUBCOMMANDS:
        module_name, function = EXTRA_SUBCOMMANDS[args[0]].split(":")
        getattr(importlib.import_module(module_name), function)(args[1:])
    else:
        GaLorePlusCLI(args=argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``galoreplus`` and ``python -m lightning_modules``."""
    source = sys.argv if argv is None else argv
    if DEBUG_FLAG in source:
        os.environ["GALOREPLUS_DEBUG"] = "1"  # also read by DDP children that re-run this command
        source[:] = [arg for arg in source if arg != DEBUG_FLAG]
    try:
        _run(argv)
    except CONFIG_ERRORS as error:
        if debug_enabled():
            raise
        sys.stderr.write(f"error: {describe(error)}\n")
        sys.exit(2)
    except TRAINING_ERRORS as error:
        if debug_enabled():
            raise
        sys.stderr.write(f"error: {one_line(error)}\n")
        sys.exit(1)
