"""The fixed real policy bundle of the tests (``test/data/README.md``): a trained graph that
does not change when a better policy ships."""

from pathlib import Path

KNOWN_BUNDLE = Path(__file__).resolve().parent / "data" / "objnav-ppo-lag-2026-12-03"
