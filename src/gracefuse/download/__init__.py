"""Downloads of the products the recipes read: NASA Earthdata search and login through
earthaccess (:mod:`~gracefuse.download.earthdata`), a resumable, checksummed local cache
(:mod:`~gracefuse.download.cache`), and the products known by name
(:mod:`~gracefuse.download.products`)."""
