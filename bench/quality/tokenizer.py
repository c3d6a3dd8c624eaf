"""A byte-level BPE tokenizer (GPT-2 style), trained deterministically, that llama.cpp reads.

The pre-tokenizer mirrors llama.cpp's `gpt-2` split; ties between equally frequent pairs are
broken by the pair itself, so the merges depend on the text only.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

# GPT-2's split with \p{L} ~ [^\W\d_] and \p{N} ~ \d (the same on ASCII, close elsewhere).
PRETOKENIZE = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)
EOT = "<|endoftext|>"


@lru_cache(maxsize=1)
def byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-ins for the 256 bytes (what byte-level BPE vocabularies store)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _word_symbols(word: str) -> tuple[str, ...]:
    m = byte_to_unicode()
    return tuple(m[b] for b in word.encode("utf-8"))


def train(text: str, vocab_size: int) -> list[tuple[str, str]]:
    """Learn vocab_size - 257 merges (256 bytes and one end-of-text token besides)."""
    counts = Counter(PRETOKENIZE.findall(text))
    words = [list(_word_symbols(w)) for w in sorted(counts)]
    freq = [counts[w] for w in sorted(counts)]
    pairs: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pairs.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    n_merges = vocab_size - 257
    while len(merges) < n_merges and heap:
        negc, best = heapq.heappop(heap)
        if pairs.get(best, 0) != -negc:
            continue  # a stale entry: the pair's count changed since it was pushed
        if negc >= 0:
            break
        merges.append(best)
        joined = best[0] + best[1]
        touched = set()
        for i in sorted(where.pop(best, ())):
            syms = words[i]
            f = freq[i]
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] -= f
                touched.add((a, b))
            out = []
            j = 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == best[0] and syms[j + 1] == best[1]:
                    out.append(joined)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += f
                where[(a, b)].add(i)
                touched.add((a, b))
        pairs.pop(best, None)
        touched.discard(best)
        for p in touched:
            if pairs.get(p, 0) > 0:
                heapq.heappush(heap, (-pairs[p], p))
    return merges


class Tokenizer:
    """Merges → token list; encodes text to ids the way llama.cpp's BPE does."""

    def __init__(self, merges: list[tuple[str, str]]):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.tokens = [byte_to_unicode()[b] for b in range(256)] + [a + b for a, b in self.merges] + [EOT]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.eot = len(self.tokens) - 1
        self._cache: dict[str, list[int]] = {}

    def _bpe(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        syms = list(_word_symbols(word))
        while len(syms) > 1:
            best, rank = None, None
            for p in zip(syms, syms[1:]):
                r = self.ranks.get(p)
                if r is not None and (rank is None or r < rank):
                    best, rank = p, r
            if best is None:
                break
            out, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and (syms[j], syms[j + 1]) == best:
                    out.append(syms[j] + syms[j + 1])
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            syms = out
        ids = [self.ids[s] for s in syms]
        self._cache[word] = ids
        return ids

    def encode(self, text: str) -> np.ndarray:
        out: list[int] = []
        for w in PRETOKENIZE.findall(text):
            out.extend(self._bpe(w))
        return np.asarray(out, dtype=np.int32)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"merges": [list(m) for m in self.merges]}, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> "Tokenizer":
        return cls([tuple(m) for m in json.loads(path.read_text())["merges"]])
