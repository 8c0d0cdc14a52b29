"""The class colours stay apart for readers with a colour-vision deficiency.

The web app takes every class colour from ``web/src/lib/palette.json``. Each colour is
seen as a reader with full deuteranopia, protanopia or tritanopia sees it (the linear-RGB
matrices of Machado, Oliveira and Fernandes 2009, severity 1.0), and every pair must stay
at least ``MIN_DISTANCE`` apart in CIEDE2000 (Sharma, Wu and Dalal 2005), where a
difference of about 2 is just noticeable and 10 is plainly another colour.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

PALETTE = Path(__file__).resolve().parents[1] / "web" / "src" / "lib" / "palette.json"
#: Smallest CIEDE2000 difference between two class colours, in every vision simulated.
MIN_DISTANCE = 10.0
#: Smallest difference between a class colour and the colour that marks mistakes.
MIN_ERROR_DISTANCE = 15.0

VISIONS = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritanopia": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}


def linear_rgb(color: str) -> np.ndarray:
    """An sRGB hex colour as linear RGB in [0, 1]."""
    srgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear RGB."""
    to_xyz = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = to_xyz @ np.clip(linear, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(first: np.ndarray, second: np.ndarray) -> float:
    """The CIEDE2000 colour difference of two CIELAB colours (Sharma et al. 2005)."""
    (l1, a1, b1), (l2, a2, b2) = first, second
    chroma_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(chroma_mean**7 / (chroma_mean**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1 = np.degrees(np.arctan2(b1, a1)) % 360
    h2 = np.degrees(np.arctan2(b2, a2)) % 360
    dh = h2 - h1
    if c1 * c2 == 0:
        dh = 0.0
    elif dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    big_dh = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        h_mean = h1 + h2
    elif abs(h1 - h2) <= 180:
        h_mean = (h1 + h2) / 2
    else:
        h_mean = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    rotation = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    rc = 2 * np.sqrt(c_mean**7 / (c_mean**7 + 25**7))
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    sc = 1 + 0.045 * c_mean
    sh = 1 + 0.015 * c_mean * t
    rt = -np.sin(np.radians(2 * rotation)) * rc
    dl, dc = (l2 - l1) / sl, (c2 - c1) / sc
    dh_term = big_dh / sh
    return float(np.sqrt(dl**2 + dc**2 + dh_term**2 + rt * dc * dh_term))


def seen(color: str, vision: str) -> np.ndarray:
    return lab(VISIONS[vision] @ linear_rgb(color))


def test_ciede2000_matches_the_published_test_data() -> None:
    # Pairs 1, 7 and 17 of Sharma, Wu and Dalal's table of test data.
    pairs = [
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ]
    for first, second, expected in pairs:
        assert ciede2000(np.array(first), np.array(second)) == pytest.approx(expected, abs=1e-4)


def test_the_simulation_merges_what_a_dichromat_confuses() -> None:
    # A classic red/green pair: far apart in normal vision, close for a deuteranope.
    red, green = "#c0392b", "#6d8a2f"
    normal = ciede2000(seen(red, "normal"), seen(green, "normal"))
    deutan = ciede2000(seen(red, "deuteranopia"), seen(green, "deuteranopia"))
    assert normal > 30 and deutan < normal / 2


def test_class_colours_stay_apart_in_every_vision() -> None:
    palette = json.loads(PALETTE.read_text())
    colors = palette["classes"]
    assert len(colors) >= 10 and len(set(colors)) == len(colors)
    worst = min(
        (ciede2000(seen(a, vision), seen(b, vision)), vision, a, b)
        for vision in VISIONS
        for a, b in itertools.combinations(colors, 2)
    )
    assert worst[0] >= MIN_DISTANCE, f"too close: {worst}"


def test_class_colours_stay_apart_from_the_mistake_colour() -> None:
    palette = json.loads(PALETTE.read_text())
    error = seen(palette["error"], "normal")
    closest = min((ciede2000(seen(c, "normal"), error), c) for c in palette["classes"])
    assert closest[0] >= MIN_ERROR_DISTANCE, f"too close to the mistake colour: {closest}"


def test_the_old_tableau_colours_would_fail() -> None:
    # The check can fail: the previous palette had pairs a protanope could not tell apart.
    old = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#9c755f"]
    old += ["#ff9da7", "#5b5f97", "#8cd17d"]
    worst = min(
        ciede2000(seen(a, "protanopia"), seen(b, "protanopia"))
        for a, b in itertools.combinations(old, 2)
    )
    assert worst < MIN_DISTANCE
