#!/usr/bin/env python3
"""Write a CLIP model directory with the shapes of openai/clip-vit-base-patch32 and random weights.

    /usr/bin/python3 scripts/bench_model/make_bench_model.py [--out bench/model]

For benchmarks only. Real CLIP weights cannot be fetched where this project is built, yet
throughput and latency have to be measured at the real model's size. The time an ONNX model
takes depends on its shapes (widths, layers, heads, tokens, vocabulary) and not on the values
of its weights, so a ViT-B/32 with random weights costs what the real one costs; its embeddings
are meaningless. The tokenizer matters too: the gateway pads a text batch to its longest text,
so the BPE is trained on CLIP-style prompts to make them about as many tokens as real CLIP makes
them, and the vocabulary is padded to CLIP's 49,408 entries with the special tokens at CLIP's ids.

Reuses the tiny CLIP's model (scripts/tiny_clip/model.py), its ONNX export wrappers and its BPE
helpers. Needs Debian's python3-torch, python3-numpy, python3-pil and python3-regex (CPU only).
Writes, in the layout of Xenova/clip-vit-base-patch32:

    <out>/config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json
    <out>/onnx/text_model.onnx, onnx/vision_model.onnx   (about 250 MB and 350 MB, fp32)
    <out>/README.md
"""
import os

# Same reason as make_tiny_clip.py: a multi-threaded OpenBLAS under PyTorch's own threads
# oversubscribes the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import torch

TINY_CLIP = Path(__file__).resolve().parents[1] / "tiny_clip"
sys.path.insert(0, str(TINY_CLIP))
import bpe  # noqa: E402
from make_tiny_clip import export_onnx, preprocessor_config, write_json  # noqa: E402
from model import TinyClip  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NAME = "bench/vit-b-32-random"
SEED = 0

# openai/clip-vit-base-patch32.
IMAGE_SIZE = 224
PATCH_SIZE = 32
VISION_WIDTH, VISION_LAYERS, VISION_HEADS = 768, 12, 12
TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS = 512, 12, 8
CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408
PROJECTION_DIM = 512
START_ID, END_ID = 49406, 49407

# CLIP's 80 ImageNet prompt templates (from OpenAI's zero-shot notebook), plus the product
# phrasing the gateway's own docs use.
TEMPLATES = [
    "a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
    "a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.", "a bad photo of the {}.",
    "a cropped photo of the {}.", "a tattoo of a {}.", "the embroidered {}.", "a photo of a hard to see {}.",
    "a bright photo of a {}.", "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.",
    "a drawing of a {}.", "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
    "a close-up photo of a {}.", "a black and white photo of the {}.", "a painting of the {}.", "a painting of a {}.",
    "a pixelated photo of the {}.", "a sculpture of the {}.", "a bright photo of the {}.", "a cropped photo of a {}.",
    "a plastic {}.", "a photo of the dirty {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
    "a photo of the {}.", "a good photo of the {}.", "a rendering of the {}.", "a {} in a video game.",
    "a photo of one {}.", "a doodle of a {}.", "a close-up photo of the {}.", "a photo of a {}.",
    "the origami {}.", "the {} in a video game.", "a sketch of a {}.", "a doodle of the {}.",
    "a origami {}.", "a low resolution photo of a {}.", "the toy {}.", "a rendition of the {}.",
    "a photo of the clean {}.", "a photo of a large {}.", "a rendition of a {}.", "a photo of a nice {}.",
    "a photo of a weird {}.", "a blurry photo of a {}.", "a cartoon {}.", "art of a {}.",
    "a sketch of the {}.", "a embroidered {}.", "a pixelated photo of a {}.", "itap of the {}.",
    "a jpeg corrupted photo of the {}.", "a good photo of a {}.", "a plushie {}.", "a photo of the nice {}.",
    "a photo of the small {}.", "a photo of the weird {}.", "the cartoon {}.", "art of the {}.",
    "a drawing of the {}.", "a photo of the large {}.", "a black and white photo of a {}.", "the plushie {}.",
    "a dark photo of a {}.", "itap of a {}.", "graffiti of the {}.", "a toy {}.",
    "itap of my {}.", "a photo of a cool {}.", "a photo of a small {}.", "a tattoo of the {}.",
    "a product photo of a {}.", "an image of a {}.", "a picture of a {}.", "a photo of an {}.",
]

NOUNS = """
sneaker sneakers shoe shoes boot boots sandal sandals slipper heel loafer sock hat cap helmet scarf glove
jacket coat shirt dress skirt jeans trousers shorts sweater hoodie suit tie belt bag backpack handbag wallet
purse watch ring necklace bracelet earring sunglasses glasses umbrella bottle cup mug glass plate bowl spoon
fork knife pan pot kettle teapot toaster oven microwave fridge sink faucet table chair sofa couch bed lamp desk
shelf bookcase cabinet drawer door window curtain carpet rug pillow blanket towel mirror clock vase candle
phone laptop computer keyboard mouse monitor screen television camera lens headphones speaker microphone
guitar piano violin drum trumpet flute book notebook pen pencil paper envelope box basket bucket ladder
hammer screwdriver wrench drill saw shovel rake bicycle bike motorcycle car truck bus van train tram boat
ship airplane plane helicopter rocket tractor scooter skateboard surfboard kayak canoe wheel tire engine
dog puppy cat kitten horse cow pig sheep goat chicken duck goose turkey rabbit rat hamster squirrel
fox wolf bear lion tiger leopard cheetah elephant giraffe zebra monkey gorilla kangaroo koala panda deer
camel whale dolphin shark fish salmon goldfish turtle frog snake lizard crocodile bird eagle owl parrot
penguin swan pigeon crow butterfly bee spider ant beetle snail crab lobster octopus jellyfish
apple banana orange lemon lime grape strawberry cherry peach pear plum mango pineapple watermelon melon
tomato potato carrot onion garlic pepper cucumber lettuce cabbage broccoli mushroom corn bean pea
bread cake cookie pizza burger sandwich pasta rice soup salad egg cheese butter milk coffee tea juice
wine beer water chocolate candy ice cream donut pie steak sushi taco
tree flower rose tulip sunflower grass leaf bush forest garden park field farm mountain hill valley river
lake sea ocean beach island desert sky cloud sun moon star rain snow storm rainbow sunset road street
bridge tunnel building house home tower castle church temple school hospital office shop store market
restaurant kitchen bathroom bedroom room wall roof floor stairs fence gate city town village
man woman person people child boy girl baby family friend player doctor teacher chef soldier farmer
face hand head eye nose mouth hair arm leg foot
ball toy doll robot kite balloon flag sign map poster painting picture photo logo
circle square triangle rectangle shape line pattern texture stripe dot
""".split()

ADJECTIVES = """
red orange yellow green blue purple pink brown black white grey gray gold silver beige navy
small big large tiny huge tall short long wide narrow thin thick round flat
old new young modern vintage antique classic cheap expensive
clean dirty wet dry hot cold warm cool bright dark light heavy soft hard smooth rough shiny
leather wooden metal plastic glass paper cotton wool silk denim ceramic stone
happy sad cute funny beautiful pretty ugly strange weird nice good bad fresh broken empty full
striped spotted plain colorful wild sleeping running flying
""".split()


def training_corpus():
    """CLIP-style prompts: every template with every noun, and adjective-noun pairs spread over the templates."""
    corpus = [t.format(n) for t in TEMPLATES for n in NOUNS]
    pairs = [(a, n) for a in ADJECTIVES for n in NOUNS]
    corpus += [TEMPLATES[i % len(TEMPLATES)].format(f"{a} {n}") for i, (a, n) in enumerate(pairs)]
    return corpus + ["the quick brown fox jumps over the lazy dog", "there is a photo of something in this image"]


def build_vocab(merges):
    """bpe.build_vocab's order (bytes, bytes + </w>, merges), then placeholders, then the specials at CLIP's ids.

    The placeholders only take up rows of the embedding table so the text model is as large as
    CLIP's; the pre-tokenizer splits "<|" off as punctuation, so no text ever maps to them.
    """
    learned = bpe.build_vocab(merges)
    tokens = [t for t, _ in sorted(learned.items(), key=lambda kv: kv[1]) if t not in (bpe.START, bpe.END)]
    if len(tokens) > START_ID:
        raise ValueError(f"{len(tokens)} learned tokens do not fit below the start token's id {START_ID}")
    tokens += [f"<|unused_{i}|>" for i in range(len(tokens), START_ID)]
    tokens += [bpe.START, bpe.END]
    vocab = {token: i for i, token in enumerate(tokens)}
    assert len(vocab) == VOCAB_SIZE and vocab[bpe.START] == START_ID and vocab[bpe.END] == END_ID
    return vocab


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "model")
    args = parser.parse_args()
    started = time.time()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    # The merge cap only matters if the corpus grows: learned tokens must stay below the specials.
    merges = bpe.train(training_corpus(), num_merges=START_ID - 2 * 256)
    vocab = build_vocab(merges)
    write_json(out / "tokenizer.json", bpe.tokenizer_json(vocab, merges))
    write_json(out / "tokenizer_config.json", bpe.tokenizer_config(CONTEXT_LENGTH))
    encoder = bpe.ReferenceEncoder(vocab, merges, CONTEXT_LENGTH)
    for prompt in ["a photo of a red sneaker.", "a product photo of a leather boot.", "a photo of a dog."]:
        print(f"{len(encoder.encode(prompt))} tokens: {prompt!r}")

    torch.manual_seed(SEED)
    cfg = {
        "embed_dim": PROJECTION_DIM,
        "vision": {"image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE, "width": VISION_WIDTH,
                   "layers": VISION_LAYERS, "heads": VISION_HEADS},
        "text": {"vocab_size": VOCAB_SIZE, "context_length": CONTEXT_LENGTH, "width": TEXT_WIDTH,
                 "layers": TEXT_LAYERS, "heads": TEXT_HEADS, "eos_token_id": END_ID},
    }
    model = TinyClip(cfg)
    export_onnx(model, out, IMAGE_SIZE, START_ID, END_ID)

    write_json(out / "config.json", {
        "_comment": "Random weights with the shapes of openai/clip-vit-base-patch32, for benchmarks only; "
                    "made by scripts/bench_model/make_bench_model.py. No logit_scale: the loader uses CLIP's 100.",
        "_name_or_path": NAME,
        "model_type": "clip",
        "architectures": ["CLIPModel"],
        "projection_dim": PROJECTION_DIM,
        "logit_scale_init_value": 2.6592,
        "text_config": {"model_type": "clip_text_model", "vocab_size": VOCAB_SIZE, "hidden_size": TEXT_WIDTH,
                        "intermediate_size": 4 * TEXT_WIDTH, "num_hidden_layers": TEXT_LAYERS,
                        "num_attention_heads": TEXT_HEADS, "max_position_embeddings": CONTEXT_LENGTH,
                        "bos_token_id": START_ID, "eos_token_id": END_ID, "pad_token_id": END_ID,
                        "projection_dim": PROJECTION_DIM},
        "vision_config": {"model_type": "clip_vision_model", "hidden_size": VISION_WIDTH,
                          "intermediate_size": 4 * VISION_WIDTH, "num_hidden_layers": VISION_LAYERS,
                          "num_attention_heads": VISION_HEADS, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE,
                          "num_channels": 3, "projection_dim": PROJECTION_DIM},
    })
    write_json(out / "preprocessor_config.json", preprocessor_config(IMAGE_SIZE))
    (out / "README.md").write_text(f"""# Random ViT-B/32 for benchmarks

Random weights (PyTorch's default initialisation, seed {SEED}) with the shapes of
`openai/clip-vit-base-patch32`, in the layout of `Xenova/clip-vit-base-patch32`. Made by
`/usr/bin/python3 scripts/bench_model/make_bench_model.py`. **For benchmarks only**: a model's speed
depends on its shapes, not its weight values, but these embeddings mean nothing.

- image tower: ViT, {IMAGE_SIZE} px, patch {PATCH_SIZE} ({(IMAGE_SIZE // PATCH_SIZE) ** 2 + 1} tokens), width {VISION_WIDTH}, {VISION_LAYERS} layers, {VISION_HEADS} heads
- text tower: causal transformer, width {TEXT_WIDTH}, {TEXT_LAYERS} layers, {TEXT_HEADS} heads, {CONTEXT_LENGTH} positions
- embeddings: {PROJECTION_DIM} dimensions; MLPs 4x width with GELU
- tokenizer: byte-level BPE with {len(merges)} merges learned from CLIP-style prompts, padded with
  placeholder tokens to CLIP's {VOCAB_SIZE} entries (`<|startoftext|>` {START_ID}, `<|endoftext|>` {END_ID}),
  so that typical prompts take about as many tokens as with CLIP's own tokenizer
""")
    print(f"wrote {out} in {time.time() - started:.0f}s")
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        print(f"{path.stat().st_size:>12,}  {path.relative_to(out)}")


if __name__ == "__main__":
    main()
