"""Tests of the repository-level tools; they run in shared/'s environment (make compare)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
