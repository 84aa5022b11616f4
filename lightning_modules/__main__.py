"""``python -m lightning_modules``: the same command line as the ``galoreplus`` console script."""

from lightning_modules.cli import main

if __name__ == "__main__":
    main()
