"""Build the dev E2B template ``openhelm-agent-dev``: ``E2B_API_KEY=... python sandbox_image/build_dev.py``.

Pass ``--skip-cache`` to rebuild every layer.
"""

from __future__ import annotations

import sys

from template import build  # run as a script: this folder is on sys.path

NAME = "openhelm-agent-dev"

if __name__ == "__main__":
    build(NAME, skip_cache="--skip-cache" in sys.argv[1:])
