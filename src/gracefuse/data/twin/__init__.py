"""The synthetic twin: a physically consistent world with known truth.

A monthly bucket model (snow, canopy, soil, surface water, groundwater) is driven by
monsoon-like precipitation and seasonal temperature over the India box of Sun et al.
(2019). Its water balance closes to numerical precision: for every cell and month,
``ΔTWS = P − ET − runoff``. Groundwater carries an irrigation-driven depletion trend in a
north-western region (pumped water is applied to the soil and evaporates) and drops in the
real Indian drought years.

The modules follow the pipeline of the twin:

- :mod:`~gracefuse.data.twin.geography` random fields, land mask, relief;
- :mod:`~gracefuse.data.twin.forcing` precipitation, temperature, pumping;
- :mod:`~gracefuse.data.twin.bucket` the bucket model (truth and LSM);
- :mod:`~gracefuse.data.twin.lsm` the LSM: no surface water, no groundwater, no pumping,
  its own forcing and parameter errors (:class:`LSMErrors`);
- :mod:`~gracefuse.data.twin.calibrate` solves those errors per world so that the raw
  LSM against GRACE reproduces Sun et al.'s Table 1, row 1;
- :mod:`~gracefuse.data.twin.grace` GRACE: smoothed truth + correlated noise, real gaps;
- :mod:`~gracefuse.data.twin.fine` the 4× fine groundwater grid;
- :mod:`~gracefuse.data.twin.wells` wells sampling its groundwater;
- :mod:`~gracefuse.data.twin.build` and :mod:`~gracefuse.data.twin.dataset` assemble it.

Same seed, same world: every random field is defined in continuous coordinates and every
month draws from its own stream, and the LSM is calibrated on one fixed 32×32 rendering,
so a seed gives one world at any grid size and for any start/end dates.
"""

from gracefuse.data.twin.build import make_twin, render, solve_lsm_errors
from gracefuse.data.twin.calibrate import SUN2019_TABLE1, calibrate_lsm, split_skill
from gracefuse.data.twin.config import SIM_START, TwinConfig
from gracefuse.data.twin.dataset import OBSERVABLE, TRUTH, calibration_table
from gracefuse.data.twin.fine import make_fine_grid
from gracefuse.data.twin.grace import grace_available
from gracefuse.data.twin.lsm import LSMErrors
from gracefuse.data.twin.wells import make_wells

__all__ = [
    "OBSERVABLE",
    "SIM_START",
    "SUN2019_TABLE1",
    "TRUTH",
    "LSMErrors",
    "TwinConfig",
    "calibrate_lsm",
    "calibration_table",
    "grace_available",
    "make_fine_grid",
    "make_twin",
    "make_wells",
    "render",
    "solve_lsm_errors",
    "split_skill",
]
