"""DataModules: the batch contract, the real samples in ../shared/data, the hub code path, and bad data."""

import csv
import gzip
import importlib
import json
from pathlib import Path

import datasets
import pytest
import torch
import yaml
from jsonargparse import ArgumentParser
from lightning import LightningDataModule

from datamodules.base import TaskDataModule
from datamodules.captioning import CaptioningDataModule
from datamodules.classification import ClassificationDataModule
from datamodules.data_to_text import DataToTextDataModule
from datamodules.reasoning import ReasoningDataModule
from datamodules.summarization import SummarizationDataModule
from datamodules.tokenizer import load_tokenizer
from datamodules.translation import TranslationDataModule

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = REPO_ROOT / "configs" / "data"
FAMILIES = [
    ClassificationDataModule,
    TranslationDataModule,
    SummarizationDataModule,
    CaptioningDataModule,
    ReasoningDataModule,
    DataToTextDataModule,
]
SMALL = {"limit_train_samples": 64, "limit_val_samples": 8, "limit_test_samples": 8, "batch_size": 4}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One tokenizer cache for the module, so identical texts are trained on once."""
    return tmp_path_factory.mktemp("tokenizers")


def from_config(name: str, cache_dir: Path, **overrides):
    """Instantiate the DataModule of configs/data/<name>.yaml as LightningCLI would, run from the repo root."""
    spec = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())["data"]
    module, cls = spec["class_path"].rsplit(".", 1)
    return getattr(importlib.import_module(module), cls)(
        **spec["init_args"] | {"cache_dir": str(cache_dir)} | overrides
    )


@pytest.mark.parametrize("family", FAMILIES, ids=lambda c: c.__name__)
def test_embedded_batches_follow_the_contract(family, cache_dir):
    data = family(cache_dir=str(cache_dir), **SMALL)
    data.setup("fit")
    batch = next(iter(data.val_dataloader()))
    pad = data.tokenizer.pad_token_id
    assert data.task_kind in ("classification", "seq2seq", "causal_lm", "captioning") and data.key_metric
    if data.task_kind == "classification":
        assert sorted(batch) == ["attention_mask", "input_ids", "labels"]
        assert batch["labels"].dtype == torch.long and data.num_labels == 2
        return
    assert len(batch["references"]) == 4 and all(isinstance(r, list) and r for r in batch["references"])
    labels = batch["labels"]
    eos_positions = (labels == data.tokenizer.eos_token_id).sum(dim=1)
    assert (eos_positions >= 1).all()  # every target ends with eos
    if data.task_kind == "captioning":
        assert batch["pixel_values"].shape == (4, 3, 32, 32)
        assert -1.0 <= batch["pixel_values"].min() and batch["pixel_values"].max() <= 1.0
    if data.task_kind == "seq2seq":
        assert batch["input_ids"].shape == batch["attention_mask"].shape
    if data.task_kind == "causal_lm":
        ids, prompt = batch["input_ids"], batch["prompt_input_ids"]
        prompt_lengths = batch["prompt_attention_mask"].sum(dim=1)
        for row in range(4):
            n = int(prompt_lengths[row])
            assert (labels[row, :n] == -100).all()  # the prompt is never in the loss
            assert torch.equal(ids[row, :n], prompt[row, -n:])  # same prompt, left-padded for generation
            assert (prompt[row, : prompt.shape[1] - n] == pad).all()
            target = labels[row][labels[row] != -100].tolist()
            assert data.tokenizer.decode(target[:-1]).strip() == batch["references"][row][0]


def test_trained_tokenizer_is_cached_and_reused(cache_dir):
    first = DataToTextDataModule(cache_dir=str(cache_dir), **SMALL)
    first.setup()
    second = DataToTextDataModule(cache_dir=str(cache_dir), **SMALL)
    second.setup()
    assert first.tokenizer.get_vocab() == second.tokenizer.get_vocab()
    assert len(list(cache_dir.glob("bpe-*"))) >= 1 and not list(cache_dir.glob(".staging-*"))


def test_gpt2_bpe_folder_gives_gpt2_ids(shared_data):
    tokenizer = load_tokenizer(shared_data / "tokenizers" / "gpt2_bpe")
    assert tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert len(tokenizer) == 50257 and tokenizer.pad_token_id == tokenizer.eos_token_id == 50256


# --- real samples from ../shared/data ----------------------------------------------------------------------------
@pytest.fixture
def at_repo_root(monkeypatch, shared_data) -> Path:
    """The configs name ../shared/data relative to the repo root, where galoreplus runs."""
    monkeypatch.chdir(REPO_ROOT)
    return shared_data


def test_sst2_local(at_repo_root, cache_dir):
    with open(at_repo_root / "classification/sst2/train_subset.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=3))
    data = from_config("sst2_local", cache_dir)
    data.setup()
    assert {s: len(r) for s, r in data.rows.items()} == {"train": 5387, "validation": 674, "test": 674}
    assert sum(len(r) for r in data.rows.values()) == len(rows) == 6735
    expected = {(r["sentence"], int(r["label"])) for r in rows}
    assert {(r["text"], r["label"]) for split in data.rows.values() for r in split} == expected
    first = data.rows["validation"][0]
    assert data.tokenizer.decode(data.data["validation"][0]["input_ids"]) == first["text"]


def test_ag_news_local_maps_label_names(at_repo_root, cache_dir):
    data = from_config("ag_news_local", cache_dir, vocab_size=1000)
    data.setup()
    assert sum(len(r) for r in data.rows.values()) == 7600 and data.num_labels == 4
    with open(at_repo_root / "classification/ag_news/test.tsv", newline="") as handle:
        text, label = next(csv.reader(handle, delimiter="\t", quoting=3))
    match = [r for split in data.rows.values() for r in split if r["text"] == text]
    assert [r["label"] for r in match] == [["World", "Sports", "Business", "Sci/Tech"].index(label)]


def test_multi30k_local(at_repo_root, cache_dir):
    data = from_config("multi30k_local", cache_dir, vocab_size=1000)
    data.setup()
    assert len(data.rows["validation"]) == 1014 and len(data.rows["train"]) + len(data.rows["test"]) == 29000
    with gzip.open(at_repo_root / "translation/multi30k/val.de.gz", "rt", encoding="utf-8") as handle:
        first_de = handle.readline().rstrip("\n")
    example = data.data["validation"][0]
    assert example["references"] == [first_de]
    assert data.tokenizer.decode(example["labels"][:-1]) == first_de  # umlauts survive the byte-level BPE
    assert data.rows["validation"][0]["source"] == "A group of men are loading cotton onto a truck"


@pytest.mark.parametrize("name", ["xsum_local", "cnndm_local"])
def test_line_aligned_summaries(at_repo_root, cache_dir, name):
    data = from_config(name, cache_dir, vocab_size=1000)
    data.setup()
    assert {s: len(r) for s, r in data.rows.items()} == {"train": 70, "validation": 15, "test": 15}
    folder = at_repo_root / "summarization" / ("xsum_pyr100" if name.startswith("xsum") else "cnndm_realsumm100")
    documents = (folder / "documents.txt").read_text(encoding="utf-8").splitlines()
    references = (folder / "references.txt").read_text(encoding="utf-8").splitlines()
    row = data.rows["test"][0]
    assert row["references"] == [references[documents.index(row["source"])]]


def test_dialogsum_local(at_repo_root, cache_dir):
    data = from_config("dialogsum_local", cache_dir, vocab_size=1000)
    data.setup()
    lines = [json.loads(line) for line in (at_repo_root / "summarization/dialogsum/dialogsum.dev.jsonl").open()]
    assert sum(len(r) for r in data.rows.values()) == len(lines) == 500
    by_dialogue = {line["dialogue"]: line["summary"] for line in lines}
    row = data.rows["validation"][3]
    assert row["references"] == [by_dialogue[row["source"]]]


def test_dialogsum_test_format_has_three_references(tmp_path, cache_dir):
    path = tmp_path / "dialogsum.test.jsonl"
    rows = [
        {
            "fname": f"test_{i}",
            "dialogue": f"#Person1#: hi {i}",
            "summary1": f"a {i}",
            "summary2": f"b {i}",
            "summary3": f"c {i}",
        }
        for i in range(12)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    data = SummarizationDataModule(
        files={"train": str(path), "test": str(path)},
        cache_dir=str(cache_dir),
        columns={"source": "dialogue", "target": ["summary1", "summary2", "summary3"]},
    )
    data.setup()
    assert data.rows["test"][0]["references"] == ["a 0", "b 0", "c 0"]
    assert len(data.data["train"]) == 3 * len(data.rows["train"])  # training sees every reference


def test_coco_local_has_five_references_per_image(at_repo_root, cache_dir):
    data = from_config("coco_local", cache_dir)
    data.setup()
    assert {s: len(r) for s, r in data.rows.items()} == {"train": 26, "validation": 25, "test": 25}
    assert len(data.data["train"]) == 130 and all(len(r["references"]) == 5 for r in data.rows["validation"])
    document = json.loads((at_repo_root / "captioning/coco_mini/captions_val2017.json").read_text())
    image = document["images"][0]
    expected = [a["caption"].strip() for a in document["annotations"] if a["image_id"] == image["id"]]
    assert data.rows["validation"][0]["references"] == expected
    batch = next(iter(data.val_dataloader()))
    assert batch["pixel_values"].shape == (8, 3, 32, 32) and batch["references"][0] == expected


def test_gsm8k_local_keeps_the_answer_line(at_repo_root, cache_dir):
    data = from_config("gsm8k_local", cache_dir, limit_train_samples=50)
    data.setup()
    assert len(data.rows["validation"]) == len(data.rows["test"]) == 374
    lines = [json.loads(line) for line in (at_repo_root / "reasoning/gsm8k/train.jsonl").open()]
    answers = {line["question"]: line["answer"] for line in lines}
    row = data.rows["test"][0]
    assert row["references"] == [answers[row["source"]]] and "\n#### " in row["references"][0]
    batch = next(iter(data.test_dataloader()))
    prompt = data.tokenizer.decode(batch["prompt_input_ids"][0], skip_special_tokens=True)
    assert prompt == f"Question: {row['source']}\nAnswer:"


def test_e2e_local_groups_references_by_mr(at_repo_root, cache_dir):
    data = from_config("e2e_local", cache_dir, vocab_size=1000)
    data.setup()
    with open(at_repo_root / "data_to_text/e2e/devset.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sum(len(r) for r in data.rows.values()) == 547
    splits = [{r["source"] for r in data.rows[s]} for s in ("train", "validation", "test")]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    row = data.rows["test"][0]
    assert row["references"] == [r["ref"] for r in rows if r["mr"] == row["source"]]
    assert len(data.data["train"]) == sum(len(r["references"]) for r in data.rows["train"])


# --- the Hugging Face code path (hub repositories cannot be reached here) ----------------------------------------
def test_save_to_disk_folder_and_nested_columns(tmp_path, cache_dir):
    pairs = [{"translation": {"de": f"ein haus {i}", "en": f"a house {i}"}} for i in range(40)]
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(pairs[:30]), "dev": datasets.Dataset.from_list(pairs[30:])}
    ).save_to_disk(str(tmp_path / "wmt"))
    data = TranslationDataModule(
        dataset=str(tmp_path / "wmt"),
        splits={"train": "train", "validation": "dev"},
        columns={"source": "translation.en", "target": "translation.de"},
        cache_dir=str(cache_dir),
        test_fraction=0.2,
    )
    data.setup()
    assert {s: len(r) for s, r in data.rows.items()} == {"train": 24, "validation": 10, "test": 6}
    assert data.rows["validation"][0] == {"source": "a house 30", "references": ["ein haus 30"]}
    with pytest.raises(ValueError, match="no split 'test'"):
        TranslationDataModule(
            dataset=str(tmp_path / "wmt"),
            splits={"train": "train", "test": "test"},
            columns={"source": "translation.en", "target": "translation.de"},
        ).setup()


def test_local_parquet(tmp_path, cache_dir):
    rows = [{"sentence": f"it is {'good' if i % 2 else 'bad'} {i}", "label": i % 2} for i in range(50)]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "train.parquet"))
    data = ClassificationDataModule(files={"train": str(tmp_path / "train.parquet")}, cache_dir=str(cache_dir))
    data.setup()
    assert sum(len(r) for r in data.rows.values()) == 50 and data.num_labels == 2
    assert data.rows["train"][0] in [{"text": r["sentence"], "label": r["label"]} for r in rows]


# --- bad data ----------------------------------------------------------------------------------------------------
def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        ReasoningDataModule(files={"train": str(tmp_path / "nope.jsonl")}).setup()


def test_missing_column_lists_the_columns_there(tmp_path):
    path = write(tmp_path / "g.jsonl", json.dumps({"query": "1+1?", "answer": "#### 2"}) + "\n")
    with pytest.raises(ValueError, match=r"g.jsonl.*row 1: missing column\(s\) \['question'\].*\['answer', 'query'\]"):
        ReasoningDataModule(files={"train": path}).setup()


def test_malformed_json_line_is_named(tmp_path):
    path = write(tmp_path / "g.jsonl", '{"question": "a", "answer": "#### 1"}\n{"question": "b", "answer": \n')
    with pytest.raises(ValueError, match=r"g.jsonl, line 2: malformed JSON"):
        ReasoningDataModule(files={"train": path}).setup()


def test_empty_split(tmp_path):
    path = write(tmp_path / "empty.csv", "mr,ref\n")
    with pytest.raises(ValueError, match="'train' split is empty"):
        DataToTextDataModule(files={"train": path}).setup()


def test_csv_with_wrong_field_count(tmp_path):
    path = write(tmp_path / "bad.tsv", "sentence\tlabel\nfine\t1\nbroken line without a tab\n")
    with pytest.raises(ValueError, match=r"bad.tsv, line 3: expected 2 fields"):
        ClassificationDataModule(files={"train": path}, quoting=3).setup()


def test_unknown_label_name(tmp_path):
    path = write(tmp_path / "t.tsv", "sentence\tlabel\na\tWorld\nb\tSports\nc\tWorld\n")
    with pytest.raises(ValueError, match=r"label 'Sports' is not one of \['World'\]"):
        ClassificationDataModule(files={"train": path}, label_names=["World"]).setup()


def test_parallel_files_of_different_length(tmp_path):
    source, target = write(tmp_path / "a.en", "one\ntwo\n"), write(tmp_path / "a.de", "eins\n")
    with pytest.raises(ValueError, match="different line counts"):
        TranslationDataModule(files={"train": {"en": source, "de": target}}).setup()


def test_missing_image_is_named(tmp_path):
    (tmp_path / "train2017").mkdir()
    document = {"images": [{"id": 7, "file_name": "0007.jpg"}], "annotations": [{"image_id": 7, "caption": "a"}]}
    path = write(tmp_path / "captions_train2017.json", json.dumps(document))
    with pytest.raises(FileNotFoundError, match=r"image id 7 points at .*0007.jpg"):
        CaptioningDataModule(files={"train": path}).setup()


def test_missing_tokenizer_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer folder not found"):
        ClassificationDataModule(tokenizer_path=str(tmp_path / "none"), **SMALL).setup()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_data_config_parses_as_the_cli_would(path):
    """Each shipped `data:` section instantiates through jsonargparse (hub configs are built, never set up)."""
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningDataModule, "data")
    config = parser.parse_path(str(path))
    data = parser.instantiate_classes(config).data
    assert isinstance(data, TaskDataModule) and data.task_kind and data.key_metric
    text = path.read_text()
    assert ("not run here: needs the Hugging Face hub" in text) == (data.dataset is not None)
