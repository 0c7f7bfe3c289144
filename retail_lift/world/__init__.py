"""The simulated retail world with known ground truth (see :mod:`retail_lift.world.generate`)."""

from retail_lift.world.generate import generate_world
from retail_lift.world.presets import PRESETS, get_preset

__all__ = ["generate_world", "PRESETS", "get_preset"]
