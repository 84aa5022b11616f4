"""`make bench`: speed and memory of the optimizer as ratios against references measured in the same run.

``python -m benchmarks`` runs every section and writes ``benchmarks/REPORT.md``; ``--full`` adds the d = 4096 and
LLaMA-7B MLP shapes. The sections are plain functions, so the tests can check their arithmetic on tiny inputs.
"""
