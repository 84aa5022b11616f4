"""Cross-head projection: the GaLore special case, per-head bases, seeded head draws, real architectures."""

import pytest
import torch
from torch import nn

from galoreplus import GaLorePlusAdamW, param_groups
from galoreplus.layout import build_layout
from galoreplus.settings import fill_and_check_low_rank


class Attention(nn.Module):
    """LLaMA-style names with GQA: 4 query heads and 2 key/value heads of 16."""

    def __init__(self) -> None:
        super().__init__()
        self.config = type("Config", (), {"model_type": "llama", "num_attention_heads": 4, "num_key_value_heads": 2})()
        self.q_proj = nn.Linear(64, 64, bias=False)
        self.k_proj = nn.Linear(64, 32, bias=False)
        self.o_proj = nn.Linear(64, 64, bias=False)

    def forward(self, x):
        return self.o_proj(self.q_proj(x) * self.k_proj(x).repeat(1, 2)).pow(2).mean()


def _run(model, steps=6, **settings):
    seed = settings.pop("seed", 0)
    optimizer = GaLorePlusAdamW(param_groups(model, **settings), lr=1e-2, seed=seed)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(16, 64, generator=gen)).backward()
        optimizer.step()
    return optimizer


@pytest.mark.parametrize(("proj_type", "steps"), [("right", 6), ("left", 3)])
def test_all_stacked_model_dim_equals_vanilla_galore_on_the_same_side(proj_type, steps):
    """q/k/v share their input (right) side; the output projection shares its output (left) side.

    For q the two paths run the same kernels: equal bitwise across two refreshes. For o the cross-head path multiplies
    the transposed view, a 1-ulp different GEMM; an fp32 SVD's signs jump on such a difference at the next refresh,
    so o is compared over one refresh window.
    """
    torch.manual_seed(0)
    cross, vanilla = Attention(), Attention()
    vanilla.load_state_dict(cross.state_dict())
    target = ["q_proj"] if proj_type == "right" else ["o_proj"]
    common = {"rank": 8, "update_proj_gap": 3, "svd_method": "exact", "target_modules": target}
    _run(cross, steps, preset="galore_plus", group_size="all", basis_from="stacked", residual_density=0.0, **common)
    _run(vanilla, steps, preset="galore", proj_type=proj_type, **common)
    for a, b in zip(cross.parameters(), vanilla.parameters(), strict=True):
        if proj_type == "right":
            assert torch.equal(a, b)
        else:
            torch.testing.assert_close(a, b, atol=1e-7, rtol=0)


def test_group_size_one_gives_each_head_its_own_basis():
    model = Attention()
    optimizer = _run(
        model,
        steps=1,
        preset="galore_plus",
        group_size=1,
        basis_from="stacked",
        svd_method="exact",
        rank=4,
        target_modules=["q_proj"],
    )
    basis = optimizer.state[model.q_proj.weight]["right_basis"]
    assert basis.shape == (4, 64, 4)
    grad_blocks = model.q_proj.weight.grad.reshape(4, 16, 64)
    for head in range(4):
        expected = torch.linalg.svd(grad_blocks[head], full_matrices=False)[2][:4].mT
        torch.testing.assert_close(basis[head].abs(), expected.abs(), atol=1e-5, rtol=0)


def test_head_draws_repeat_for_a_seed_and_differ_for_another():
    def draws(seed):
        model = Attention()
        optimizer = _run(
            model,
            steps=7,
            seed=seed,
            preset="galore_plus",
            group_size=1,
            rank=4,
            update_proj_gap=1,
            target_modules=["q_proj"],
            residual_density=0.0,
        )
        return optimizer.state[model.q_proj.weight]["head_ids"], optimizer.state[model.q_proj.weight]["right_basis"]

    torch.manual_seed(0)
    first = draws(1)
    torch.manual_seed(0)
    again = draws(1)
    torch.manual_seed(0)
    other = draws(2)
    assert torch.equal(first[1], again[1]) and torch.equal(first[0], again[0])
    assert not torch.equal(first[1], other[1])


def test_random_head_basis_is_the_drawn_heads_singular_vectors():
    model = Attention()
    optimizer = _run(
        model,
        steps=1,
        preset="galore_plus",
        group_size=2,
        svd_method="exact",
        rank=4,
        target_modules=["k_proj"],
        residual_density=0.0,
    )
    state = optimizer.state[model.k_proj.weight]
    assert state["head_ids"].shape == (1,) and int(state["head_ids"]) in (0, 1)
    block = model.k_proj.weight.grad.reshape(2, 16, 64)[int(state["head_ids"])]
    expected = torch.linalg.svd(block, full_matrices=False)[2][:4].mT
    torch.testing.assert_close(state["right_basis"][0].abs(), expected.abs(), atol=1e-5, rtol=0)


def test_head_dim_side_projects_each_head_block_and_sizes_state_by_heads():
    model = Attention()
    optimizer = _run(
        model,
        steps=2,
        preset="galore_plus",
        shared_side="head_dim",
        rank=4,
        target_modules=["q_proj"],
        residual_density=0.0,
    )
    state = optimizer.state[model.q_proj.weight]
    assert state["left_basis"].shape == (1, 16, 4)
    assert state["exp_avg"].shape == (1, 4, 4 * 64)


def _group_of_each_weight(model, **overrides):
    """Parameter name -> its param group under the galore_plus preset."""
    return {n: g for g in param_groups(model, "galore_plus", **overrides) for n in g.get("names", [])}


def _transformers():
    return pytest.importorskip("transformers")


def test_gpt2_fused_c_attn_is_three_logical_matrices_of_h_heads():
    transformers = _transformers()
    config = transformers.GPT2Config(n_embd=64, n_head=4, n_layer=1, vocab_size=50, n_positions=16)
    model = transformers.GPT2LMHeadModel(config)
    groups = param_groups(model, "galore_plus", rank=8)
    c_attn = next(g for g in groups if any(n.endswith("attn.c_attn.weight") for n in g.get("names", [])))
    assert (c_attn["num_heads"], c_attn["head_axis"], c_attn["head_splits"]) == (4, 1, 3)
    optimizer = GaLorePlusAdamW(groups, lr=1e-3)
    model(torch.randint(0, 50, (2, 8)), labels=torch.randint(0, 50, (2, 8))).loss.backward()
    optimizer.step()
    state = optimizer.state[model.transformer.h[0].attn.c_attn.weight]
    assert state["right_basis"].shape == (3, 64, 8)  # one basis per logical matrix (q, k, v)


def test_bart_encoder_and_decoder_head_counts_differ():
    transformers = _transformers()
    config = transformers.BartConfig(
        vocab_size=60,
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=32,
    )
    model = transformers.BartForConditionalGeneration(config)
    heads = {name: group.get("num_heads") for name, group in _group_of_each_weight(model, rank=8).items()}
    assert heads["model.encoder.layers.0.self_attn.q_proj.weight"] == 4
    assert heads["model.decoder.layers.0.self_attn.q_proj.weight"] == 2
    assert heads["model.decoder.layers.0.encoder_attn.out_proj.weight"] == 2
    assert heads["model.encoder.layers.0.fc1.weight"] is None  # MLP: plain GaLore


def test_llama_gqa_key_value_heads_come_from_the_config():
    transformers = _transformers()
    config = transformers.LlamaConfig(
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=96,
        num_hidden_layers=1,
        vocab_size=50,
    )
    model = transformers.LlamaForCausalLM(config)
    groups = _group_of_each_weight(model, rank=8)
    assert groups["model.layers.0.self_attn.k_proj.weight"]["num_heads"] == 2
    assert groups["model.layers.0.self_attn.q_proj.weight"]["num_heads"] == 4
    assert groups["model.layers.0.self_attn.o_proj.weight"]["head_axis"] == 1
    optimizer = GaLorePlusAdamW(list({id(g): g for g in groups.values()}.values()), lr=1e-3)
    model(torch.randint(0, 50, (2, 8)), labels=torch.randint(0, 50, (2, 8))).loss.backward()
    optimizer.step()
    assert optimizer.stats["basis_refreshes"] == 7  # q, k, v, o, gate, up, down


def test_vision_encoder_decoder_reads_the_nested_encoder_and_decoder_configs():
    transformers = _transformers()
    encoder = transformers.ViTConfig(
        hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, image_size=32, patch_size=8
    )
    decoder = transformers.GPT2Config(n_embd=64, n_head=2, n_layer=1, vocab_size=50, add_cross_attention=True)
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    model = transformers.VisionEncoderDecoderModel(config)
    groups = _group_of_each_weight(model, rank=8)
    assert groups["encoder.layers.0.attention.q_proj.weight"]["num_heads"] == 4
    assert groups["encoder.layers.0.attention.o_proj.weight"]["head_axis"] == 1
    cross = groups["decoder.transformer.h.0.crossattention.c_attn.weight"]
    assert (cross["num_heads"], cross["head_splits"]) == (2, 2)  # key and value fused


def test_all_linear_leaves_out_nested_classification_heads():
    transformers = _transformers()
    config = transformers.RobertaConfig(
        vocab_size=50, hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, num_labels=2
    )
    model = transformers.RobertaForSequenceClassification(config)
    names = [n for g in param_groups(model, "galore_plus", rank=8) if "rank" in g for n in g["names"]]
    assert names and not any(n.startswith("classifier.") for n in names)


def test_unknown_attention_heads_are_a_clear_error_unless_cross_head_is_off():
    model = Attention()
    model.config = None
    with pytest.raises(ValueError, match="cannot determine the attention heads of 'q_proj'.*group_size=None"):
        param_groups(model, "galore_plus", rank=4)
    assert param_groups(model, "galore_plus", rank=4, group_size=None)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"num_heads": 4, "group_size": 3}, "group_size=3 is invalid; expected a divisor of num_heads=4"),
        ({"num_heads": 5}, "num_heads=5 .* does not divide the head axis"),
        ({"num_heads": 4, "rank": 20}, "rank=20 is larger than the head block"),
    ],
)
def test_bad_head_settings_name_the_parameter(settings, message):
    group = {"rank": 4, **settings}
    with pytest.raises(ValueError, match=message):
        fill_and_check_low_rank(group, "parameter 'q_proj.weight'")
        build_layout((64, 64), group, "parameter 'q_proj.weight'")


def test_aligned_signs_keep_transposed_cross_head_equal_to_galore_across_refreshes():
    """With svd_align_signs the 1-ulp GEMM difference no longer flips a basis vector: equal over two refreshes."""
    torch.manual_seed(0)
    cross, vanilla = Attention(), Attention()
    vanilla.load_state_dict(cross.state_dict())
    common = {
        "rank": 8,
        "update_proj_gap": 3,
        "svd_method": "exact",
        "target_modules": ["o_proj"],
        "svd_align_signs": True,
    }
    _run(cross, 9, preset="galore_plus", group_size="all", basis_from="stacked", residual_density=0.0, **common)
    _run(vanilla, 9, preset="galore", proj_type="left", **common)
    for a, b in zip(cross.parameters(), vanilla.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_aligned_signs_point_each_new_basis_vector_along_the_previous_one():
    model = Attention()
    optimizer = GaLorePlusAdamW(param_groups(model, "galore", rank=4, update_proj_gap=1, svd_align_signs=True), lr=1e-2)
    previous = None
    for step in range(4):
        optimizer.zero_grad()
        model(torch.randn(16, 64, generator=torch.Generator().manual_seed(step))).backward()
        optimizer.step()
        basis = optimizer.state[model.q_proj.weight]["right_basis"]
        if previous is not None:
            assert bool(((basis * previous).sum(-2) >= 0).all())
        previous = basis.clone()


@pytest.mark.parametrize("mode", ["r1", "r2"])
def test_residual_on_a_transposed_weight_equals_the_same_residual_on_vanilla_galore(mode):
    """The output projection is updated in its own memory order; its residual entries still land right."""
    torch.manual_seed(0)
    cross, vanilla = Attention(), Attention()
    vanilla.load_state_dict(cross.state_dict())
    common = {
        "rank": 8,
        "update_proj_gap": 10,
        "svd_method": "exact",
        "target_modules": ["o_proj"],
        "residual_density": 0.1,
        "residual_warmup_steps": 1,
        "residual_mode": mode,
    }
    optimizer = _run(cross, 5, preset="galore_plus", group_size="all", basis_from="stacked", **common)
    _run(vanilla, 5, preset="galore", proj_type="left", **common)
    assert optimizer.stats["residual_entries"] == 410  # ceil(0.1 * 64 * 64), corrected for 4 steps
    torch.testing.assert_close(cross.o_proj.weight, vanilla.o_proj.weight, atol=1e-6, rtol=0)
