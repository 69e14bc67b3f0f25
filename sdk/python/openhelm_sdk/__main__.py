"""``python -m openhelm_sdk``: the ``openhelm`` CLI."""

import sys

from openhelm_sdk.cli import main

sys.exit(main())
