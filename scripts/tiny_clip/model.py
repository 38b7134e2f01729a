"""A small CLIP in plain PyTorch: a ViT image tower and a causal text tower, as in OpenAI's CLIP.

Kept to operations that export cleanly to ONNX (opset 14) and run in onnxruntime-node.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x, additive_mask=None):
        b, s, w = x.shape
        q, k, v = self.qkv(x).reshape(b, s, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(w // self.heads)
        if additive_mask is not None:
            scores = scores + additive_mask
        return self.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, w))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, additive_mask=None):
        x = x + self.attn(self.ln1(x), additive_mask)
        return x + self.mlp(self.ln2(x))


class ConvStem(nn.Sequential):
    """A few 3x3 stride-2 convolutions in place of the patchify convolution (as in Xiao et al., "Early
    Convolutions Help Transformers See Better"): overlapping receptive fields see a shape's edges
    and corners wherever the patch grid cuts them, which a tiny ViT trained on little data needs."""

    def __init__(self, channels, width):
        layers, previous = [], 3
        for c in channels:
            layers += [nn.Conv2d(previous, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.GELU()]
            previous = c
        layers.append(nn.Conv2d(previous, width, 1))
        super().__init__(*layers)


class VisionTower(nn.Module):
    def __init__(self, image_size, patch, width, layers, heads, embed_dim, stem=None):
        super().__init__()
        if stem:
            assert 2 ** len(stem) == patch, "each stem convolution halves the resolution"
            self.patchify = ConvStem(stem, width)
        else:
            self.patchify = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        grid = image_size // patch
        self.cls = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.pos = nn.Parameter(torch.randn(grid * grid + 1, width) * 0.02)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, pixel_values):
        x = self.patchify(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1) + self.pos
        x = self.ln_pre(x)
        for block in self.blocks:
            x = block(x)
        return self.proj(self.ln_post(x[:, 0]))


class TextTower(nn.Module):
    def __init__(self, vocab_size, context_length, width, layers, heads, embed_dim, eos_token_id):
        super().__init__()
        self.eos_token_id = eos_token_id
        self.tokens = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.randn(context_length, width) * 0.01)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_final = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, input_ids, attention_mask):
        b, s = input_ids.shape
        x = self.tokens(input_ids) + self.pos[:s]
        causal = torch.ones(s, s, dtype=torch.bool, device=input_ids.device).tril()
        allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
        additive = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill(~allowed, -1e4)
        for block in self.blocks:
            x = block(x, additive)
        x = self.ln_final(x)
        # Pool at the first end token, as Hugging Face's CLIPTextModel does.
        eos_index = (input_ids == self.eos_token_id).to(torch.float32).argmax(-1)
        return self.proj(x[torch.arange(b), eos_index])


class TinyClip(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        v, t = cfg["vision"], cfg["text"]
        self.vision = VisionTower(v["image_size"], v["patch_size"], v["width"], v["layers"], v["heads"], cfg["embed_dim"],
                                  v.get("stem"))
        self.text = TextTower(t["vocab_size"], t["context_length"], t["width"], t["layers"], t["heads"],
                              cfg["embed_dim"], t["eos_token_id"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, pixel_values):
        return F.normalize(self.vision(pixel_values), dim=-1)

    def encode_text(self, input_ids, attention_mask):
        return F.normalize(self.text(input_ids, attention_mask), dim=-1)
