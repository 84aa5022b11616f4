"""Readers that turn a data source into a list of row dicts: the hub, `save_to_disk` folders and local files.

Every reader returns plain rows (column name -> value), so the DataModules treat a hub split, a Parquet file, a TSV
and a pair of gzipped text files alike. Errors name the file, the line and what was expected.
"""

import csv
import gzip
import json
import random
from pathlib import Path

from datamodules.errors import require_columns, require_file

SPLITS = ("train", "validation", "test")


def read_hub(name: str, config: str | None, split: str) -> list[dict]:
    """One split of a Hugging Face dataset: a hub repository id, or a folder written by `save_to_disk`."""
    import datasets

    if Path(name).expanduser().is_dir():
        stored = datasets.load_from_disk(str(Path(name).expanduser()))
        if isinstance(stored, datasets.DatasetDict):
            if split not in stored:
                raise ValueError(
                    f"{name}: no split {split!r} in this save_to_disk folder; it has {list(stored)}. "
                    "Fix `splits` in the data config."
                )
            stored = stored[split]
        return stored.to_list()
    return datasets.load_dataset(name, config, split=split).to_list()


def read_file(
    spec: str | dict[str, str],
    delimiter: str | None = None,
    quoting: int = csv.QUOTE_MINIMAL,
    column_names: list[str] | None = None,
) -> list[dict]:
    """Rows of one local split, chosen by file type.

    `spec` is a path (`.jsonl`, `.json` (a list of rows or a COCO captions file), `.csv`, `.tsv`, `.parquet`) or a
    dict of parallel files: column name -> text file (`.gz` or plain, one row per line), or, for COCO,
    `{"annotations": captions.json, "images": folder}`.
    """
    if isinstance(spec, dict):
        if set(spec) == {"annotations", "images"}:
            return read_coco_captions(spec["annotations"], spec["images"])
        return read_parallel_text(spec)
    path = require_file(spec)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix == ".json":
        return read_json(path)
    if suffix in (".csv", ".tsv"):
        default = "\t" if suffix == ".tsv" else ","
        return read_delimited(path, delimiter or default, quoting, column_names)
    if suffix == ".parquet":
        import datasets

        return datasets.Dataset.from_parquet(str(path)).to_list()
    raise ValueError(
        f"{path}: unknown file type {suffix!r}; expected .jsonl, .json, .csv, .tsv, .parquet, or a dict "
        "of parallel text files {column: path}"
    )


def read_jsonl(path: Path) -> list[dict]:
    """JSON lines, one object per line; blank lines are skipped, a malformed line is reported by number."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path}, line {number}: malformed JSON ({error.msg}); expected one JSON object per line"
                ) from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def read_json(path: Path) -> list[dict]:
    """A JSON document: a list of row objects, or a COCO captions file (images beside it, named after it)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {error.lineno}: malformed JSON ({error.msg})") from None
    if isinstance(document, dict) and "annotations" in document:
        images = path.parent / path.stem.removeprefix("captions_")
        return read_coco_captions(path, images, document)
    if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
        raise ValueError(
            f"{path}: expected a JSON list of row objects or a COCO captions file (keys images, annotations)"
        )
    return document


def read_delimited(path: Path, delimiter: str, quoting: int, column_names: list[str] | None) -> list[dict]:
    """CSV/TSV with a header line, or with `column_names` where the file has none (AG News).

    `quoting=3` (csv.QUOTE_NONE) keeps quote characters as text, which SST-2 and AG News need.
    """
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, fieldnames=column_names, delimiter=delimiter, quoting=quoting)
        try:
            for row in reader:
                if None in row or None in row.values():
                    raise ValueError(
                        f"{path}, line {reader.line_num}: expected {len(reader.fieldnames)} fields "
                        f"{reader.fieldnames} separated by {delimiter!r}, got a different count. "
                        "Check `delimiter`, `quoting` (3 keeps quotes as text) and `column_names`."
                    )
                rows.append(row)
        except csv.Error as error:
            raise ValueError(f"{path}, line {reader.line_num}: {error}") from None
    return rows


def read_parallel_text(paths: dict[str, str]) -> list[dict]:
    """Line-aligned text files (Multi30k `.gz`, XSum documents/references), one column per file."""
    columns = {}
    for column, name in paths.items():
        path = require_file(name, f"text file for column {column!r}")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            columns[column] = handle.read().splitlines()
    counts = {paths[column]: len(lines) for column, lines in columns.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(
            f"parallel text files have different line counts {counts}; expected one aligned row per line in every file"
        )
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def read_coco_captions(annotations: str | Path, images: str | Path, document: dict | None = None) -> list[dict]:
    """COCO captions: one row per image, `{"image": path, "captions": [...]}` in the file's image order."""
    annotations = require_file(annotations, "COCO captions file")
    images = require_file(images, f"image folder for {annotations.name}")
    if document is None:
        document = json.loads(annotations.read_text(encoding="utf-8"))
    require_columns(document, ("images", "annotations"), f"{annotations} (COCO captions format)")
    captions: dict[int, list[str]] = {}
    for note in document["annotations"]:
        require_columns(note, ("image_id", "caption"), f"{annotations}, annotation {note.get('id')}")
        captions.setdefault(note["image_id"], []).append(note["caption"].strip())
    rows = []
    for image in document["images"]:
        path = images / image["file_name"]
        if not path.is_file():
            raise FileNotFoundError(
                f"{annotations}: image id {image['id']} points at {path}, which does not exist; "
                "expected the image folder next to the captions file (or set `images`)"
            )
        if image["id"] in captions:
            rows.append({"image": str(path), "captions": captions[image["id"]]})
    return rows


def carve_splits(rows: list, fractions: dict[str, float], seed: int) -> dict[str, list]:
    """Split one source deterministically: `fractions` of the rows (shuffled by `seed`) per split, the rest train."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    carved, start = {}, 0
    for split, fraction in fractions.items():
        size = max(1, round(fraction * len(rows)))
        carved[split] = [rows[i] for i in sorted(order[start : start + size])]
        start += size
    carved["train"] = [rows[i] for i in sorted(order[start:])]
    return carved
