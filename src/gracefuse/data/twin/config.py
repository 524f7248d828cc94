"""Settings of the synthetic twin."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gracefuse.data.grid import Box
from gracefuse.data.twin.calibrate import SUN2019_TABLE1
from gracefuse.data.twin.lsm import LSMErrors
from gracefuse.limits import FIRST_MONTH, check_box, check_twin, parse_month

#: the simulation always starts here (after spin-up) so that any start date sees one world
SIM_START = FIRST_MONTH
SPINUP_YEARS = 10


class TwinConfig(BaseModel):
    """Parameters of the synthetic twin.

    The LSM's errors are not set by hand: with ``lsm_errors = None`` (the default) they are
    solved for each world so that the raw LSM against GRACE reaches ``lsm_targets`` (Sun et
    al. 2019, Table 1, row 1); see :func:`gracefuse.data.twin.calibrate.calibrate_lsm`. The
    solved values are recorded in the twin's ``twin_config`` attribute.
    """

    model_config = ConfigDict(extra="forbid")

    size: int = Field(32, ge=8, description="cells per side of the coarse grid")
    seed: int = Field(0, ge=0, description="random seed (same seed, same world)")
    start: str = "2002-04"
    end: str = "2017-12"
    south: float = 7.75
    north: float = 47.75
    west: float = 60.0
    east: float = 100.0
    fine_factor: int = Field(4, ge=1)
    make_fine: bool = True
    n_wells: int = Field(60, ge=0)
    grace_fwhm_deg: float = Field(3.0, gt=0, description="GRACE smoothing (Gaussian FWHM)")
    grace_noise_mm: float = Field(18.0, ge=0, description="typical GRACE noise (1 sigma)")
    depletion_mm_per_year: float = Field(34.0, ge=0, description="peak pumping, true GW")
    surface_water_share: float = Field(0.096, ge=0, le=1)
    recharge_coef: float = Field(0.312, ge=0)
    lsm_errors: LSMErrors | None = Field(None, description="None: solved for lsm_targets")
    lsm_targets: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in SUN2019_TABLE1.items()},
        description="region-mean r and NSE of the raw LSM against GRACE, train and test",
    )

    @field_validator("start", "end")
    @classmethod
    def _month(cls, v: str) -> str:
        return parse_month(v)

    @model_validator(mode="after")
    def _limits(self) -> TwinConfig:
        check_twin(self.size, self.start, self.end)
        check_box(self.south, self.north, self.west, self.east)
        return self

    @property
    def box(self) -> Box:
        return Box(self.south, self.north, self.west, self.east)
