"""A small trend chart as a PNG built by hand (no plotting library), for alert emails."""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence

Color = tuple[int, int, int]
BACKGROUND: Color = (255, 255, 255)
GRID: Color = (227, 230, 235)
LINE: Color = (192, 57, 43)
BAR: Color = (200, 212, 240)
HIGHLIGHT: Color = (255, 236, 230)


def _png(width: int, height: int, pixels: list[bytearray]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def trend_png(
    shares: Sequence[float | None],
    volumes: Sequence[int],
    *,
    width: int = 480,
    height: int = 140,
    highlight_last: int = 1,
) -> bytes:
    """Negative share as a red line over volume bars; the last `highlight_last` points shaded.

    A share of None (a window without texts) leaves a gap in the line: no texts is not 0%."""
    pixels = [bytearray(BACKGROUND * width) for _ in range(height)]

    def put(x: int, y: int, color: Color) -> None:
        if 0 <= x < width and 0 <= y < height:
            pixels[y][3 * x : 3 * x + 3] = bytes(color)

    pad = 6
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = pad + round(inner_h * (1 - frac))
        for x in range(pad, width - pad):
            put(x, y, GRID)
    n = len(shares)
    if n == 0:
        return _png(width, height, pixels)
    step = inner_w / max(n, 1)
    top_volume = max(max(volumes, default=0), 1)
    for i in range(n):
        x0, x1 = pad + round(i * step), pad + round((i + 1) * step) - 1
        if i >= n - highlight_last:
            for x in range(x0, x1 + 1):
                for y in range(pad, height - pad):
                    put(x, y, HIGHLIGHT)
        bar_h = round(inner_h * 0.5 * volumes[i] / top_volume)
        for x in range(x0 + 1, max(x0 + 2, x1)):
            for y in range(height - pad - bar_h, height - pad):
                put(x, y, BAR)
    points = [
        (pad + round((i + 0.5) * step), pad + round(inner_h * (1 - min(max(s, 0.0), 1.0))))
        if s is not None
        else None
        for i, s in enumerate(shares)
    ]
    for a, b in itertools.pairwise(points):
        if a is None or b is None:
            continue
        (xa, ya), (xb, yb) = a, b
        steps = max(abs(xb - xa), abs(yb - ya), 1)
        for k in range(steps + 1):
            x = xa + round((xb - xa) * k / steps)
            y = ya + round((yb - ya) * k / steps)
            for dx in (0, 1):
                for dy in (0, 1):
                    put(x + dx, y + dy, LINE)
    for x, y in (p for p in points if p is not None):
        for dx in (-2, -1, 0, 1, 2):
            for dy in (-2, -1, 0, 1, 2):
                put(x + dx, y + dy, LINE)
    return _png(width, height, pixels)
