"""Analysis functions usable on their own, on series or grids (xarray in, xarray out):

- :mod:`~gracefuse.analysis.separation` groundwater from total storage, with propagated
  uncertainty;
- :mod:`~gracefuse.analysis.tch` the three-cornered hat over GRACE products and their
  inverse-variance combination;
- :mod:`~gracefuse.analysis.trends` Sen slopes with autocorrelation-aware intervals,
  Mann–Kendall, STL, seasons, hotspots and lagged driver correlations.
"""
