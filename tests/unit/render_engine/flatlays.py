"""Synthetic flat-lay photos with their landmarks, as garment prep would hand them over."""

from __future__ import annotations

import cv2
import numpy as np

from services.render.engine.api import GarmentTexture

BOTTOM_TYPES = ("trousers", "shorts", "skirt")
LONG_SLEEVED = ("long-sleeve-top", "shirt", "knitwear", "jacket")
WIDTH, HEIGHT = 600, 700
STRIPE_PX = 30
STRIPE_RGB = (245, 245, 240)


def _outline(garment_type: str) -> tuple[list[tuple[int, int]], dict[str, tuple[float, float]]]:
    if garment_type == "skirt":
        poly = [(180, 40), (420, 40), (520, 660), (80, 660)]
        return poly, {"waist_left": (180, 40), "waist_right": (420, 40), "hem_left": (80, 660), "hem_right": (520, 660)}
    if garment_type in BOTTOM_TYPES:
        bottom = 660 if garment_type == "trousers" else 330
        poly = [(150, 40), (450, 40), (480, bottom), (320, bottom), (300, 250), (280, bottom), (120, bottom)]
        marks = {
            "waist_left": (150, 40),
            "waist_right": (450, 40),
            "crotch": (300, 250),
            "hem_left": (200, bottom),
            "hem_right": (400, bottom),
        }
        return poly, marks
    if garment_type in LONG_SLEEVED:
        poly = [
            (220, 40),
            (260, 60),
            (340, 60),
            (380, 40),
            (470, 70),
            (599, 540),
            (500, 590),
            (460, 220),
            (460, 660),
            (140, 660),
            (140, 220),
            (100, 590),
            (0, 540),
            (130, 70),
        ]
        sleeve_ends = {"sleeve_end_left": (50, 565), "sleeve_end_right": (550, 565)}
    else:
        poly = [
            (220, 40),
            (260, 60),
            (340, 60),
            (380, 40),
            (470, 70),
            (570, 250),
            (490, 290),
            (460, 220),
            (460, 660),
            (140, 660),
            (140, 220),
            (110, 290),
            (30, 250),
            (130, 70),
        ]
        sleeve_ends = {"sleeve_end_left": (70, 270), "sleeve_end_right": (530, 270)}
    marks = {
        **sleeve_ends,
        "neckline_centre": (300, 60),
        "shoulder_left": (150, 70),
        "shoulder_right": (450, 70),
        "armpit_left": (140, 220),
        "armpit_right": (460, 220),
        "hem_left": (140, 660),
        "hem_right": (460, 660),
    }
    return poly, marks


def flatlay(garment_type: str, colour: tuple[int, int, int], striped: bool = False) -> GarmentTexture:
    """A garment-shaped cut-out in `colour`; striped: white horizontal bands STRIPE_PX high."""
    poly, marks = _outline(garment_type)
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillPoly(mask, [np.array(poly, np.int32)], 255)
    rgba = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    rgba[..., :3] = colour
    if striped:
        rgba[(np.arange(HEIGHT) // STRIPE_PX) % 2 == 1, :, :3] = STRIPE_RGB
    rgba[..., 3] = mask
    return GarmentTexture(rgba=rgba, landmarks=marks, colour=colour)
