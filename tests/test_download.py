"""Downloads: a local HTTP server on the loopback address serves a small real-format
netCDF file and breaks the connection mid-file; the cache resumes, checks the checksum,
never holds a partial file, and names what went wrong. The search is replaced at the
boundary (earthaccess's part); one test runs against NASA when a login is present."""

import hashlib
import os

import numpy as np
import pytest
import requests
import xarray as xr

from fileserver import FileServer
from gracefuse.cli import main
from gracefuse.download.cache import Cache, DownloadError, RemoteFile, fetch
from gracefuse.download.products import get_product
from gracefuse.download.run import download_product


def _nc_bytes(tmp_path) -> bytes:
    ds = xr.Dataset(
        {"lwe_thickness": (("time", "lat", "lon"), np.arange(2 * 200 * 300, dtype="f4").reshape(2, 200, 300),
                           {"units": "cm"})},
        coords={"time": np.array(["2003-01-15", "2003-02-15"], dtype="datetime64[ns]"),
                "lat": np.linspace(-49.75, 49.75, 200), "lon": np.linspace(0.25, 149.75, 300)},
    )  # fmt: skip
    path = tmp_path / "src.nc"
    ds.to_netcdf(path)
    return path.read_bytes()


@pytest.fixture
def data(tmp_path):
    return _nc_bytes(tmp_path)


def _remote(server, data, name="GRCTellus.JPL.test.nc", checksum=None):
    digest = checksum or hashlib.md5(data).hexdigest()
    return RemoteFile(f"{server.url}/{name}", name, digest, "MD5", len(data))


def test_a_broken_download_resumes_and_matches_the_checksum(tmp_path, data):
    server = FileServer({"GRCTellus.JPL.test.nc": data}, breaks=2)
    try:
        cache = Cache(tmp_path / "cache")
        path = fetch(_remote(server, data), cache, requests.Session())
    finally:
        server.close()
    assert path.read_bytes() == data
    ranges = [r for _, r in server.requests]
    assert ranges[0] is None and all(r and r.startswith("bytes=") for r in ranges[1:])
    assert len(server.requests) == 3
    assert list(cache.partial.iterdir()) == []
    assert sorted(p.name for p in cache.root.iterdir()) == [
        ".partial",
        "GRCTellus.JPL.test.nc",
        "cache.json",
    ]
    with xr.open_dataset(path) as ds:
        assert ds.lwe_thickness.attrs["units"] == "cm"


def test_a_cached_file_is_not_fetched_again(tmp_path, data):
    server = FileServer({"a.nc": data}, breaks=0)
    try:
        cache = Cache(tmp_path)
        remote = _remote(server, data, "a.nc")
        fetch(remote, cache, requests.Session())
        fetch(remote, cache, requests.Session())
    finally:
        server.close()
    assert len(server.requests) == 1


def test_a_server_that_ignores_ranges_starts_over_and_still_ends_whole(tmp_path, data):
    server = FileServer({"a.nc": data}, breaks=1, ranges=False)
    try:
        path = fetch(_remote(server, data, "a.nc"), Cache(tmp_path), requests.Session())
    finally:
        server.close()
    assert path.read_bytes() == data


def test_a_wrong_checksum_is_named_and_leaves_nothing_in_the_cache(tmp_path, data):
    server = FileServer({"a.nc": data}, breaks=0)
    cache = Cache(tmp_path)
    try:
        with pytest.raises(DownloadError, match=r"a\.nc .*MD5 .* does not match"):
            fetch(_remote(server, data, "a.nc", checksum="0" * 32), cache, requests.Session())
    finally:
        server.close()
    assert not (tmp_path / "a.nc").exists() and list(cache.partial.iterdir()) == []
    assert "a.nc" not in cache.index()


def test_a_server_that_keeps_failing_keeps_the_partial_for_the_next_run(tmp_path, data):
    server = FileServer({"a.nc": data}, breaks=100, cut=0.0)
    try:
        with pytest.raises(DownloadError, match="retries without progress"):
            fetch(_remote(server, data, "a.nc"), Cache(tmp_path), requests.Session(), retries=2)
        server.breaks = 0
        path = fetch(_remote(server, data, "a.nc"), Cache(tmp_path), requests.Session())
    finally:
        server.close()
    assert path.read_bytes() == data


def test_download_product_with_the_search_replaced_at_the_boundary(tmp_path, data):
    files = {"GLDAS_NOAH025_M.A200301.021.nc4": data, "GLDAS_NOAH025_M.A200302.021.nc4": data[::-1]}
    server = FileServer(files, breaks=1)
    seen = {}

    def search(product, start, end, box):
        seen.update(product=product.short_name, start=start, end=end, box=box)
        return [RemoteFile(f"{server.url}/{n}", n, hashlib.sha256(b).hexdigest(), "SHA-256", len(b))
                for n, b in files.items()]  # fmt: skip

    try:
        paths = download_product("gldas_noah025_m", "2003-01", "2003-02", "68,8,97,37",
                                 tmp_path, search=search, session=requests.Session(),
                                 progress=False)  # fmt: skip
    finally:
        server.close()
    assert seen == {"product": "GLDAS_NOAH025_M", "start": "2003-01", "end": "2003-02",
                    "box": (68.0, 8.0, 97.0, 37.0)}  # fmt: skip
    assert [p.read_bytes() for p in paths] == list(files.values())


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["nope", "--start", "2003-01", "--end", "2003-02"],
            "unknown product 'nope'; known: jpl_mascon",
        ),
        (["gldas_noah025_m", "--start", "2003-13", "--end", "2003-02"], "--start '2003-13'"),
        (["gldas_noah025_m", "--start", "2004-01", "--end", "2003-02"], "comes after"),
        (
            ["gldas_noah025_m", "--start", "2003-01", "--end", "2003-02", "--box", "9,0,1,5"],
            "W < E",
        ),
    ],
)
def test_bad_download_requests_are_one_clear_message(tmp_path, capsys, args, message):
    assert main(["download", *args, "--to", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err


def test_no_login_is_one_clear_message(tmp_path, monkeypatch, capsys):
    pytest.importorskip("earthaccess")
    for var in ("EARTHDATA_USERNAME", "EARTHDATA_PASSWORD", "EARTHDATA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no_netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    code = main(["download", "gldas_noah025_m", "--start", "2003-01", "--end", "2003-01",
                 "--to", str(tmp_path / "c")])  # fmt: skip
    assert code == 2
    assert "no Earthdata login found" in capsys.readouterr().err


def test_the_download_extra_missing_is_named(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_earthaccess(name, *args, **kwargs):
        if name == "earthaccess":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_earthaccess)
    with pytest.raises(DownloadError, match=r"pip install 'gracefuse\[download\]'"):
        download_product("jpl_mascon", "2003-01", "2003-01", None, "unused", progress=False)


@pytest.mark.skipif(not (os.environ.get("EARTHDATA_USERNAME") or os.environ.get("EARTHDATA_TOKEN")),
                    reason="no NASA Earthdata login in the environment")  # fmt: skip
def test_one_gldas_month_from_nasa(tmp_path):
    pytest.importorskip("earthaccess")
    (path,) = download_product("gldas_noah025_m", "2003-01", "2003-01", None, tmp_path,
                               progress=False)  # fmt: skip
    with xr.open_dataset(path) as ds:
        assert "SoilMoi0_10cm_inst" in ds
    assert get_product("gldas_noah025_m").version == "2.1"
