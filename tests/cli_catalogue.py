"""Runs many ``galoreplus`` command lines in one process (one Python start-up instead of one per case).

``python tests/cli_catalogue.py CASES.json RESULTS.json``: CASES is ``{case_id: argv}``; for each case this calls
``lightning_modules.cli.main(argv)`` as the console script would and records its exit code and what it wrote to
stderr. An exception that escapes ``main`` is recorded with its traceback under code ``"uncaught"``: the console
script would have printed that traceback.
"""

import contextlib
import io
import json
import sys
import traceback
import warnings
from pathlib import Path


def run_case(argv: list[str]) -> dict:
    from lightning_modules.cli import main

    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            main(list(argv))
            code: int | str | None = 0
        except SystemExit as stop:
            code = stop.code
        except BaseException:  # noqa: BLE001 - the point is to report what the user would have seen
            code = "uncaught"
            traceback.print_exc(file=stderr)
    return {"code": code, "stderr": stderr.getvalue()}


def main() -> None:
    cases_file, results_file = (Path(arg) for arg in sys.argv[1:3])
    warnings.simplefilter("ignore")
    cases = json.loads(cases_file.read_text())
    results = {case_id: run_case(argv) for case_id, argv in cases.items()}
    results_file.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
