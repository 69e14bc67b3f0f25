"""Tests of the sandbox agent (sandbox_image/agent). Makes ``openhelm_agent`` importable from the tree."""

import sys
from pathlib import Path

_AGENT_SRC = str(Path(__file__).resolve().parents[2] / "sandbox_image" / "agent")
if _AGENT_SRC not in sys.path:
    sys.path.insert(0, _AGENT_SRC)
