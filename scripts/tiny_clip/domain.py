"""The procedurally generated domain the tiny CLIP learns: coloured shapes on plain backgrounds.

The TypeScript tests draw their own images of the same domain (with seeds this module never
uses), so everything they need to know about it is also written to the fixture's reference file.
"""
import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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


# The training distribution: far wider than draw_example's grey backgrounds, so that the model holds
# up on images drawn by other renderers (see TRAINING.md for what each choice is for).
MIN_CONTRAST = 55  # RGB distance kept between the fill and every background colour it meets


def _hsl(h, s, l):
    a = s * min(l, 1 - l)

    def f(n):
        k = (n + h * 12) % 12
        return 255 * (l - a * max(-1, min(k - 3, 9 - k, 1)))
    return np.array([f(0), f(8), f(4)])


def _background_colour(rng, fill):
    """Any colour: grey, a muted tint of any hue, any RGB at all, or a tint near the fill's own."""
    for _ in range(20):
        kind = rng.random()
        if kind < 0.15:
            grey = rng.randint(0, 255)
            c = np.array([grey + rng.randint(-BACKGROUND_TINT, BACKGROUND_TINT) for _ in range(3)], float)
        elif kind < 0.5:
            c = _hsl(rng.random(), rng.uniform(0, 0.45), rng.uniform(0.08, 0.95))
        elif kind < 0.72:
            c = np.array([rng.randint(0, 255) for _ in range(3)], float)
        else:
            # a tint or shade of the fill's hue (a red triangle on pink, a blue star on navy)
            target = rng.choice([(255, 255, 255), (0, 0, 0), (128, 128, 128), tuple(rng.randint(0, 255) for _ in range(3))])
            t = rng.uniform(0.3, 0.8)
            c = fill * (1 - t) + np.array(target, float) * t
        c = np.clip(c, 0, 255)
        if np.linalg.norm(c - fill) >= MIN_CONTRAST:
            return c
    return np.array([255.0, 255.0, 255.0]) if fill.mean() < 128 else np.array([0.0, 0.0, 0.0])


def _background(rng, width, height, fill):
    """Solid, a linear or radial gradient between two colours, or a smooth random blotch field."""
    kind = rng.random()
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind < 0.4:
        return np.broadcast_to(_background_colour(rng, fill), (height, width, 3)).astype(np.float32)
    a, b = _background_colour(rng, fill), _background_colour(rng, fill)
    if kind < 0.65:
        angle = rng.uniform(0, 2 * math.pi)
        t = (xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle)
        t = np.clip(t / max(1e-6, abs(math.cos(angle)) / 2 + abs(math.sin(angle)) / 2) / 2 + 0.5, 0, 1)
    elif kind < 0.8:
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.4, 1.0) * max(width, height)
        t = np.clip(np.hypot(xs - cx, ys - cy) / r, 0, 1)
    else:
        grid = np.random.default_rng(rng.getrandbits(32)).random((rng.randint(2, 5), rng.randint(2, 5)))
        t = np.asarray(Image.fromarray((grid * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC), np.float32) / 255
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)


def _outline(shape, rng):
    """The shape around (0, 0) at unit scale (the `radius` of shape_polygon), with its own variations."""
    if shape == "circle":
        squash = rng.uniform(0.9, 1.0)
        return [(math.cos(k * math.pi / 32), squash * math.sin(k * math.pi / 32)) for k in range(64)]
    if shape == "square":
        squash, round_ = rng.uniform(0.92, 1.0), rng.uniform(0, 0.25) if rng.random() < 0.35 else 0.0
        hx, hy = 1.0, squash
        if round_ == 0:
            return [(hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy)]
        points = []
        for (sx, sy), start in (((1, 1), 0), ((-1, 1), 0.5), ((-1, -1), 1.0), ((1, -1), 1.5)):
            ox, oy = sx * (hx - round_), sy * (hy - round_)
            points += [(ox + round_ * math.cos((start + k / 8 / 2) * math.pi), oy + round_ * math.sin((start + k / 8 / 2) * math.pi))
                       for k in range(9)]
        return points
    if shape == "triangle":
        return [(1.15 * rng.uniform(0.93, 1.07) * math.cos(-math.pi / 2 + k * 2 * math.pi / 3),
                 1.15 * rng.uniform(0.93, 1.07) * math.sin(-math.pi / 2 + k * 2 * math.pi / 3)) for k in range(3)]
    if shape == "star":
        inner = rng.uniform(0.33, 0.55)
        return [(1.2 * (1 if k % 2 == 0 else inner) * math.cos(-math.pi / 2 + k * math.pi / 5),
                 1.2 * (1 if k % 2 == 0 else inner) * math.sin(-math.pi / 2 + k * math.pi / 5)) for k in range(10)]
    raise ValueError(f"unknown shape {shape}")


def draw_training_example(colour, shape, rng: random.Random):
    """One RGB image of `colour shape` from the wide training distribution.

    Canvas: short side 64-176 px, aspect ratio up to 2.2 either way. Shape: 0.2-0.8 of the short
    side across, any rotation, anywhere inside the centre crop; anti-aliased or hard-edged; filled
    flat, shaded by a gradient, or outlined. Background: any colour (kept 55 RGB levels from the
    fill), gradients, blotches. Then maybe blur, noise and JPEG at quality 50-95.
    """
    side = rng.randint(64, 176)
    long = int(side * (math.exp(rng.uniform(0, math.log(2.2))) if rng.random() < 0.6 else 1))
    width, height = (side, long) if rng.random() < 0.5 else (long, side)
    base = np.array(COLOURS[colour], float)
    fill = np.clip(base + np.array([rng.uniform(-COLOUR_JITTER, COLOUR_JITTER) for _ in range(3)]), 0, 255)
    canvas = _background(rng, width, height, fill)

    points = _outline(shape, rng)
    angle = rng.uniform(0, 2 * math.pi)
    points = [(x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle)) for x, y in points]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    box = max(max(xs) - min(xs), max(ys) - min(ys))
    radius = min(rng.uniform(0.1, 0.4) * side, 0.96 * side / box)
    left, top = (width - side) / 2, (height - side) / 2
    margin = rng.uniform(0, 0.03) * side
    cx = left + margin - min(xs) * radius + rng.random() * max(0.0, side - 2 * margin - (max(xs) - min(xs)) * radius)
    cy = top + margin - min(ys) * radius + rng.random() * max(0.0, side - 2 * margin - (max(ys) - min(ys)) * radius)

    s = SUPERSAMPLE if rng.random() < 0.75 else 1  # anti-aliased, or hard edges
    polygon = [((cx + x * radius) * s, (cy + y * radius) * s) for x, y in points]
    mask = Image.new("L", (width * s, height * s), 0)
    ImageDraw.Draw(mask).polygon(polygon, fill=255)
    ring = None
    style = rng.random()
    if style > 0.7:
        width_px = max(1, round(rng.uniform(0.02, 0.08) * 2 * radius * s))
        ring = Image.new("L", (width * s, height * s), 0)
        ImageDraw.Draw(ring).line(polygon + polygon[:1], fill=255, width=width_px, joint="curve")
    if s > 1:
        mask = mask.resize((width, height), Image.BOX)
        ring = ring.resize((width, height), Image.BOX) if ring else None
    alpha = np.asarray(mask, np.float32)[..., None] / 255

    if 0.45 < style <= 0.7:  # shaded: a linear gradient from a lighter to a darker fill
        ga = rng.uniform(0, 2 * math.pi)
        ys_, xs_ = np.mgrid[0:height, 0:width].astype(np.float32)
        t = np.clip(((xs_ - cx) * math.cos(ga) + (ys_ - cy) * math.sin(ga)) / (2 * radius) + 0.5, 0, 1)[..., None]
        lighter = fill + (255 - fill) * rng.uniform(0, 0.4)
        darker = fill * rng.uniform(0.65, 1.0)
        paint = lighter * (1 - t) + darker * t
    else:
        paint = fill
    canvas = canvas * (1 - alpha) + paint * alpha
    if ring is not None:
        edge = rng.random()
        edge = fill * rng.uniform(0.3, 0.7) if edge < 0.5 else np.array([20.0] * 3) if edge < 0.7 else \
            np.array([245.0] * 3) if edge < 0.9 else np.array([rng.randint(0, 255) for _ in range(3)], float)
        ring_alpha = np.asarray(ring, np.float32)[..., None] / 255
        canvas = canvas * (1 - ring_alpha) + edge * ring_alpha

    noise = rng.uniform(0, 8) if rng.random() < 0.6 else 0
    if noise > 0.5:
        canvas = canvas + np.random.default_rng(rng.getrandbits(32)).normal(0, noise, canvas.shape)
    image = Image.fromarray(np.clip(canvas, 0, 255).round().astype(np.uint8))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.3)))
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=rng.randint(50, 95), subsampling=rng.choice([0, 1, 2]))
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return image
