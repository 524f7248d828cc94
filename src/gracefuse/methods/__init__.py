"""Method families: one package each (fusion, reconstruction; hybrid, groundwater and
downscaling follow)."""
