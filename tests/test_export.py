"""`galoreplus export` writes a folder that plain transformers loads, giving the checkpoint's logits."""

import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402

from lightning_modules.cli import GaLorePlusCLI, main  # noqa: E402


def test_export_merges_lora_and_loads_in_transformers(tmp_path):
    config = run_config("causal_lm", tmp_path, optimizer={"name": "lora", "rank": 4, "update_proj_gap": None})
    cli = GaLorePlusCLI(args=["fit", "--config", str(config)])
    out = tmp_path / "exported"
    main(["export", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"), "--out", str(out)])

    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert len(tokenizer) == len(cli.datamodule.tokenizer)
    assert not any("lora" in name for name, _ in exported.named_parameters())
    ids = torch.tensor([tokenizer("Question: 2 + 3\nAnswer:")["input_ids"]])
    module = cli.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            exported(input_ids=ids).logits, module.model(input_ids=ids).logits, atol=1e-5, rtol=0
        )


def test_export_names_a_missing_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit) as failed:
        main(["export", "--ckpt_path", str(tmp_path / "nope.ckpt"), "--out", str(tmp_path / "out")])
    assert failed.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: --ckpt_path: checkpoint not found: {tmp_path / 'nope.ckpt'}"
