"""The procedurally generated domain the tiny CLIP learns: coloured shapes on plain backgrounds.

The TypeScript tests draw their own images of the same domain (with seeds this module never
uses), so everything they need to know about it is also written to the fixture's reference file.
"""
import math
import random

import numpy as np
from PIL import Image, ImageDraw

# Saturated colours spread around the hue circle, so that jitter never makes two of them meet.
COLOURS = {
    "red": (215, 30, 35),
    "orange": (245, 135, 20),
    "yellow": (240, 215, 30),
    "green": (40, 165, 55),
    "cyan": (30, 195, 215),
    "blue": (35, 65, 215),
    "purple": (125, 45, 185),
    "pink": (245, 115, 190),
}
SHAPES = ["circle", "square", "triangle", "star"]
CLASSES = [f"{colour} {shape}" for colour in COLOURS for shape in SHAPES]

# CLIP's usual prompt templates, including the gateway's default "a photo of a {}.".
TEMPLATES = [
    "a photo of a {}.",
    "a photo of the {}.",
    "a picture of a {}.",
    "an image of a {}.",
    "a drawing of a {}.",
    "a rendering of a {}.",
    "a good photo of a {}.",
    "a close-up photo of a {}.",
    "a cropped photo of a {}.",
    "a photo of a small {}.",
    "a photo of a big {}.",
    "itap of a {}.",
    "a {}.",
    "{}",
]

# Jitter bounds, shared with the TypeScript generator through the reference file.
COLOUR_JITTER = 18
BACKGROUND_TINT = 22
SUPERSAMPLE = 4


def shape_polygon(shape, cx, cy, radius, angle):
    """Vertices of a regular polygon shape (square, triangle, star) centred at (cx, cy)."""
    if shape == "square":
        # radius is the half side; the corners sit at radius * sqrt(2)
        corners = [(math.pi / 4 + k * math.pi / 2) for k in range(4)]
        r = radius * math.sqrt(2)
        return [(cx + r * math.cos(a + angle), cy + r * math.sin(a + angle)) for a in corners]
    if shape == "triangle":
        r = radius * 1.15
        return [
            (cx + r * math.cos(angle - math.pi / 2 + k * 2 * math.pi / 3),
             cy + r * math.sin(angle - math.pi / 2 + k * 2 * math.pi / 3))
            for k in range(3)
        ]
    if shape == "star":
        r_outer, r_inner = radius * 1.2, radius * 0.5
        points = []
        for k in range(10):
            r = r_outer if k % 2 == 0 else r_inner
            a = angle - math.pi / 2 + k * math.pi / 5
            points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        return points
    raise ValueError(f"unknown shape {shape}")


def draw_example(colour, shape, rng: random.Random, width=None, height=None):
    """One RGB image of `colour shape`, of a random (often non-square) size between 64 and 128 px.

    The shape stays inside the central square so a centre crop keeps all of it.
    """
    width = width or rng.randint(64, 128)
    height = height or rng.randint(64, 128)
    grey = rng.randint(0, 255)
    background = tuple(max(0, min(255, grey + rng.randint(-BACKGROUND_TINT, BACKGROUND_TINT))) for _ in range(3))
    base = COLOURS[colour]
    fill = tuple(max(0, min(255, c + rng.randint(-COLOUR_JITTER, COLOUR_JITTER))) for c in base)

    s = SUPERSAMPLE
    image = Image.new("RGB", (width * s, height * s), background)
    draw = ImageDraw.Draw(image)
    side = min(width, height)
    radius = rng.uniform(0.2, 0.36) * side
    slack = max(0.0, side / 2 - radius * 1.25)
    cx = width / 2 + rng.uniform(-slack, slack)
    cy = height / 2 + rng.uniform(-slack, slack)
    angle = rng.uniform(0, 2 * math.pi)
    if shape == "circle":
        draw.ellipse([(cx - radius) * s, (cy - radius) * s, (cx + radius) * s, (cy + radius) * s], fill=fill)
    else:
        draw.polygon([(x * s, y * s) for x, y in shape_polygon(shape, cx, cy, radius, angle)], fill=fill)
    image = image.resize((width, height), Image.LANCZOS)

    noise = rng.uniform(0, 6)
    if noise > 0.5:
        pixels = np.asarray(image).astype(np.float32)
        pixels += np.random.default_rng(rng.getrandbits(32)).normal(0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
    return image
