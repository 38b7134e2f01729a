#!/usr/bin/env python3
"""Train the tiny CLIP the tests use and export it in the layout of Xenova/clip-vit-base-patch32.

    /usr/bin/python3 scripts/tiny_clip/make_tiny_clip.py [--out models/tiny-clip]

Needs Debian's python3-torch, python3-pil, python3-numpy and python3-regex (CPU only), and for the
decoding references the real ICC profiles and photo of icc-profiles-free, argyll-ref and
python3-skimage. Writes:

    <out>/config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json
    <out>/onnx/text_model.onnx, onnx/vision_model.onnx
    <out>/reference.json         token ids, preprocessed pixels and embeddings computed here
    <out>/images/*               the reference images those pixels come from
    <out>/TRAINING.md            what was trained and the zero-shot accuracy measured

Everything is seeded; the generated training set is cached under --cache so a rerun skips it.
"""
import os

# PyTorch's OpenMP threads and a multi-threaded OpenBLAS underneath would oversubscribe the cores
# (measured: 2x slower on 2 cores); let PyTorch own the threading.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import base64
import json
import math
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bpe  # noqa: E402
from domain import CLASSES, COLOURS, SHAPES, TEMPLATES, COLOUR_JITTER, BACKGROUND_TINT, MIN_CONTRAST, draw_example, \
    draw_training_example  # noqa: E402
from model import TinyClip  # noqa: E402

IMAGE_SIZE = 64
CONTEXT_LENGTH = 32
IMAGE_MEAN = [0.48145466, 0.4578275, 0.40821073]  # OpenAI CLIP's, as in its preprocessor_config.json
IMAGE_STD = [0.26862954, 0.26130258, 0.27577711]
TRAIN_SEED = 1
EVAL_SEED = 2
REFERENCE_SEED = 3


def clip_crop(image, shortest_edge=IMAGE_SIZE, crop=IMAGE_SIZE):
    """The uint8 HWC crop Hugging Face's CLIPImageProcessor makes (after load_image's EXIF transpose)."""
    image = ImageOps.exif_transpose(image).convert("RGB")
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = shortest_edge, int(shortest_edge * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    pixels = np.asarray(image.resize((new_w, new_h), Image.BICUBIC))
    top, left = (new_h - crop) // 2, (new_w - crop) // 2
    return pixels[top:top + crop, left:left + crop]


def normalise(crops):
    """uint8 NHWC crops -> float32 NCHW pixel values: rescale by 1/255, then (x - mean) / std."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).float().div(255.0)
    x = (x - torch.tensor(IMAGE_MEAN)) / torch.tensor(IMAGE_STD)
    return x.permute(0, 3, 1, 2).contiguous()


DRAW = {"wide": draw_training_example, "plain": draw_example}


def _generate_chunk(args):
    seed, labels, draw = args
    rng = random.Random(seed)
    return np.stack([clip_crop(DRAW[draw](*CLASSES[c].split(" "), rng)) for c in labels])


def generate(seed, per_class, workers=2, draw="wide"):
    labels = np.array([c for c in range(len(CLASSES)) for _ in range(per_class)])
    np.random.default_rng(seed).shuffle(labels)
    chunks = [(seed * 100_003 + i, labels[i::workers * 8].tolist(), draw) for i in range(workers * 8)]
    with Pool(workers) as pool:
        parts = pool.map(_generate_chunk, chunks)
    order = np.concatenate([np.arange(len(labels))[i::workers * 8] for i in range(workers * 8)])
    images = np.empty((len(labels), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    images[order] = np.concatenate(parts)
    return images, labels


def tokenize_batch(encoder, texts, pad_id, pad_to=None):
    ids = [encoder.encode(t) for t in texts]
    length = pad_to or max(len(i) for i in ids)
    input_ids = torch.full((len(ids), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), length), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = 1
    return input_ids, mask


@torch.no_grad()
def class_text_embeddings(model, encoder, pad_id, templates):
    """Prompt ensembling as in the CLIP paper: mean of normalised embeddings, renormalised."""
    per_template = []
    for template in templates:
        ids, mask = tokenize_batch(encoder, [template.format(c) for c in CLASSES], pad_id)
        per_template.append(model.encode_text(ids, mask))
    return F.normalize(torch.stack(per_template).mean(0), dim=-1)


@torch.no_grad()
def zero_shot_accuracy(model, encoder, pad_id, images, labels, templates):
    model.eval()
    text = class_text_embeddings(model, encoder, pad_id, templates)
    correct = 0
    for start in range(0, len(images), 256):
        emb = model.encode_image(normalise(images[start:start + 256]))
        correct += (emb @ text.T).argmax(-1).eq(torch.from_numpy(labels[start:start + 256])).sum().item()
    return correct / len(images)


def train(model, encoder, pad_id, images, labels, epochs, batch_size, lr):
    params_decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n]
    params_rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos" not in n)]
    opt = torch.optim.AdamW([{"params": params_decay, "weight_decay": 0.05}, {"params": params_rest, "weight_decay": 0.0}], lr=lr)
    steps = epochs * (len(images) // batch_size)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    rng = np.random.default_rng(TRAIN_SEED)
    labels_t = torch.from_numpy(labels)
    step, started = 0, time.time()
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(images))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            pixels = normalise(images[idx])
            flip = torch.from_numpy(rng.random(batch_size) < 0.5)
            pixels[flip] = pixels[flip].flip(-1)
            # Every class in every step, each with a template drawn at random: the image side is a
            # 32-way contrastive task, and the text side learns that all templates mean the same.
            prompts = [TEMPLATES[rng.integers(len(TEMPLATES))].format(c) for c in CLASSES]
            ids, mask = tokenize_batch(encoder, prompts, pad_id)
            img = model.encode_image(pixels)
            txt = model.encode_text(ids, mask)
            logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
            loss = F.cross_entropy(logits, labels_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            step += 1
            if step % 100 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.4f} "
                      f"scale {model.logit_scale.exp().item():.1f} {time.time() - started:.0f}s", flush=True)


class VisionExport(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.vision = model.vision

    def forward(self, pixel_values):
        return self.vision(pixel_values)


class TextExport(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.text = model.text

    def forward(self, input_ids, attention_mask):
        return self.text(input_ids, attention_mask)


def export_onnx(model, out, image_size, start_id, end_id):
    """Both towers to onnx/, with dynamic batch (and sequence) axes, as Xenova's exports have them."""
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    model.eval()
    torch.onnx.export(
        VisionExport(model), (torch.zeros(2, 3, image_size, image_size),), out / "onnx" / "vision_model.onnx",
        input_names=["pixel_values"], output_names=["image_embeds"],
        dynamic_axes={"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"}}, opset_version=14)
    ids = torch.full((2, 7), end_id, dtype=torch.long)
    ids[:, :3] = torch.tensor([start_id, 5, end_id])
    torch.onnx.export(
        TextExport(model), (ids, torch.ones_like(ids)), out / "onnx" / "text_model.onnx",
        input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
        dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                      "attention_mask": {0: "batch_size", 1: "sequence_length"},
                      "text_embeds": {0: "batch_size"}}, opset_version=14)
    # torch.onnx.export puts the wrappers (new modules, so in training mode) back as it found them,
    # which turns the towers' batch norms back to batch statistics: back to eval for the references.
    model.eval()


def preprocessor_config(image_size):
    """OpenAI CLIP's preprocessor_config.json, at another resolution if asked."""
    return {
        "crop_size": {"height": image_size, "width": image_size},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_processor_type": "CLIPImageProcessor",
        "image_mean": IMAGE_MEAN,
        "image_std": IMAGE_STD,
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": image_size},
    }


def write_json(path, value):
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def b64(array, dtype):
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode()


def reference_images(directory):
    """Fixed images covering the preprocessing cases: non-square, tiny, grey, RGBA, palette, EXIF, WebP."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(REFERENCE_SEED)
    made = []

    def save(name, image, **kwargs):
        image.save(directory / name, **kwargs)
        made.append(name)

    save("wide-red-circle.jpg", draw_example("red", "circle", rng, 150, 90), quality=92)
    save("tall-blue-star.png", draw_example("blue", "star", rng, 70, 130))
    save("large-green-square.jpg", draw_example("green", "square", rng, 320, 200).resize((640, 400), Image.BICUBIC), quality=90)
    save("tiny-orange-triangle.png", draw_example("orange", "triangle", rng, 64, 64).resize((9, 6), Image.BOX))
    save("grey-pink-circle.png", draw_example("pink", "circle", rng, 96, 80).convert("L"))
    rgba = draw_example("yellow", "triangle", rng, 100, 100).convert("RGBA")
    alpha = np.full((100, 100), 255, np.uint8)
    alpha[:, :20] = 0  # a transparent strip; CLIP's convert("RGB") keeps the colour underneath
    rgba.putalpha(Image.fromarray(alpha))
    save("rgba-yellow-triangle.png", rgba)
    save("palette-cyan-square.png", draw_example("cyan", "square", rng, 90, 90).convert("P", palette=Image.ADAPTIVE, colors=64))
    upright = draw_example("purple", "triangle", rng, 120, 80)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers (and exif_transpose) turn it 90 degrees clockwise
    save("exif-rotated-purple-triangle.jpg", upright.transpose(Image.ROTATE_90), exif=exif.tobytes(), quality=92)
    save("pink-star.webp", draw_example("pink", "star", rng, 100, 76), quality=90)
    return made


# Real ICC profiles, embedded in the decoding references (the Debian packages that ship them).
ADOBE_RGB_PROFILE = Path("/usr/share/color/icc/compatibleWithAdobeRGB1998.icc")  # icc-profiles-free, zlib licence
DISPLAY_P3_PROFILE = Path("/usr/share/color/argyll/ref/DisplayP3.icm")  # argyll-ref, public domain
ROCKET = Path("/usr/lib/python3/dist-packages/skimage/data/rocket.jpg")  # python3-skimage; SpaceX, public domain


def _png_rgb16(pixels):
    """A 16-bit-per-channel RGB PNG (colour type 2, depth 16) from uint16 HWC pixels: PIL can read
    these (as 8-bit RGB) but cannot write them, so the chunks are written here."""
    import struct
    import zlib
    height, width, _ = pixels.shape
    rows = b"".join(b"\0" + np.ascontiguousarray(row, ">u2").tobytes() for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def decoding_images(directory):
    """Images in the colour profiles and modes a decoder must handle, all downscaled by the crop.

    Returns (name, facts) pairs; facts say what the file is and what PIL's convert("RGB") (which
    Hugging Face's CLIPImageProcessor calls, with no colour management) does with it.
    """
    for path, package in ((ADOBE_RGB_PROFILE, "icc-profiles-free"), (DISPLAY_P3_PROFILE, "argyll-ref"), (ROCKET, "python3-skimage")):
        if not path.exists():
            sys.exit(f"{path} is missing: apt-get install {package}")
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(REFERENCE_SEED + 1)
    adobe, p3 = ADOBE_RGB_PROFILE.read_bytes(), DISPLAY_P3_PROFILE.read_bytes()
    made = []
    ignored = "the embedded profile is ignored: the stored values are taken as they are, with no conversion to sRGB"

    def save(name, image, note, profile=None, profile_source=None, **kwargs):
        image.save(directory / name, **kwargs)
        made.append((name, {"note": note, "profile": profile, "profile_source": profile_source}))

    save("adobergb-red-star.jpg", draw_example("red", "star", rng, 240, 180), ignored,
         "Compatible with Adobe RGB (1998)", "icc-profiles-free: " + str(ADOBE_RGB_PROFILE), quality=90, icc_profile=adobe)
    save("displayp3-green-circle.jpg", draw_example("green", "circle", rng, 180, 240), ignored,
         "DisplayP3 color profile", "argyll-ref: " + str(DISPLAY_P3_PROFILE), quality=90, icc_profile=p3)
    save("displayp3-orange-square.png", draw_example("orange", "square", rng, 200, 160), ignored,
         "DisplayP3 color profile", "argyll-ref: " + str(DISPLAY_P3_PROFILE), icc_profile=p3)
    (directory / "skimage-rocket.jpg").write_bytes(ROCKET.read_bytes())
    made.append(("skimage-rocket.jpg", {"note": "scikit-image's data/rocket.jpg, byte for byte; " + ignored,
                                        "profile": "Adobe RGB (1998)", "profile_source": "python3-skimage: " + str(ROCKET)}))

    save("mode-l-yellow-star.png", draw_example("yellow", "star", rng, 200, 150).convert("L"),
         "greyscale: each grey value copied to R, G and B")
    la = draw_example("blue", "square", rng, 160, 220).convert("L")
    alpha = np.full((220, 160), 255, np.uint8)
    alpha[:, :40] = 0  # fully transparent, over a grey that is still there
    alpha[:, 40:80] = np.linspace(0, 255, 40, dtype=np.uint8)[None, :]
    la.putalpha(Image.fromarray(alpha))
    save("mode-la-blue-square.png", la, "greyscale + alpha: the alpha is dropped, not composited onto any background; "
         "grey copied to R, G and B")
    save("mode-p-green-triangle.png", draw_example("green", "triangle", rng, 220, 160).convert("P", palette=Image.ADAPTIVE, colors=32),
         "palette: each index looked up in the palette")
    pal = draw_example("red", "circle", rng, 200, 200).convert("P", palette=Image.ADAPTIVE, colors=31)
    indices = np.asarray(pal).copy()
    indices[:, :50] = 31  # a transparent index whose palette colour is magenta, under a left strip
    palette = pal.getpalette()[:31 * 3] + [255, 0, 255]
    pal = Image.fromarray(indices, "P")
    pal.putpalette(palette)
    save("mode-p-transparent-red-circle.png", pal, "palette with a transparent index (tRNS): the palette colour is used "
         "and the transparency dropped, so the transparent strip is magenta, not composited", transparency=31)
    grey16 = np.asarray(draw_example("purple", "star", rng, 240, 180).convert("L"), np.uint16) * 257
    save("mode-i16-purple-star.png", Image.fromarray(grey16), "16-bit greyscale: PIL 9.4 opens it as mode I (32-bit "
         "integers) and convert(\"RGB\") CLIPS each value to 0-255 instead of scaling it, so everything above level 255 "
         "of 65535 comes out white; that is what Hugging Face's processor feeds CLIP")
    rgb16 = np.asarray(draw_example("cyan", "circle", rng, 120, 160), np.uint16) << 8
    ys, xs = np.mgrid[0:160, 0:120]
    rgb16 += ((xs * 37 + ys * 11) % 256).astype(np.uint16)[..., None]  # low bytes of every value, so that v >> 8 and rounding differ
    (directory / "mode-rgb16-cyan-circle.png").write_bytes(_png_rgb16(rgb16))
    made.append(("mode-rgb16-cyan-circle.png", {"note": "16-bit RGB (written by the script: PIL cannot write it): PIL "
                 "opens it as 8-bit RGB keeping the high byte of each sample (v >> 8, not a rounding)",
                 "profile": None, "profile_source": None}))
    rgba = draw_example("orange", "star", rng, 300, 200).convert("RGBA")
    alpha = np.full((200, 300), 255, np.uint8)
    alpha[:, :60] = 0
    alpha[:, 60:120] = np.linspace(0, 255, 60, dtype=np.uint8)[None, :]
    rgba.putalpha(Image.fromarray(alpha))
    save("mode-rgba-orange-star.png", rgba, "RGBA: the alpha is dropped, not composited; the colour under transparent "
         "pixels is kept")
    save("cmyk-blue-circle.jpg", draw_example("blue", "circle", rng, 220, 180).convert("CMYK"), "CMYK JPEG as Pillow "
         "writes it: with an Adobe APP14 marker (transform 0) and the samples stored inverted, as Photoshop does; PIL "
         "reads them back un-inverted and converts with its own formula, R = (255 - C) * (255 - K) / 255 (likewise G "
         "from M, B from Y), with no CMYK profile", quality=92)
    save("progressive-pink-square.jpg", draw_example("pink", "square", rng, 260, 200), "progressive JPEG",
         quality=90, progressive=True)
    save("lossless-yellow-triangle.webp", draw_example("yellow", "triangle", rng, 160, 210), "lossless WebP",
         lossless=True)
    save("lossy-cyan-star.webp", draw_example("cyan", "star", rng, 300, 220), "lossy WebP", quality=80)
    return made


def describe(path):
    """What PIL sees in a file: format, mode, size and the bit depth of its samples."""
    with Image.open(path) as image:
        bits = 16 if image.mode in ("I", "I;16") or (image.format == "PNG" and path.read_bytes()[24] == 16) else 8
        return {"format": image.format.lower(), "mode": image.mode, "size": list(image.size), "bits": bits,
                "transparency": "transparency" in image.info or image.mode in ("LA", "RGBA", "PA"),
                "progressive": bool(image.info.get("progressive") or image.info.get("progression"))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "models" / "tiny-clip")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/tiny-clip-cache"))
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--stem", type=lambda s: [int(c) for c in s.split(",")] if s else None, default=[24, 48, 64],
                        help="channels of the convolutional stem's three stride-2 layers; '' for a plain patchify")
    parser.add_argument("--save-model", type=Path, help="also save the PyTorch state dict here")
    parser.add_argument("--init-from", type=Path, help="start from a state dict saved by --save-model (then train "
                        "--epochs more, or none with --epochs 0)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(TRAIN_SEED)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    # Tokenizer: BPE merges learned from the captions of the domain plus a little general text.
    corpus = [t.format(c) for t in TEMPLATES for c in CLASSES] * 4 + \
        ["a photo of something", "this is an image", "the quick brown fox jumps over the lazy dog"]
    merges = bpe.train(corpus, num_merges=400)
    vocab = bpe.build_vocab(merges)
    encoder = bpe.ReferenceEncoder(vocab, merges, CONTEXT_LENGTH)
    eos_id, bos_id = vocab[bpe.END], vocab[bpe.START]
    write_json(out / "tokenizer.json", bpe.tokenizer_json(vocab, merges))
    write_json(out / "tokenizer_config.json", bpe.tokenizer_config(CONTEXT_LENGTH))

    cfg = {
        "embed_dim": 64,
        "vision": {"image_size": IMAGE_SIZE, "patch_size": 8, "width": 64, "layers": 3, "heads": 4, "stem": args.stem},
        "text": {"vocab_size": len(vocab), "context_length": CONTEXT_LENGTH, "width": 64, "layers": 2, "heads": 4,
                 "eos_token_id": eos_id},
    }
    model = TinyClip(cfg)

    args.cache.mkdir(parents=True, exist_ok=True)
    cache = args.cache / f"train-wide-{args.per_class}.npz"
    started = time.time()
    if cache.exists():
        data = np.load(cache)
        images, labels = data["images"], data["labels"]
    else:
        images, labels = generate(TRAIN_SEED, args.per_class)
        np.savez(cache, images=images, labels=labels)
    eval_images, eval_labels = generate(EVAL_SEED, 50)
    plain_images, plain_labels = generate(EVAL_SEED, 25, draw="plain")
    print(f"data: {len(images)} training and {len(eval_images)} + {len(plain_images)} evaluation images "
          f"in {time.time() - started:.0f}s", flush=True)

    if args.init_from:
        model.load_state_dict(torch.load(args.init_from)["state"])
    started = time.time()
    if args.epochs > 0:
        train(model, encoder, eos_id, images, labels, args.epochs, args.batch_size, args.lr)
    train_seconds = time.time() - started
    model.eval()
    default_acc = zero_shot_accuracy(model, encoder, eos_id, eval_images, eval_labels, ["a photo of a {}."])
    ensemble_acc = zero_shot_accuracy(model, encoder, eos_id, eval_images, eval_labels, TEMPLATES)
    plain_acc = zero_shot_accuracy(model, encoder, eos_id, plain_images, plain_labels, ["a photo of a {}."])
    if args.save_model:
        torch.save({"cfg": cfg, "state": model.state_dict()}, args.save_model)
    logit_scale = float(model.logit_scale.exp().clamp(max=100).item())
    print(f"zero-shot top-1 on {len(eval_images)} fresh images: {default_acc:.4f} with 'a photo of a {{}}.', "
          f"{ensemble_acc:.4f} with all {len(TEMPLATES)} templates; {plain_acc:.4f} on {len(plain_images)} plain ones; "
          f"logit scale {logit_scale:.2f}", flush=True)

    export_onnx(model, out, IMAGE_SIZE, bos_id, eos_id)
    t, v = cfg["text"], cfg["vision"]
    write_json(out / "config.json", {
        "_comment": "A tiny CLIP trained by scripts/tiny_clip/make_tiny_clip.py; see TRAINING.md.",
        "model_type": "clip",
        "architectures": ["CLIPModel"],
        "projection_dim": cfg["embed_dim"],
        "logit_scale_init_value": 2.6592,
        "logit_scale": round(logit_scale, 4),
        "text_config": {"model_type": "clip_text_model", "vocab_size": t["vocab_size"], "hidden_size": t["width"],
                        "intermediate_size": 4 * t["width"], "num_hidden_layers": t["layers"],
                        "num_attention_heads": t["heads"], "max_position_embeddings": t["context_length"],
                        "bos_token_id": bos_id, "eos_token_id": eos_id, "pad_token_id": eos_id,
                        "projection_dim": cfg["embed_dim"]},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": v["width"], "intermediate_size": 4 * v["width"],
                          "num_hidden_layers": v["layers"], "num_attention_heads": v["heads"], "image_size": v["image_size"],
                          "patch_size": v["patch_size"], "num_channels": 3, "projection_dim": cfg["embed_dim"]},
    })
    write_json(out / "preprocessor_config.json", preprocessor_config(IMAGE_SIZE))

    # Reference values, all computed here in PyTorch/PIL, for the TypeScript tests to match.
    texts = [
        "a photo of a red circle.",
        "a photo of a {}.".format("cyan star"),
        "itap of a pink triangle",
        "A   PHOTO of a Blue\tSquare!",
        "",
        "don't stop: 42 shapes",
        "Café crème naïve 🍰",
        "the quick brown fox jumps over the lazy dog " * 5,
    ]
    with torch.no_grad():
        ids_padded, mask_padded = tokenize_batch(encoder, texts, eos_id)
        text_embeds = model.encode_text(ids_padded, mask_padded).numpy()
    tokens = [{"text": text, "ids": encoder.encode(text), "embedding": b64(text_embeds[i], np.float32)}
              for i, text in enumerate(texts)]

    def image_references(names, facts=None):
        crops = np.stack([clip_crop(Image.open(out / "images" / n)) for n in names])
        with torch.no_grad():
            embeds = model.encode_image(normalise(crops)).numpy()
        refs = []
        for i, name in enumerate(names):
            info = describe(out / "images" / name)
            refs.append({"file": f"images/{name}", "crop": b64(crops[i], np.uint8), "embedding": b64(embeds[i], np.float32),
                         "format": info["format"], "mode": info["mode"], "size": info["size"], "bits": info["bits"],
                         **({"transparency": info["transparency"], "progressive": info["progressive"], **facts[i]}
                            if facts else {"profile": None})})
        return refs

    image_refs = image_references(reference_images(out / "images"))
    decoding = decoding_images(out / "images")
    decoding_refs = image_references([name for name, _ in decoding], [facts for _, facts in decoding])

    write_json(out / "reference.json", {
        "_comment": "Written by scripts/tiny_clip/make_tiny_clip.py. crop: uint8 HWC base64 from PIL; "
                    "embedding: L2-normalised float32 little-endian base64 from PyTorch. images: the shapes every decoder must "
                    "crop alike; decoding: colour profiles and image modes, each with PIL's mode on opening, its profile's "
                    "description (none is applied: PIL, Hugging Face and CLIP's training take the stored values as they "
                    "are) and a note on what convert('RGB') does with it.",
        "domain": {"colours": COLOURS, "shapes": SHAPES, "templates": TEMPLATES,
                   "colour_jitter": COLOUR_JITTER, "background_tint": BACKGROUND_TINT},
        "zero_shot": {"images": len(eval_images), "top1_default_template": default_acc, "top1_all_templates": ensemble_acc},
        "texts": tokens,
        "images": image_refs,
        "decoding": decoding_refs,
    })
    (out / "TRAINING.md").write_text(f"""# The tiny CLIP

Made by `/usr/bin/python3 scripts/tiny_clip/make_tiny_clip.py` (Debian's python3-torch {torch.__version__},
CPU, {args.threads} threads, {train_seconds / 60:.1f} minutes of training). Not a real CLIP: it knows
{len(COLOURS)} colours x {len(SHAPES)} shapes ({len(CLASSES)} classes).

- image tower: ViT, {v['image_size']} px, width {v['width']}, {v['layers']} layers; tokens from a convolutional
  stem (3x3 stride-2 convolutions of {v['stem']} channels, then 1x1 to the width: one token per 8x8 patch) instead of
  a patchify convolution. Measured with the same data and 5 epochs: the patchify ViT reached 34% on the
  wide distribution below, the stem 87% (3.5x slower per step on this CPU).
- text tower: causal transformer, width {t['width']}, {t['layers']} layers, {t['context_length']} positions,
  byte-level BPE with {len(merges)} merges ({len(vocab)} tokens)
- embeddings: {cfg['embed_dim']} dimensions; trained logit scale {logit_scale:.2f}
- training: {len(images)} images ({args.per_class} per class), {args.epochs} epochs, batch {args.batch_size},
  captions from {len(TEMPLATES)} CLIP prompt templates, random horizontal flips

## The training distribution (`draw_training_example` in domain.py)

Wide on purpose, so that images from other renderers are in it (the earlier model, trained on grey
backgrounds only, got ~85-90% of SVG shapes on tinted backgrounds right):

- canvas: short side 64-176 px, 60% of them with an aspect ratio up to 2.2 either way, before the
  resize-and-centre-crop of the preprocessing
- shape: 0.2-0.8 of the short side across, any rotation, anywhere inside the centre crop;
  circles squashed to 0.9, squares to 0.92 and a third of them with rounded corners, triangle
  vertices moved by up to 7%, star inner radius 0.33-0.55 of the outer; fill colour jittered by
  +-{COLOUR_JITTER} per channel
- edges: anti-aliased (4x supersampling) for 75%, hard for 25%
- fill: flat; or shaded by a linear gradient (up to 40% lighter to 35% darker); or outlined by a
  stroke of 2-8% of the size (a darker shade of the fill, near-black, near-white or any colour)
- background: grey, a muted tint of any hue, any RGB colour, or a tint/shade of the fill's own hue;
  solid, a linear or radial gradient between two such colours, or smooth random blotches; always
  at least {MIN_CONTRAST} RGB levels from the fill
- then: Gaussian noise (sigma up to 8) for 60%, Gaussian blur (radius 0.3-1.3) for 30%, JPEG at
  quality 50-95 with random chroma subsampling for 50%

## Accuracy

Zero-shot top-1 on {len(eval_images)} freshly generated images of that distribution (seed {EVAL_SEED}, never
trained on): **{default_acc * 100:.2f}%** with the gateway's default template `a photo of a {{}}.`,
**{ensemble_acc * 100:.2f}%** averaging all {len(TEMPLATES)} templates. On {len(plain_images)} images of the plain
distribution (`draw_example`: grey backgrounds, as the reference images): **{plain_acc * 100:.2f}%**.

On images from a renderer this script never uses (SVG through librsvg: ellipses, rotated rounded
rects, paths, strokes and gradients, on tinted and gradient backgrounds, saved as PNG, JPEG or
WebP), decoded by the gateway's own pipeline: `npx jest test/functions/clip/zero-shot-unseen.test.ts`
prints the top-1 and the confusions, and requires at least 95%.

## Decoding references

`reference.json` `decoding` holds images in colour profiles and modes, made by `decoding_images`,
each with PIL's crop as Hugging Face's CLIPImageProcessor makes it (`convert("RGB")`, no colour
management) and the PyTorch embedding of that crop. The ICC profiles embedded:

- Adobe RGB (1998): `compatibleWithAdobeRGB1998.icc` from Debian's icc-profiles-free (zlib licence)
- Display P3: `DisplayP3.icm` from Debian's argyll-ref (public domain)
- `skimage-rocket.jpg`: scikit-image's `data/rocket.jpg` from python3-skimage, byte for byte (SpaceX,
  public domain), with its own embedded Adobe RGB (1998) profile

What PIL {Image.__version__} does with each mode is in each entry's `note`.
""")
    print("wrote", out)


if __name__ == "__main__":
    main()
