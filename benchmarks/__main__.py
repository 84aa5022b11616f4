"""``python -m benchmarks [--full]``: run the sections and write ``benchmarks/REPORT.md``.

On a machine shared with other jobs, OpenMP threads that spin at barriers wait for descheduled peers: a 2-thread
QR or SVD then takes 10 to 50 times longer, at random. Passive waiting keeps the figures stable; it must be set
before torch loads its OpenMP runtime, so it is set here, before any import of torch, unless the caller chose one.
"""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmarks.cli import main  # noqa: E402  (after the OpenMP setting, before torch loads)

if __name__ == "__main__":
    sys.exit(main())
