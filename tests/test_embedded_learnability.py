"""Each generative embedded task is learnable: a small model trained through the real CLI beats a stated threshold.

The model is fitted for a bounded number of steps and tested from its last checkpoint, exactly as
`galoreplus fit` then `galoreplus test --ckpt_path last`; the assertion is on the family's key metric
(`datamodule.key_metric`). Thresholds sit at most at ~60 % of the lower of two observed seeds and far above the
score of an untrained model, so the tests are not flaky. Classification and data-to-text are in
test_embedded_tasks.py.
"""

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from lightning_helpers import run_config  # noqa: E402
from test_modules import fit_then_test  # noqa: E402


def learned_key_metric(
    kind: str,
    root: Path,
    steps: int,
    model: dict[str, Any],
    data: dict[str, Any],
    optimizer: dict[str, Any] | None = None,
    data_class: str | None = None,
    seed: int = 0,
) -> float:
    """Fit a `kind` run for `steps` optimizer steps without validation, test from `last`, return the key metric."""
    config = run_config(
        kind,
        root,
        optimizer={"name": "adamw", "lr": 3e-3} | (optimizer or {}),
        trainer={"max_steps": steps, "limit_val_batches": 0, "limit_test_batches": 1.0, "gradient_clip_val": 1.0},
        model=model,
        data={"batch_size": 32, "limit_train_samples": 2000, "limit_test_samples": 64, "seed": seed} | data,
        checkpoint_every=steps,
    )
    settings = yaml.safe_load(config.read_text())
    settings["seed_everything"] = seed
    if data_class is not None:
        settings["data"]["class_path"] = data_class
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    _, test = fit_then_test(config)
    return float(test.trainer.callback_metrics[f"test/{test.datamodule.key_metric}"])


T5 = {"model_type": "t5", "d_model": 64, "d_kv": 16, "d_ff": 128, "num_layers": 2, "num_heads": 4}


@pytest.mark.slow  # about 30 s on 2 cores
def test_translation_task_is_learnable(tmp_path):
    """A 2+2-layer T5 (width 64) with AdamW, 1000 steps: BLEU 53.1 (seed 1; seed 0 gave 18.7 already at 800
    steps), untrained 0.0; the threshold is ~55 % of the lower value."""
    bleu = learned_key_metric(
        "seq2seq",
        tmp_path,
        steps=1000,
        model={"model_config": T5, "max_new_tokens": 24},
        data={"vocab_size": 400, "max_length": 32, "max_target_length": 32},
        optimizer={"lr": 1e-2},
    )
    assert bleu > 10.0


@pytest.mark.slow  # about 40 s on 2 cores
def test_summarization_task_is_learnable(tmp_path):
    """A 2+2-layer T5 (width 64) with AdamW, 300 steps: ROUGE-L 0.50 (seed 1; seed 0 gave 0.46 at
    400 steps), untrained 0.0; the threshold is ~55 % of the lower value."""
    rouge_l = learned_key_metric(
        "seq2seq",
        tmp_path,
        steps=300,
        model={"model_config": T5, "max_new_tokens": 40},
        data={"vocab_size": 400, "max_length": 128, "max_target_length": 40},
        optimizer={"lr": 1e-2},
        data_class="datamodules.summarization.SummarizationDataModule",
    )
    assert rouge_l > 0.25


@pytest.mark.slow  # about 15 s on 2 cores
def test_captioning_task_is_learnable(tmp_path):
    """A 2-layer ViT with a 2-layer GPT-2 decoder (width 64), AdamW, 400 steps: CIDEr-D 1.30 / 1.48
    (seeds 0 / 1), untrained 0.0; the threshold is ~58 % of the lower value."""
    width = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128}
    decoder = {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4}
    cider = learned_key_metric(
        "captioning",
        tmp_path,
        steps=400,
        model={
            "model_config": {
                "encoder": {"model_type": "vit", "image_size": 32, "patch_size": 8, **width},
                "decoder": decoder | {"is_decoder": True, "add_cross_attention": True},
            },
            "max_new_tokens": 16,
        },
        data={"vocab_size": 300, "max_length": 32, "max_target_length": 24},
    )
    assert cider > 0.75
