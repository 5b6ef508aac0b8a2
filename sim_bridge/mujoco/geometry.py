"""Ground-plane geometry: oriented rectangles, footprint checks and the free-space grid."""

from __future__ import annotations

import math

import cv2
import numpy as np

from sim_bridge.backend import FreeSpace

Rect = tuple[np.ndarray, np.ndarray, float]  # (centre (2,), half extents (2,), yaw_deg)


def rect_corners(rect: Rect) -> np.ndarray:
    """(4, 2) corners of an oriented rectangle."""
    c, h, yaw = rect
    t = math.radians(yaw)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * h
    return local @ rot.T + c


def rects_overlap(a: Rect, b: Rect) -> bool:
    """Separating-axis test of two oriented rectangles (touching counts as overlap)."""
    dx, dy = float(a[0][0] - b[0][0]), float(a[0][1] - b[0][1])
    reach = math.hypot(*a[1]) + math.hypot(*b[1])
    if dx * dx + dy * dy > reach * reach:  # circumscribed circles apart: cheap early out
        return False
    ca, cb = rect_corners(a), rect_corners(b)
    for rect in (a, b):
        t = math.radians(rect[2])
        for axis in (np.array([math.cos(t), math.sin(t)]), np.array([-math.sin(t), math.cos(t)])):
            pa, pb = ca @ axis, cb @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def distance_to_rects(points: np.ndarray, rects: list[Rect]) -> np.ndarray:
    """(N,) distance from each point to the nearest rectangle (0 inside).

    For a rectangle with centre c, half extents h and rotation R, the distance of p is
    ``|max(|R^T (p - c)| - h, 0)|``.
    """
    best = np.full(len(points), np.inf)
    for c, h, yaw in rects:
        t = math.radians(yaw)
        d = points - c
        lx = np.abs(math.cos(t) * d[:, 0] + math.sin(t) * d[:, 1]) - h[0]
        ly = np.abs(-math.sin(t) * d[:, 0] + math.cos(t) * d[:, 1]) - h[1]
        dist = np.hypot(np.maximum(lx, 0), np.maximum(ly, 0))
        best = np.minimum(best, dist)
    return best


def free_space_grid(
    bounds: tuple[float, float, float, float],
    obstacles: list[Rect],
    radius: float,
    resolution: float = 0.1,
    seed_xy: tuple[float, float] | None = None,
) -> FreeSpace:
    """Cells whose centre is at least ``radius`` from every obstacle, one connected region.

    Keeps the 4-connected component containing ``seed_xy`` (or the largest one), so every
    free cell is reachable from every other.
    """
    xmin, ymin, xmax, ymax = bounds
    nx = math.ceil((xmax - xmin) / resolution)
    ny = math.ceil((ymax - ymin) / resolution)
    origin = np.array([xmin, ymin])
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    pts = origin + (np.stack([ii.ravel(), jj.ravel()], axis=1) + 0.5) * resolution
    free = (distance_to_rects(pts, obstacles) >= radius).reshape(nx, ny)
    n, labels = cv2.connectedComponents(free.astype(np.uint8), connectivity=4)
    if n > 1:
        keep = 0
        if seed_xy is not None:
            i, j = np.floor((np.asarray(seed_xy) - origin) / resolution).astype(int)
            if 0 <= i < nx and 0 <= j < ny and free[i, j]:
                keep = labels[i, j]
        if keep == 0:
            counts = np.bincount(labels.ravel())
            counts[0] = 0
            keep = int(np.argmax(counts))
        free = labels == keep
    return FreeSpace(origin=origin, resolution=resolution, free=free)
