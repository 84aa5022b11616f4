"""The metric suites equal their libraries' own corpus scores on real data, batch by batch and across DDP ranks."""

import csv
import json
import re
import shutil
import socket
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from nltk.translate.nist_score import corpus_nist
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from rouge_score.rouge_scorer import RougeScorer
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sklearn.metrics import accuracy_score, f1_score

from datamodules.metrics import (
    CaptioningMetrics,
    ClassificationMetrics,
    DataToTextMetrics,
    ReasoningMetrics,
    SummarizationMetrics,
    TranslationMetrics,
)
from datamodules.metrics.coco_tokenize import coco_tokenize
from datamodules.metrics.final_number import extract_final_number
from datamodules.metrics.summarization import split_sentences

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="`java` is not on PATH (METEOR/PTB need a JRE)")

Pairs = tuple[list[str], list[list[str]]]


@cache
def e2e_pairs(data: Path) -> Pairs:
    """E2E dev grouped by meaning representation: the first reference is the hypothesis, the others its references."""
    groups: dict[str, list[str]] = {}
    with open(data / "data_to_text/e2e/devset.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            groups.setdefault(row["mr"], []).append(row["ref"])
    return [refs[0] for refs in groups.values()], [refs[1:] for refs in groups.values()]


@cache
def coco_pairs(data: Path) -> Pairs:
    """COCO mini val: each image's first caption is the hypothesis, its other four the references."""
    annotations = json.loads((data / "captioning/coco_mini/captions_val2017.json").read_text())["annotations"]
    captions: dict[int, list[str]] = {}
    for annotation in annotations:
        captions.setdefault(annotation["image_id"], []).append(annotation["caption"])
    return [caps[0] for caps in captions.values()], [caps[1:] for caps in captions.values()]


@cache
def dialogsum_pairs(data: Path) -> Pairs:
    """DialogSum dev: a lead baseline (the first two turns, speaker tags removed) against [summary, topic]."""
    predictions, references = [], []
    for line in (data / "summarization/dialogsum/dialogsum.dev.jsonl").read_text().splitlines():
        row = json.loads(line)
        turns = [re.sub(r"^#Person\d#:\s*", "", turn) for turn in row["dialogue"].split("\n")[:2]]
        predictions.append(" ".join(turns))
        references.append([row["summary"], row["topic"]])
    return predictions, references


@cache
def gsm8k_answers(data: Path) -> list[str]:
    """The worked answers of the GSM8K train file, each ending in `#### <number>`."""
    lines = (data / "reasoning/gsm8k/train.jsonl").read_text().splitlines()
    return [json.loads(line)["answer"] for line in lines]


def feed(metric, predictions: list, references: list, batch_sizes=(1, 7, 64)) -> dict[str, float]:
    """Update `metric` in uneven batches (cycling through `batch_sizes`) and return its computed values."""
    start, step = 0, 0
    while start < len(predictions):
        size = batch_sizes[step % len(batch_sizes)]
        metric.update(predictions[start : start + size], references[start : start + size])
        start, step = start + size, step + 1
    return {name: value.item() for name, value in metric.compute().items()}


def reference_streams(references: list[list[str]]) -> list[list[str | None]]:
    """sacreBLEU's reference streams, built here rather than imported so the test does not trust the suite's own."""
    width = max(map(len, references))
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def coco_dicts(predictions: list[str], references: list[list[str]]) -> tuple[dict, dict]:
    """pycocoevalcap's `(gts, res)` inputs under the documented default tokenisation, `coco_tokenize`."""
    gts = {i: [coco_tokenize(ref) for ref in refs] for i, refs in enumerate(references)}
    return gts, {i: [coco_tokenize(prediction)] for i, prediction in enumerate(predictions)}


def test_translation_equals_sacrebleu_on_e2e(shared_data):
    predictions, references = e2e_pairs(shared_data)
    metric = TranslationMetrics()
    values = feed(metric, predictions, references)
    bleu = BLEU()
    expected_bleu = bleu.corpus_score(predictions, reference_streams(references)).score
    assert values["bleu"] == pytest.approx(expected_bleu, rel=1e-6)
    assert values["bleu"] == pytest.approx(58.69, abs=0.01)  # the leave-one-out baseline in offline-environment.md
    assert values["chrf"] == pytest.approx(CHRF().corpus_score(predictions, reference_streams(references)).score)
    assert metric.signature == str(bleu.get_signature())
    assert "nrefs:var" in metric.signature and "tok:13a" in metric.signature


def test_data_to_text_equals_its_libraries_on_e2e(shared_data):
    predictions, references = e2e_pairs(shared_data)
    values = feed(DataToTextMetrics(meteor=False), predictions, references)
    assert set(values) == {"bleu", "nist", "rougeL", "cider"}
    assert values["bleu"] == pytest.approx(BLEU().corpus_score(predictions, reference_streams(references)).score)
    tokenize = Tokenizer13a()
    expected_nist = corpus_nist(
        [[tokenize(ref).split() for ref in refs] for refs in references],
        [tokenize(prediction).split() for prediction in predictions],
        n=5,
    )
    assert values["nist"] == pytest.approx(expected_nist, rel=1e-6)
    gts, res = coco_dicts(predictions, references)
    assert values["rougeL"] == pytest.approx(Rouge().compute_score(gts, res)[0], rel=1e-6)
    assert values["cider"] == pytest.approx(Cider().compute_score(gts, res)[0], rel=1e-6)


def test_captioning_equals_pycocoevalcap_on_coco(shared_data):
    predictions, references = coco_pairs(shared_data)
    assert len(predictions) == 25 and all(len(refs) == 4 for refs in references)
    values = feed(CaptioningMetrics(), predictions, references, batch_sizes=(3, 10))
    gts, res = coco_dicts(predictions, references)
    assert values["cider"] == pytest.approx(Cider().compute_score(gts, res)[0], rel=1e-6)
    assert values["bleu4"] == pytest.approx(Bleu(4).compute_score(gts, res, verbose=0)[0][3], rel=1e-6)
    assert 0.1 < values["cider"] < 10 and 0 < values["bleu4"] < 1


@needs_java
def test_captioning_ptb_tokenizer_option_equals_cider_on_ptb_tokens(shared_data):
    predictions, references = coco_pairs(shared_data)
    values = feed(CaptioningMetrics(ptb_tokenizer=True), predictions, references)
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: [{"caption": ref} for ref in refs] for i, refs in enumerate(references)})
    res = tokenizer.tokenize({i: [{"caption": prediction}] for i, prediction in enumerate(predictions)})
    assert values["cider"] == pytest.approx(Cider().compute_score(gts, res)[0], rel=1e-6)


@needs_java
def test_coco_tokenize_agrees_with_ptb_on_real_references(shared_data):
    captions = [caption for refs in coco_pairs(shared_data)[1] for caption in refs]
    e2e_references = [ref for refs in e2e_pairs(shared_data)[1] for ref in refs]
    texts = captions + e2e_references
    ptb = PTBTokenizer().tokenize({i: [{"caption": text}] for i, text in enumerate(texts)})
    agree = [ptb[i][0] == coco_tokenize(text) for i, text in enumerate(texts)]
    assert all(agree[: len(captions)])
    assert sum(agree) / len(agree) > 0.99


def test_coco_tokenize_rules():
    assert coco_tokenize("A dog's toy, isn't it? (\"Yes\") -- 8:25, £20-25 & 1,000.5!") == (
        "a dog 's toy is n't it yes 8:25 # 20-25 & 1,000.5"
    )
    assert coco_tokenize("") == ""


def test_summarization_equals_rouge_score_on_dialogsum(shared_data):
    predictions, references = dialogsum_pairs(shared_data)
    values = feed(SummarizationMetrics(sentence_split=False), predictions, references)
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    for rouge_type in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        best = [
            max(scorer.score(ref, prediction)[rouge_type].fmeasure for ref in refs)
            for prediction, refs in zip(predictions, references, strict=True)
        ]
        assert values[rouge_type] == pytest.approx(sum(best) / len(best), rel=1e-6), rouge_type
    assert 0.05 < values["rouge1"] < 0.6


def test_summarization_sentence_split_only_changes_rougelsum(shared_data):
    predictions, references = dialogsum_pairs(shared_data)
    predictions, references = predictions[:100], [refs[:1] for refs in references[:100]]
    plain = feed(SummarizationMetrics(sentence_split=False), predictions, references)
    split = feed(SummarizationMetrics(), predictions, references)
    for rouge_type in ("rouge1", "rouge2", "rougeL"):
        assert split[rouge_type] == pytest.approx(plain[rouge_type], rel=1e-6)
    scorer = RougeScorer(["rougeLsum"], use_stemmer=True)
    expected = [
        scorer.score(split_sentences(refs[0]), split_sentences(prediction))["rougeLsum"].fmeasure
        for prediction, refs in zip(predictions, references, strict=True)
    ]
    assert split["rougeLsum"] == pytest.approx(sum(expected) / len(expected), rel=1e-6)
    assert split["rougeLsum"] != pytest.approx(plain["rougeLsum"])


def test_split_sentences():
    assert split_sentences("He left. She stayed!  Why? ") == "He left.\nShe stayed!\nWhy?"
    assert split_sentences("3.5 km away. Fine") == "3.5 km away.\nFine"
    assert split_sentences("kept\nas is. Here") == "kept\nas is. Here"


def test_reasoning_exact_match_on_gsm8k(shared_data):
    answers = gsm8k_answers(shared_data)[:600]
    gold = [answer.split("####")[-1].strip().replace(",", "") for answer in answers]
    predictions = []
    for index, (answer, number) in enumerate(zip(answers, gold, strict=True)):
        if index % 3 == 0:
            predictions.append(answer)  # the worked solution itself
        elif index % 3 == 1:
            predictions.append(f"So the total is ${int(number):,}." if number.isdigit() else f"It is {number}.")
        else:
            predictions.append(f"{answer.split('####')[0]}#### {Decimal(number) + 1}")
    values = feed(ReasoningMetrics(), predictions, [[answer] for answer in answers])
    assert values["exact_match"] == pytest.approx(400 / 600)


def test_final_number_of_every_gsm8k_answer(shared_data):
    for answer in gsm8k_answers(shared_data):
        expected = Decimal(answer.split("####")[-1].strip().replace(",", ""))
        assert Decimal(extract_final_number(answer)) == expected, answer[-60:]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("#### 72", "72"),
        ("#### 1,234", "1234"),
        ("The answer is $1,000,000.00.", "1000000"),
        ("It costs $5.50 in total", "5.5"),
        ("18.0", "18"),
        ("#### -3", "-3"),
        ("from 5-3 we get 2", "2"),
        ("#### 12\n\nQuestion: what is 7 + 8?", "12"),  # a generation that runs on after its answer
        ("first 4 #### 9 then #### 10 more 11", "10"),  # the last marker counts
        ("#### no number here", None),
        ("no digits at all", None),
        ("", None),
        ("numbers 1,2,3", "3"),
        ("-0.0", "0"),
        ("0.25 of 100", "100"),
        ("007 agents", "7"),
    ],
)
def test_extract_final_number(text, number):
    assert extract_final_number(text) == number


def test_reasoning_prediction_without_a_number_is_wrong_and_reference_without_one_is_an_error():
    metric = ReasoningMetrics()
    metric.update(["no idea", "#### 4"], [["#### 3"], ["the answer is 4"]])
    assert metric.compute()["exact_match"].item() == 0.5
    with pytest.raises(ValueError, match="reference 1 of the batch has no number"):
        metric.update(["1", "2"], [["#### 1"], ["unknown"]])


def test_classification_equals_sklearn_on_sst2(shared_data):
    with open(shared_data / "classification/sst2/train_subset.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    positive = re.compile(r"\b(good|great|best|fun|love|funny|well|beautiful)\b")
    predictions = ["1" if positive.search(row["sentence"]) else "0" for row in rows]
    labels = [row["label"] for row in rows]
    values = feed(ClassificationMetrics(num_labels=2), predictions, [[label] for label in labels])
    assert values["accuracy"] == pytest.approx(accuracy_score(labels, predictions), rel=1e-6)
    assert values["f1_macro"] == pytest.approx(f1_score(labels, predictions, average="macro"), rel=1e-6)
    tensors = ClassificationMetrics(num_labels=2)
    tensors.update(torch.tensor([int(p) for p in predictions]), torch.tensor([int(label) for label in labels]))
    assert {name: value.item() for name, value in tensors.compute().items()} == pytest.approx(values)


@pytest.mark.parametrize(
    ("make_metric", "predictions", "references", "message"),
    [
        (TranslationMetrics, ["a", "b"], [["a"]], "same length; got list of length 2 and list of length 1"),
        (TranslationMetrics, "a", ["a"], "expects a list of prediction strings"),
        (CaptioningMetrics, ["a"], ["a"], r"references 0 of the batch is 'a'; expected a non-empty list"),
        (SummarizationMetrics, ["a"], [[]], "references 0 of the batch is"),
        (DataToTextMetrics, [None], [["a"]], "prediction 0 of the batch is NoneType"),
        (lambda: ClassificationMetrics(3), ["0", "3"], [["0"], ["1"]], r"prediction 1 of the batch is label 3"),
        (lambda: ClassificationMetrics(3), ["0", "pos"], [["0"], ["1"]], "prediction 1 of the batch is 'pos'"),
        (lambda: ClassificationMetrics(3), ["0"], [["0", "1"]], r"expected one label id in a list"),
    ],
)
def test_bad_batches_name_the_example(make_metric, predictions, references, message):
    with pytest.raises(ValueError, match=message):
        make_metric().update(predictions, references)


@pytest.mark.filterwarnings("ignore:The ``compute`` method of metric")
def test_bad_settings_and_empty_compute():
    with pytest.raises(ValueError, match="unknown sacreBLEU tokenize='13b'; expected one of"):
        TranslationMetrics(tokenize="13b")
    with pytest.raises(ValueError, match="num_labels >= 2"):
        ClassificationMetrics(num_labels=1)
    metric = CaptioningMetrics()
    metric.update(["a dog"], [["a dog runs"]])
    metric.reset()
    with pytest.raises(ValueError, match="compute\\(\\) was called before any update: no predictions"):
        metric.compute()


def test_short_and_empty_predictions_score_zero_without_errors():
    references = [["a dog is running on the grass", "the dog runs"], ["a cat sleeps on a sofa"]]
    for make_metric in (TranslationMetrics, SummarizationMetrics, CaptioningMetrics, DataToTextMetrics):
        metric = make_metric(meteor=False) if make_metric is DataToTextMetrics else make_metric()
        metric.update(["", "..."], references)
        assert all(value.item() == 0 for value in metric.compute().values()), make_metric.__name__
    metric = DataToTextMetrics(meteor=False)
    metric.update(["a dog runs", ""], references)  # no hypothesis has 4- or 5-grams: nltk alone would divide by 0
    assert metric.compute()["nist"].item() > 0


def test_meteor_is_skipped_with_a_warning_without_java(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    metric = DataToTextMetrics()
    metric.update(["a dog runs"], [["a dog runs fast"]])
    with pytest.warns(UserWarning, match="METEOR skipped: `java` is not on PATH"):
        values = metric.compute()
    assert "meteor" not in values and "cider" in values


@needs_java
def test_meteor_failing_midway_warns_and_frees_the_java_process(monkeypatch):
    def broken_stat(self, hypothesis, references):
        raise ValueError("java answered nothing")

    monkeypatch.setattr(Meteor, "_stat", broken_stat)
    metric = DataToTextMetrics()
    metric.update(["a dog runs"], [["a dog runs fast"]])
    with pytest.warns(UserWarning, match="METEOR skipped: the METEOR java process failed"):
        values = metric.compute()
    assert "meteor" not in values and "bleu" in values


@pytest.mark.slow
@needs_java
def test_meteor_equals_pycocoevalcap_on_e2e(shared_data):
    predictions, references = e2e_pairs(shared_data)
    values = feed(DataToTextMetrics(), predictions, references)
    gts, res = coco_dicts(predictions, references)
    scorer = Meteor()
    expected, _ = scorer.compute_score(gts, res)
    assert values["meteor"] == pytest.approx(expected, rel=1e-6)
    assert 0.3 < values["meteor"] < 0.6


def _ddp_suites() -> dict:
    return {
        "translation": TranslationMetrics(),
        "data_to_text": DataToTextMetrics(meteor=False),
        "captioning": CaptioningMetrics(),
        "summarization": SummarizationMetrics(),
        "reasoning": ReasoningMetrics(),
        "classification": ClassificationMetrics(num_labels=2),
    }


def _ddp_worker(rank: int, port: int, shards: dict, out_dir: str) -> None:
    """One gloo rank: update each suite with this rank's shard, compute (which gathers), write the values."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        results = {}
        for name, metric in _ddp_suites().items():
            predictions, references = shards[name][rank]
            if predictions:  # an empty shard leaves this rank without any update
                for start in range(0, len(predictions), 5):
                    metric.update(predictions[start : start + 5], references[start : start + 5])
            results[name] = {key: value.item() for key, value in metric.compute().items()}
            results[name + "/signature"] = getattr(metric, "signature", None)
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(results))
    finally:
        dist.destroy_process_group()


def test_two_process_ddp_gathers_to_the_single_process_values(shared_data, tmp_path):
    e2e_predictions, e2e_references = e2e_pairs(shared_data)
    coco_predictions, coco_references = coco_pairs(shared_data)
    summaries, summary_references = dialogsum_pairs(shared_data)
    answers = gsm8k_answers(shared_data)[:40]
    data = {
        "translation": (e2e_predictions[:60], e2e_references[:60]),
        "data_to_text": (e2e_predictions[:120], e2e_references[:120]),
        "captioning": (coco_predictions, coco_references),
        "summarization": (summaries[:30], summary_references[:30]),
        "reasoning": ([a if i % 2 else "#### 0" for i, a in enumerate(answers)], [[a] for a in answers]),
        "classification": (["0", "1", "1", "0", "1", "1", "0"], [["0"], ["1"], ["0"], ["0"], ["1"], ["0"], ["1"]]),
    }
    # uneven splits; captioning and classification give rank 1 nothing, which must still gather
    cuts = {"translation": 17, "data_to_text": 71, "summarization": 9, "reasoning": 23}
    shards = {}
    for name, (predictions, references) in data.items():
        cut = cuts.get(name, len(predictions))
        shards[name] = [(predictions[:cut], references[:cut]), (predictions[cut:], references[cut:])]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_ddp_worker, args=(port, shards, str(tmp_path)), nprocs=2, join=True)

    single = {}
    for name, metric in _ddp_suites().items():
        metric.update(*data[name])
        single[name] = {key: value.item() for key, value in metric.compute().items()}
        single[name + "/signature"] = getattr(metric, "signature", None)
    for rank in (0, 1):
        gathered = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert gathered.keys() == single.keys()
        for name, values in single.items():
            assert gathered[name] == (pytest.approx(values, rel=1e-6) if isinstance(values, dict) else values), name
