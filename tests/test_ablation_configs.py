"""Every shipped study expands to the runs it promises, and its runs' configs pass the real CLI's parser."""

import contextlib
import io
from pathlib import Path

import pytest

from lightning_modules.ablation_study import RunSpec, load_study

STUDIES = Path(__file__).resolve().parents[1] / "configs" / "ablations"
# file -> (variants, distinct runs); cross_head/full and svd_method/rsi-2 share their runs where both appear.
PROMISED = {
    "demo.yaml": (10, 9 * 2),
    "demo_full.yaml": (20, 9 * 2 * 3),
    "cross_head.yaml": (5, 5 * 3),
    "svd_method.yaml": (5, 5 * 3),
    "residual_density.yaml": (5, 5 * 3),
    "rank.yaml": (6, 6 * 3),
    "minilm_sst2.yaml": (10, 9 * 2),
    "paper_cross_head.yaml": (10, 10 * 3),
    "paper_svd_method.yaml": (10, 10 * 3),
    "paper_residual_density.yaml": (10, 10 * 3),
    "paper_rank.yaml": (8, 8 * 3),
}


def test_every_shipped_study_is_listed_here() -> None:
    assert sorted(p.name for p in STUDIES.glob("*.yaml")) == sorted(PROMISED)


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_shipped_study_expands_to_the_runs_it_promises(name: str, tmp_path: Path) -> None:
    study = load_study(STUDIES / name, out=tmp_path)
    assert (len(study.variants), len(study.runs)) == PROMISED[name]
    for variant in study.variants:
        assert sorted(variant.runs) == study.seeds


def parses(run: RunSpec, folder: Path) -> str:
    """The resolved config that ``galoreplus fit`` would run, through the real parser (nothing is built)."""
    from lightning_modules.cli import GaLorePlusCLI

    overrides = folder / f"{run.key}.yaml"
    overrides.write_text(run.overrides_yaml())
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as stop:
        GaLorePlusCLI(args=[*run.cli_args(overrides), "--print_config"], run=False)
    assert stop.value.code in (0, None), printed.getvalue()
    return printed.getvalue()


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_demo_runs_and_one_run_of_every_study_pass_the_cli_parser(tmp_path: Path) -> None:
    demo = load_study(STUDIES / "demo.yaml", out=tmp_path)
    for run in demo.runs[::2]:  # seed 0 of every distinct variant
        assert "class_path: lightning_modules.Seq2SeqModule" in parses(run, tmp_path)
    for name in sorted(PROMISED):
        assert "trainer:" in parses(load_study(STUDIES / name, out=tmp_path).runs[0], tmp_path)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")
def test_every_run_of_every_shipped_study_passes_the_cli_parser(tmp_path: Path) -> None:
    for name in sorted(PROMISED):
        for run in load_study(STUDIES / name, out=tmp_path).runs:
            parses(run, tmp_path)
