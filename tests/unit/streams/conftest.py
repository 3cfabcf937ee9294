"""Streams unit tests share the independent ground truth with the integration tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "streams"))
