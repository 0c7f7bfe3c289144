"""The simulated retail world with known ground truth (see :mod:`retail_lift.world.generate`).

:mod:`retail_lift.world.truth` is its public truth interface in memory (:class:`SimulationWorld`); only
:mod:`retail_lift.evaluation` and the command line that generates worlds import this package (``make lint``).
"""

from retail_lift.world.generate import generate_world
from retail_lift.world.presets import PRESETS, Preset, get_preset
from retail_lift.world.truth import SimulationWorld

__all__ = ["generate_world", "PRESETS", "Preset", "get_preset", "SimulationWorld"]
