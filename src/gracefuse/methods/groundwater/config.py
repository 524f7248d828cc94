"""The groundwater recipe (Liang et al. 2025, analysis half): ``[data]`` (one of four
sources) and ``[groundwater]`` (uncertainty, trend and driver settings). No network is
trained, so ``[[models]]`` stays empty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field, field_validator

from gracefuse.analysis.separation import CORRELATIONS
from gracefuse.analysis.trends import TESTS
from gracefuse.config import BoxTuple, ModelConfig, RecipeBase, _Strict
from gracefuse.data.anomalies import GRACE_BASELINE


class NasaCaliforniaSource(_Strict):
    """NASA JPL's California decomposition (a CSV of km³ series with errors)."""

    kind: Literal["nasa_california"] = "nasa_california"
    file: str = Field(description="the 'anomaly_timeseries_all_california_..._unsmoothed.csv'")
    components: list[Literal["sm", "swe", "reservoirs"]] = Field(
        ["sm", "swe", "reservoirs"], description="stores taken off TWSA (NASA: all three)"
    )

    def resolved(self, fix: Callable[[str, str | None], str | None]) -> NasaCaliforniaSource:
        return self.model_copy(update={"file": fix("file", self.file)})


class BasinProductsSource(_Strict):
    """Basin-mean GRACE products (one CSV per product, rows basins, columns ``NAME
    YYYY-MM-15``) for the three-cornered hat, with drivers from the same folder."""

    kind: Literal["basin_products"] = "basin_products"
    folder: str
    products: list[str] = Field(
        ["TWS_GRACE_JPL_mascons_monthly.csv", "TWS_GRACE_CSR_mascons_monthly.csv",
         "TWS_GRACE_ITSG_grid_monthly.csv"],
        min_length=3, description="≥ 3 TWSA tables; each product is named by its file",
    )  # fmt: skip
    own_uncertainty: dict[str, str] = Field(
        {"JPL_mascons": "TWS_uncertainty_GRACE_JPL_mascons_monthly.csv"},
        description="product name → its own uncertainty table (compared with the TCH noise)",
    )
    drivers: dict[str, str] = Field(
        {"precipitation": "P_ERA5_Land_monthly.csv", "et": "ET_ERA5_Land_monthly.csv",
         "runoff": "R_ERA5_Land_monthly.csv"},
        description="driver name → table (mm/month)",
    )  # fmt: skip
    mask_gap_filled: bool = Field(True, description="GRACE's missing months become NaN")
    max_basins: int | None = Field(None, ge=3, description="the first N basins only (tests)")

    def resolved(self, fix: Callable[[str, str | None], str | None]) -> BasinProductsSource:
        return self.model_copy(update={"folder": fix("folder", self.folder)})


class GridComponent(_Strict):
    """One gridded store taken off TWSA: a file and its variable, with an optional error."""

    file: str
    variable: str
    error: float | str | None = Field(
        None, description="1σ: a fraction of the component's std, or a variable of the file"
    )


class GridFilesSource(_Strict):
    """TWSA and its components as CF grids. Components on another grid are regridded onto
    TWSA's conservatively (xarray-regrid), which the log states."""

    kind: Literal["grids"] = "grids"
    twsa: str = Field(description="GRACE-like TWSA grid (netCDF)")
    twsa_variable: str | None = None
    twsa_error: float | None = Field(
        None, ge=0, le=1, description="TWSA 1σ as a fraction of its std, when the file has none"
    )
    components: dict[str, GridComponent] = Field(default_factory=dict)
    box: BoxTuple | None = None

    def resolved(self, fix: Callable[[str, str | None], str | None]) -> GridFilesSource:
        comps = {k: c.model_copy(update={"file": fix(f"components.{k}.file", c.file)})
                 for k, c in self.components.items()}  # fmt: skip
        return self.model_copy(update={"twsa": fix("twsa", self.twsa), "components": comps})


class GroundwaterTwinSource(_Strict):
    """The twin as a groundwater analyst sees it: GRACE-like TWSA with its stated error,
    and an ensemble of LSMs (soil moisture, snow, canopy) that share part of their forcing
    error, as GLDAS's Noah, CLSM and VIC do. True groundwater is kept for scoring."""

    kind: Literal["groundwater_twin"] = "groundwater_twin"
    size: int = Field(32, ge=8, le=128)
    seed: int = Field(0, ge=0)
    lsm_members: int = Field(3, ge=1, le=10, description="LSMs of the ensemble")
    shared_forcing: float = Field(
        0.5, ge=0, le=1, description="correlation of the members' forcing errors"
    )
    parameter_spread: float = Field(
        0.2, ge=0, le=1, description="log-spread of the members' soil, ET and drainage settings"
    )


class Region(_Strict):
    """A named box checked for a trend hotspot (south, north, west, east)."""

    name: str
    box: BoxTuple
    expect_hotspot: bool = Field(False, description="a known depletion region (a check)")


class GroundwaterConfig(_Strict):
    """Settings of the separation, TCH, trend and driver analyses."""

    baseline: tuple[str, str] = Field(GRACE_BASELINE, description="anomaly baseline")
    correlation: Literal[CORRELATIONS] = Field(  # type: ignore[valid-type]
        "independent", description="how component errors combine (quadrature or linear)"
    )
    component_error: float = Field(
        0.1, ge=0, le=1, description="1σ of a component without a stated error or model "
        "spread, as a fraction of its std (the stated fraction)",
    )  # fmt: skip
    smooth_fwhm_deg: float = Field(
        0.0, ge=0, description="grids: smooth the components to GRACE's resolution (0: off)"
    )
    trend_test: Literal[TESTS] = Field(  # type: ignore[valid-type]
        "ar1", description="Mann-Kendall variance: ar1 (ours), hamed_rao, prewhiten, original"
    )
    alpha: float = Field(0.05, gt=0, lt=0.5)
    hotspot_threshold: float = Field(-10.0, description="mm/yr: significant trends below")
    regions: list[Region] = Field(default_factory=list)
    max_lag: int = Field(6, ge=0, le=24, description="months of driver lead searched")
    trend_start: str | None = Field(None, description="first month of the trends (YYYY-MM)")
    trend_end: str | None = None

    @field_validator("baseline")
    @classmethod
    def _ordered(cls, v):
        if not v[0] <= v[1]:
            raise ValueError("baseline start after its end")
        return v


class GroundwaterRecipe(RecipeBase):
    """A groundwater analysis: separation with propagated errors, three-cornered hat,
    trends, seasons and drivers, over the products of ``[data]``."""

    name: str = "groundwater"
    method: Literal["groundwater"] = "groundwater"
    data: Annotated[
        NasaCaliforniaSource | BasinProductsSource | GridFilesSource | GroundwaterTwinSource,
        Field(discriminator="kind"),
    ]
    groundwater: GroundwaterConfig = Field(default_factory=GroundwaterConfig)
    models: list[ModelConfig] = Field(default_factory=list, max_length=0)
