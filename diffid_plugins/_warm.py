"""Background compile of a model's specialised tier: ``python -m diffid_plugins._warm FILE``.

Started by :func:`diffid_plugins._kernels.kernels_for` (tier ``"auto"``) as a niced child
process in its own session, with ``DIFFID_PLUGINS_BACKGROUND=0``, when the background slot is
free (one such compile at a time per cache directory). It compiles the model's specialised
module, calls its entry points the way the parent will, writes the ready mark and releases
the slot. The parent swaps the module in on its next call. Output goes to a ``.log`` file next
to the generated module.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Compile the specialised tier of the model in FILE; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m diffid_plugins._warm")
    parser.add_argument("file", help="DiffSL model text written by the parent process")
    parser.add_argument("--read-dir", default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    from diffid_plugins import _kernels

    with open(args.file, encoding="utf-8") as handle:
        text = handle.read()
    try:
        _kernels.warm(text, read_dir=args.read_dir, tiers=("specialised",))
    finally:
        _kernels.release_slot()
    return 0


if __name__ == "__main__":
    sys.exit(main())
