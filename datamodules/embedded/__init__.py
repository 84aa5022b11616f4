"""Offline tasks generated in code, one per family: deterministic in (split, seed), with held-out combinations.

Each module has `generate(split, size, seed, **options) -> list[dict]` returning canonical rows, and a two-line
description of the task in its docstring (the README repeats it). Held-out combinations are drawn from the seed and
appear only in validation and test, so a model has to compose what it learned rather than recall it.
"""
