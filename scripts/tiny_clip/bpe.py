"""A CLIP-style byte-level BPE for the tiny CLIP: training, a reference encoder, and tokenizer.json.

The reference encoder follows OpenAI's `simple_tokenizer.py` (whitespace clean, lowercase, the
CLIP split pattern, byte-to-unicode, BPE with `</w>` word ends, start/end tokens). It shares no
code with the Hugging Face tokenizers library, so agreement between its ids and the ids the
gateway gets from `tokenizer.json` means something.
"""
import collections
import unicodedata

import regex

START = "<|startoftext|>"
END = "<|endoftext|>"
SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def bytes_to_unicode():
    """GPT-2/CLIP's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_ENCODER = bytes_to_unicode()


def clean(text):
    text = unicodedata.normalize("NFC", text)
    text = regex.sub(r"\s+", " ", text)
    return text.lower()


def words_of(text):
    """Pre-tokenised words of a text, each as byte-level unicode characters."""
    return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8")) for piece in regex.findall(SPLIT_PATTERN, clean(text))]


def train(corpus, num_merges):
    """Learn up to `num_merges` merges from word frequencies; ties break on the pair itself."""
    counts = collections.Counter(w for text in corpus for w in words_of(text))
    words = {tuple(w[:-1]) + (w[-1] + "</w>",): c for w, c in counts.items()}
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for symbols, c in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += c
        if not pairs:
            break
        best, count = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if count < 2:
            break
        merges.append(best)
        merged = {}
        for symbols, c in words.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + c
        words = merged
    return merges


def build_vocab(merges):
    """CLIP's vocabulary order: bytes, bytes + </w>, merges, then the two special tokens last."""
    vocab = list(BYTE_ENCODER.values())
    vocab += [v + "</w>" for v in vocab]
    seen = set(vocab)
    for a, b in merges:
        if a + b not in seen:
            vocab.append(a + b)
            seen.add(a + b)
    vocab += [START, END]
    return {token: i for i, token in enumerate(vocab)}


class ReferenceEncoder:
    def __init__(self, vocab, merges, context_length):
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.context_length = context_length

    def bpe(self, word):
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = [(self.ranks.get(p, float("inf")), i) for i, p in enumerate(zip(symbols, symbols[1:]))]
            rank, i = min(pairs)
            if rank == float("inf"):
                break
            symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
        return symbols

    def encode(self, text):
        """Ids with start and end tokens, truncated to the context length keeping the end token."""
        ids = [self.vocab[s] for w in words_of(text) for s in self.bpe(w)]
        ids = ids[: self.context_length - 2]
        return [self.vocab[START]] + ids + [self.vocab[END]]


def tokenizer_json(vocab, merges):
    """tokenizer.json in the shape the Hugging Face converter writes for openai/clip-vit-*."""
    special = [
        {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": True}
        for t in (START, END)
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"},
            {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
            {"type": "Lowercase"},
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ]},
        "post_processor": {"type": "RobertaProcessing", "sep": [END, vocab[END]], "cls": [START, vocab[START]],
                           "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": END, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def tokenizer_config(context_length):
    return {
        "add_prefix_space": False,
        "bos_token": START,
        "eos_token": END,
        "pad_token": END,
        "unk_token": END,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "errors": "replace",
        "model_max_length": context_length,
        "tokenizer_class": "CLIPTokenizer",
    }
