#!/usr/bin/python3
"""PIL's polygon fill on the raster suite's polygons (the peer of polygonSpans).

Usage: /usr/bin/python3 scripts/bench/pil_raster.py POLYGONS.bin

The file (written by scripts/bench/raster-suite.ts), little-endian:
  uint32 count
  uint32 vertices[count]      vertices of each polygon (one ring each)
  uint8  values[count]        class id to fill with
  float64 xy[2 * sum(vertices)]  flat x, y in level-0 pixels

PIL has no sparse tile grid, so each polygon is drawn into its own 'L' image
covering just the polygon's bounding box. That is PIL's best case: it never
touches a pixel outside the bbox, while our side writes into shared 512-px
tiles and splits spans at tile borders. The timed loop is Image.new + the
polygon fill; reading the file and building the point lists is not timed.

A full untimed warm-up pass also counts the pixels PIL fills (its rule puts
the outline in, so the count is a little above ours); then three timed passes.
Prints one JSON object: {pil, polygons, vertices, pixels, runs, seconds}.
"""

import json
import math
import statistics
import sys
import time
from array import array

from PIL import Image, ImageDraw, __version__ as PIL_VERSION


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    if sys.byteorder != "little":
        raise SystemExit("pil_raster.py: expects a little-endian machine")
    count = array("I")
    count.frombytes(data[0:4])
    n = count[0]
    off = 4
    vertices = array("I")
    vertices.frombytes(data[off : off + 4 * n])
    off += 4 * n
    values = data[off : off + n]
    off += n
    xy = array("d")
    xy.frombytes(data[off:])
    if len(xy) != 2 * sum(vertices):
        raise SystemExit("pil_raster.py: coordinate count does not match the vertex counts")
    polygons = []
    k = 0
    for i in range(n):
        m = vertices[i]
        xs = xy[k : k + 2 * m : 2]
        ys = xy[k + 1 : k + 2 * m : 2]
        k += 2 * m
        x0 = math.floor(min(xs))
        y0 = math.floor(min(ys))
        w = math.ceil(max(xs)) - x0 + 1
        h = math.ceil(max(ys)) - y0 + 1
        # PIL samples at integer coordinates; shift by half a pixel so pixel centres line up with ours
        points = [(x - x0 - 0.5, y - y0 - 0.5) for x, y in zip(xs, ys)]
        polygons.append(((w, h), points, values[i]))
    return polygons, sum(vertices)


def draw_all(polygons, count_pixels=False):
    pixels = 0
    for size, points, value in polygons:
        img = Image.new("L", size)
        ImageDraw.Draw(img).polygon(points, fill=value)
        if count_pixels:
            pixels += img.histogram()[value]
    return pixels


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    polygons, vertices = load(sys.argv[1])
    pixels = draw_all(polygons, count_pixels=True)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        draw_all(polygons)
        runs.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "pil": PIL_VERSION,
                "polygons": len(polygons),
                "vertices": vertices,
                "pixels": pixels,
                "runs": runs,
                "seconds": statistics.median(runs),
            }
        )
    )


if __name__ == "__main__":
    main()
