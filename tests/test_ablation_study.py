"""Study files: expansion into runs, shared runs, clear errors before anything runs, resume and the runner's parts."""

from pathlib import Path

import pytest
import yaml

from lightning_modules import ablation
from lightning_modules.ablation_runner import error_message, worker_environments
from lightning_modules.ablation_study import load_study
from lightning_modules.records import is_finished, read_record, record_path, write_json

OPT = "model.init_args.optimizer"


def write_study(folder: Path, study: dict, base: dict | None = None) -> Path:
    (folder / "base.yaml").write_text(yaml.safe_dump(base or {"model": {"init_args": {"optimizer": {"rank": 8}}}}))
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump({"base": ["base.yaml"], "out": str(folder / "out"), **study}, sort_keys=False))
    return path


def two_studies() -> dict:
    return {
        "seeds": [0, 1],
        "overrides": {f"{OPT}.svd_method": "rsi", f"{OPT}.svd_iters": 2, f"{OPT}.group_size": "all"},
        "studies": {
            "cross_head": {"variants": [{"label": "none", f"{OPT}.group_size": 1}, {"label": "full"}]},
            "svd_method": {
                "variants": [
                    {"label": "exact", f"{OPT}.svd_method": "exact"},
                    {"label": "rsi-2", f"{OPT}.svd_iters": 2},
                ]
            },
        },
    }


def test_variants_with_the_same_resolved_config_share_one_run(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, two_studies()))
    assert [(v.study, v.label) for v in study.variants] == [
        ("cross_head", "none"),
        ("cross_head", "full"),
        ("svd_method", "exact"),
        ("svd_method", "rsi-2"),
    ]
    full, rsi2 = study.variants[1], study.variants[3]
    assert full.runs[0].key == rsi2.runs[0].key and full.runs[1].key == rsi2.runs[1].key
    assert full.runs[0].key != full.runs[1].key  # the seed is part of the key
    assert len(study.runs) == 3 * 2
    assert study.labels_of(full.runs[0].key) == ["cross_head/full", "svd_method/rsi-2"]
    none = study.variants[0].runs[1]
    assert none.resolved["model"]["init_args"]["optimizer"] == {
        "rank": 8,
        "svd_method": "rsi",
        "svd_iters": 2,
        "group_size": 1,
        "seed": 1,
    }
    assert none.resolved["seed_everything"] == 1
    base, extra = tmp_path / "base.yaml", tmp_path / "o.yaml"
    assert none.cli_args(extra) == [f"--config={base}", f"--config={extra}"]
    overrides = yaml.safe_load(none.overrides_yaml())
    expected = {"svd_method": "rsi", "svd_iters": 2, "group_size": 1, "seed": 1}
    assert overrides["model"]["init_args"]["optimizer"] == expected
    assert overrides["seed_everything"] == 1


def test_duplicate_label_is_a_clear_error_before_anything_runs(tmp_path: Path, capsys) -> None:
    study = two_studies()
    study["studies"]["svd_method"]["variants"].append({"label": "exact", f"{OPT}.svd_iters": 4})
    path = write_study(tmp_path, study)
    with pytest.raises(ValueError, match=r"variants\[2\] repeats the label 'exact' of variants\[0\]"):
        load_study(path)
    assert ablation.ablate([str(path)]) == 2
    assert "repeats the label 'exact'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_output_folder_under_a_regular_file_is_a_clear_error(tmp_path: Path, capsys) -> None:
    path = write_study(tmp_path, two_studies())
    (tmp_path / "blocker").write_text("a file, not a folder")
    assert ablation.ablate([str(path), "--out", str(tmp_path / "blocker" / "study")]) == 2
    err = capsys.readouterr().err
    assert "cannot be created" in err and "blocker is a file" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [0, 0]}, "repeats a seed"),
        ({"colour": "red"}, r"unknown key\(s\) \['colour'\]"),
        ({"base": ["missing.yaml"]}, "'missing.yaml' not found"),
        ({"studies": {"s": {"variants": [{f"{OPT}.rank": 4}]}}}, r"variants\[0\] needs a non-empty string 'label'"),
        ({"overrides": {"trainer..max_steps": 3}}, "bad key 'trainer..max_steps'"),
        ({"overrides": {"x": {"call": "no_such_module.path"}}}, "cannot call 'no_such_module.path'"),
    ],
)
def test_bad_study_files_name_the_problem(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_study(write_study(tmp_path, {**two_studies(), **change}))


def test_call_values_resolve_when_the_study_is_read(tmp_path: Path) -> None:
    study = {"seeds": 1, "variants": [{"label": "a", "model.init_args.name_or_path": {"call": "os.getcwd"}}]}
    loaded = load_study(write_study(tmp_path, study))
    assert loaded.seeds == [0]
    assert loaded.variants[0].changes["model.init_args.name_or_path"] == str(Path.cwd())


def test_resume_skips_finished_runs_and_retries_failed_ones(tmp_path: Path, monkeypatch) -> None:
    study = load_study(write_study(tmp_path, two_studies()))
    finished, failed = study.runs[0].key, study.runs[1].key
    write_json(record_path(study.out, finished), {"status": "ok", "key": finished})
    write_json(record_path(study.out, failed), {"status": "failed", "key": failed})
    started = []
    monkeypatch.setattr(ablation, "run_all", lambda specs, out, envs, on_finish: started.extend(specs) or [])
    assert ablation.run_study(study, [{}]) == 0
    assert is_finished(study.out, finished) and not is_finished(study.out, failed)
    assert [run.key for run in started] == [run.key for run in study.runs[1:]]


def test_records_are_written_atomically_and_bad_ones_read_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "k" / "record.json"
    write_json(path, {"status": "ok", "value": 1.5})
    assert read_record(path) == {"status": "ok", "value": 1.5}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no temp file left behind
    path.write_text('{"status": "ok", "val')  # a torn write from elsewhere
    assert read_record(path) is None


def test_dry_run_lists_every_run_with_an_estimate(tmp_path: Path, capsys) -> None:
    study = two_studies()
    study.update(seconds_per_step=0.5, overrides={**study["overrides"], "trainer.max_steps": 20})
    path = write_study(tmp_path, study)
    assert ablation.ablate([str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("pending") == 6 and "20 s" in out  # 10 s start-up + 20 steps x 0.5 s
    assert "cross_head/full, svd_method/rsi-2" in out
    assert not (tmp_path / "out").exists()


def test_workers_get_their_own_gpus_or_a_share_of_the_threads() -> None:
    assert worker_environments(2, gpus=4, cpus=16) == [{"CUDA_VISIBLE_DEVICES": "0,1"}, {"CUDA_VISIBLE_DEVICES": "2,3"}]
    assert worker_environments(2, gpus=0, cpus=2)[1] == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with pytest.raises(ValueError, match="needs a GPU each but 2 are visible"):
        worker_environments(3, gpus=2, cpus=16)


def test_error_message_is_the_last_error_line_of_stderr() -> None:
    tail = "Traceback (most recent call last):\n  ...\nKeyError: 'x'\nerror: Parser key \"model\": no key svd_methd\n"
    assert error_message(tail, 2) == 'error: Parser key "model": no key svd_methd'
    assert error_message("", -9) == "the run was killed by signal SIGKILL"
