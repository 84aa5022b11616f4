"""A catalogue of bad inputs through the real ``galoreplus`` command: each ends with exit status non-zero and one line
``error: ...`` that names the problem (and how to fix it), never a traceback, and leaves an earlier run untouched.

Most cases share one Python process (tests/cli_catalogue.py calls the console script's ``main`` per case); a few
run as their own process, exactly as a user starts them.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from cli_runs import REPO_ROOT, TESTS, cli_environment, run_galoreplus  # noqa: E402
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.cli import GaLorePlusCLI  # noqa: E402

pytestmark = pytest.mark.slow

OPT = "--model.init_args.optimizer."
DATA = "--data.init_args."
NO_SUCH = "/no/such"


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def files(train: str) -> list[str]:
    """Local data files for the classification task (validation and test carved from train)."""
    return [f"{DATA}files", json.dumps({"train": train})]


def with_paths_under(config: Path, folder: Path, target: Path) -> str:
    """A copy of ``config`` whose log and checkpoint folders sit under ``target`` (e.g. below a regular file)."""
    settings = yaml.safe_load(config.read_text())
    settings["trainer"]["logger"]["init_args"]["save_dir"] = str(target / "runs")
    for callback in settings["trainer"]["callbacks"]:
        if isinstance(callback, dict) and "dirpath" in callback.get("init_args", {}):
            callback["init_args"]["dirpath"] = str(target / "checkpoints")
    return write(folder / "unwritable.yaml", yaml.safe_dump(settings, sort_keys=False))


def study(folder: Path, name: str, text: str) -> str:
    return write(folder / f"{name}.yaml", text)


def foreign_checkpoint(folder: Path) -> str:
    """A checkpoint of a narrower BERT, stripped of its hyperparameters (as a checkpoint from elsewhere would be)."""
    narrow = {"model_type": "bert", "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1}
    config = run_config("classification", folder, model={"model_config": narrow}, trainer={"max_steps": 1})
    GaLorePlusCLI(args=["fit", "--config", str(config)])
    checkpoint = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
    del checkpoint["hyper_parameters"]
    path = folder / "foreign.ckpt"
    torch.save(checkpoint, path)
    return str(path)


def catalogue(root: Path, good: Path, foreign: bool = True) -> dict[str, tuple[list[str], str]]:
    """case id -> (argv, a fragment the error line must contain); ``foreign=False`` skips the case that first trains
    a model of another shape."""
    fit = ["fit", "--config", str(good)]
    bad = root / "inputs"
    blocker = Path(write(bad / "a_regular_file", "not a folder"))
    row = {"sentence": "a fine film", "label": 1}
    captioning = run_config("captioning", bad / "captioning")
    coco = {"images": [{"id": 1, "file_name": "missing.jpg"}], "annotations": [{"image_id": 1, "caption": "a cat"}]}
    write(bad / "coco" / "images" / "README", "the folder exists, the image does not")
    coco_file = write(bad / "coco" / "captions.json", json.dumps(coco))
    variants = "variants:\n  - {label: rsi}\n  - {label: rsi, model.init_args.optimizer.svd_method: exact}\n"
    tiny_study = f"out: {root / 'study_out'}\nseeds: [0]\nbase: [{good}]\n"
    cases = {
        "unknown optimizer key": ([*fit, f"{OPT}rnak", "4"], "rnak"),
        "unknown trainer key": ([*fit, "--trainer.max_stesp", "3"], "max_stesp"),
        "unknown section in a config file": (
            [*fit, "--config", write(bad / "section.yaml", "modle: {rank: 4}\n")],
            "modle",
        ),
        "misspelled preset": ([*fit, f"{OPT}name", "galore_pluss"], "galore_pluss"),
        "rank zero": ([*fit, f"{OPT}rank", "0"], "rank=0"),
        "negative rank": ([*fit, f"{OPT}rank", "-2"], "rank=-2"),
        "rank larger than the matrix": ([*fit, f"{OPT}rank", "1000"], "rank"),
        "group size not dividing the heads": ([*fit, f"{OPT}group_size", "3"], "group_size"),
        "density above one": ([*fit, f"{OPT}residual_density", "1.5"], "residual_density"),
        "negative density": ([*fit, f"{OPT}residual_density", "-0.1"], "residual_density"),
        "target modules matching nothing": ([*fit, f"{OPT}target_modules", '["nope"]'], "nope"),
        "unknown svd method": ([*fit, f"{OPT}svd_method", "svd"], "svd_method"),
        "negative learning rate": ([*fit, f"{OPT}lr", "-1"], "lr=-1"),
        "lora with galore knobs": ([*fit, f"{OPT}name", "lora"], "does not read"),
        "misspelled schedule": ([*fit, "--model.init_args.schedule.decay", "cosin"], "cosin"),
        "misspelled model class": ([*fit, "--model", "lightning_modules.SequenceClassificationModul"], "Modul"),
        "model folder not found": (
            [*fit, "--model.init_args.name_or_path", f".{NO_SUCH}", "--model.init_args.model_config", "null"],
            "not found",
        ),
        "data of another task kind": ([*fit, "--data", "datamodules.translation.TranslationDataModule"], "task"),
        "missing data file": ([*fit, *files(f"{NO_SUCH}/train.jsonl")], "not found"),
        "unknown split": ([*fit, f"{DATA}files", json.dumps({"training": "x.jsonl"})], "training"),
        "wrong column": (
            [*fit, *files(write(bad / "columns.jsonl", jsonl([{"text": "a fine film", "label": 1}] * 4)))],
            "missing column",
        ),
        "empty split": ([*fit, *files(write(bad / "empty.jsonl", ""))], "empty"),
        "malformed JSON line": (
            [*fit, *files(write(bad / "malformed.jsonl", jsonl([row]) + '{"sentence": "oops",\n' + jsonl([row])))],
            "line 2",
        ),
        "image path missing": (
            [
                "fit",
                "--config",
                str(captioning),
                f"{DATA}files",
                json.dumps({"train": {"annotations": coco_file, "images": str(bad / "coco" / "images")}}),
            ],
            "missing.jpg",
        ),
        "tokenizer path missing": ([*fit, f"{DATA}tokenizer_path", f"{NO_SUCH}/tokenizer"], "tokenizer"),
        "max_steps 0": ([*fit, "--trainer.max_steps", "0"], "max_steps=0"),
        "config file missing": (["fit", "--config", f"{NO_SUCH}.yaml"], NO_SUCH),
        "config file not YAML": (
            ["fit", "--config", write(bad / "broken.yaml", "trainer: [unclosed\n")],
            "broken.yaml",
        ),
        "checkpoint missing": ([*fit, "--ckpt_path", f"{NO_SUCH}.ckpt"], NO_SUCH),
        "output path below a regular file": (["fit", "--config", with_paths_under(good, bad, blocker)], "a_regular"),
        "fsdp": ([*fit, "--trainer.strategy", "fsdp"], "not supported yet"),
        "deepspeed": ([*fit, "--trainer.strategy", "deepspeed_stage_2"], "not supported yet"),
        "accumulation of zero batches": ([*fit, "--trainer.accumulate_grad_batches", "0"], "accumulate_grad_batches"),
        "export of a missing checkpoint": (
            ["export", "--ckpt_path", f"{NO_SUCH}.ckpt", "--out", str(root / "x")],
            NO_SUCH,
        ),
        "ablation with a duplicate label": (["ablate", study(bad, "duplicate", tiny_study + variants)], "rsi"),
        "ablation study missing": (["ablate", f"{NO_SUCH}/study.yaml"], NO_SUCH),
        "ablation output below a regular file": (
            [
                "ablate",
                study(bad, "blocked", tiny_study + "variants:\n  - {label: rsi}\n"),
                "--out",
                str(blocker / "out"),
            ],
            "a_regular",
        ),
    }
    if foreign:
        checkpoint = foreign_checkpoint(root / "foreign")
        cases["checkpoint of another model"] = ([*fit, "--ckpt_path", checkpoint], "written by another model")
    return cases


def is_one_clear_line(code: int | str | None, stderr: str, fragment: str) -> bool:
    """Exit status non-zero, no traceback, exactly one error line, and it names the problem."""
    errors = [line for line in stderr.splitlines() if "error:" in line]
    failed = code not in (0, None, "uncaught")
    return failed and "Traceback" not in stderr and len(errors) == 1 and fragment in errors[0]


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_bad_inputs_end_in_one_clear_line(tmp_path):
    good = run_config("classification", tmp_path / "run", trainer={"max_steps": 2})
    GaLorePlusCLI(args=["fit", "--config", str(good)])  # an earlier, good run that no bad input may touch
    before = snapshot(tmp_path / "run")
    cases = catalogue(tmp_path, good)
    (tmp_path / "cases.json").write_text(json.dumps({case: argv for case, (argv, _) in cases.items()}))
    driver = subprocess.run(
        [sys.executable, str(TESTS / "cli_catalogue.py"), str(tmp_path / "cases.json"), str(tmp_path / "results.json")],
        cwd=REPO_ROOT,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    failures = [
        f"{case}: exit {results[case]['code']}: {results[case]['stderr'].strip()[-600:]}"
        for case, (_, fragment) in cases.items()
        if not is_one_clear_line(results[case]["code"], results[case]["stderr"], fragment)
    ]
    assert not failures, "\n".join(failures)
    after = snapshot(tmp_path / "run")
    assert {name: after[name] for name in before} == before  # the earlier run's files are unchanged
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == sorted(
        Path(name).name for name in before if name.startswith("checkpoints")
    )


@pytest.mark.parametrize(
    "case",
    [
        "unknown optimizer key",
        "malformed JSON line",
        "output path below a regular file",
        "ablation with a duplicate label",
    ],
)
def test_bad_inputs_in_their_own_process(tmp_path, case):
    """The same messages when the console script runs as its own process: parsing, data loading, run folders, ablate."""
    good = run_config("classification", tmp_path / "run", trainer={"max_steps": 2})
    argv, fragment = catalogue(tmp_path, good, foreign=False)[case]
    result = run_galoreplus(*argv)
    assert is_one_clear_line(result.returncode, result.stderr, fragment), result.stderr[-3000:]
    assert not (tmp_path / "run" / "checkpoints").exists()
