"""The command line: every shipped config parses, config mistakes end in one clear line, subcommands dispatch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.cli import GaLorePlusCLI, main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
RUN_CONFIGS = sorted(CONFIGS.glob("*.yaml"))
MODEL_DATA = {
    "classification": "classification_embedded",
    "seq2seq": "translation_embedded",
    "causal_lm": "reasoning_embedded",
    "captioning": "captioning_embedded",
}
ON_CPU = ["--trainer.accelerator", "cpu", "--trainer.devices", "1"]


def parse(*configs: Path, extra: tuple[str, ...] = ()) -> GaLorePlusCLI:
    args = [arg for config in configs for arg in ("--config", str(config))]
    return GaLorePlusCLI(args=[*args, *extra], run=False)


def test_run_configs_are_shipped():
    assert {path.stem for path in RUN_CONFIGS} >= {f"{kind}_galore_plus" for kind in MODEL_DATA}


@pytest.mark.parametrize("config", RUN_CONFIGS, ids=lambda path: path.stem)
def test_each_run_config_parses(config):
    cli = parse(config)
    assert cli.model.optimizer_config.name == "galore_plus"
    assert cli.datamodule.task_kind == cli.model.task_kind


@pytest.mark.parametrize("kind", sorted(MODEL_DATA))
def test_each_model_config_parses_with_its_data(kind):
    cli = parse(CONFIGS / "model" / f"{kind}.yaml", CONFIGS / "data" / f"{MODEL_DATA[kind]}.yaml")
    assert cli.model.task_kind == kind


@pytest.mark.parametrize("name", ["adamw", "galore", "galore_plus", "lora"])
def test_each_optimizer_config_replaces_the_whole_block(name):
    cli = parse(CONFIGS / "seq2seq_galore_plus.yaml", CONFIGS / "optimizer" / f"{name}.yaml")
    assert cli.model.optimizer_config.name == name
    assert cli.model.optimizer_config.lr == 0.001


@pytest.mark.parametrize("preset", ["cpu_debug", "gpu", "ddp"])
def test_each_trainer_config_parses(preset):
    cli = parse(CONFIGS / "classification_galore_plus.yaml", CONFIGS / "trainer" / f"{preset}.yaml", extra=ON_CPU)
    assert cli.trainer.max_steps > 0


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (["--model.init_args.optimizer.rnak", "4"], "optimizer.rnak"),
        (["--model.init_args.optimizer.name", "galore_pluss"], "galore_pluss"),
        (["--model.init_args.optimizer.rank", "0"], "optimizer.rank=0"),
        (["--model.init_args.optimizer.svd_method", "svd"], "svd_method"),
        (["--model.init_args.schedule.decay", "cosin"], "cosin"),
        (["--model.init_args.name_or_path", "./no/such", "--model.init_args.model_config", "null"], "not found: ./no"),
        (["--trainer.max_steps", "0"], "max_steps=0 trains nothing"),
        (["--trainer.max_stesp", "3"], "max_stesp"),
    ],
)
def test_config_mistakes_exit_with_one_line(tmp_path, capsys, override, named):
    config = run_config("classification", tmp_path)
    with pytest.raises(SystemExit) as failed:
        main(["fit", "--config", str(config), *override])
    assert failed.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and named in err[0]
    assert "Namespace(" not in err[0]


def test_lora_rejects_galore_knobs(tmp_path, capsys):
    config = run_config("classification", tmp_path, optimizer={"name": "lora"})
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(config)])
    assert "does not read ['update_proj_gap']" in capsys.readouterr().err


def test_extra_subcommands_dispatch_lazily(monkeypatch):
    calls = []
    fake = type(sys)("fake_report")
    fake.main = calls.append
    monkeypatch.setitem(sys.modules, "lightning_modules.report", fake)
    main(["report", "runs/study", "--out", "x"])
    assert calls == [["runs/study", "--out", "x"]]


@pytest.mark.slow
def test_fit_then_test_as_a_user_runs_it(tmp_path):
    """The README's two commands in fresh processes: the console script and `python -m lightning_modules`."""
    config = run_config("classification", tmp_path)
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    script = Path(sys.executable).with_name("galoreplus")
    fit = subprocess.run([str(script), "fit", "--config", str(config)], capture_output=True, text=True, env=env)
    assert fit.returncode == 0, fit.stderr[-2000:]
    test = subprocess.run(
        [sys.executable, "-m", "lightning_modules", "test", "--config", str(config), "--ckpt_path", "last"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert test.returncode == 0, test.stderr[-2000:]
    assert "test/accuracy" in test.stdout


def test_a_checkpoint_of_another_model_is_refused_in_one_line(tmp_path, capsys):
    small = run_config("classification", tmp_path / "small", trainer={"max_steps": 2})
    GaLorePlusCLI(args=["fit", "--config", str(small)])
    checkpoint = torch.load(tmp_path / "small" / "checkpoints" / "last.ckpt", weights_only=True)
    seq2seq = run_config("seq2seq", tmp_path / "seq2seq")
    with pytest.raises(SystemExit):  # the checkpoint's hyperparameters name its own model class
        main(["test", "--config", str(seq2seq), "--ckpt_path", str(tmp_path / "small" / "checkpoints" / "last.ckpt")])
    assert "is a 'seq2seq' task but model SequenceClassificationModule" in capsys.readouterr().err
    del checkpoint["hyper_parameters"]  # a foreign checkpoint: only weights
    foreign = tmp_path / "foreign.ckpt"
    torch.save(checkpoint, foreign)
    wider = {"model_type": "bert", "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1}
    other = run_config("classification", tmp_path / "other", model={"model_config": wider})
    with pytest.raises(SystemExit):
        main(["test", "--config", str(other), "--ckpt_path", str(foreign)])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by another model" in err[0] and "shapes differ" in err[0]
