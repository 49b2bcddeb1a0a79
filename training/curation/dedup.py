"""Duplicates across all repos: exact (hash of the whitespace-normalised text) and near (MinHash LSH).

Signatures are datasketch-compatible MinHashes (its affine32 scheme) over the unit's normalised lines; the LSH
banding uses datasketch's optimal (bands, rows) for the threshold but buckets with numpy over the whole signature
matrix at once, which keeps a re-run over tens of thousands of cached signatures in milliseconds. Candidates in a bucket
join a cluster only when their estimated Jaccard similarity reaches the threshold; one unit per cluster is kept
(the first in the caller's order).
"""
from __future__ import annotations

import hashlib
import zlib
from functools import lru_cache
from itertools import chain

import numpy as np

NUM_PERM = 64
THRESHOLD = 0.8
SEED = 1


def normalised_lines(text: str) -> list[str]:
    """Lines without their indentation and trailing spaces; blank lines dropped."""
    return list(filter(None, map(str.strip, text.splitlines())))


def exact_key(text: str) -> bytes:
    return hashlib.sha1("\n".join(normalised_lines(text)).encode()).digest()[:16]


# MurmurHash3's 32-bit finalizer and datasketch's affine32 permutations, reproduced so that signing a changed
# file does not import datasketch (and scipy behind it, ~0.5 s); tests check the signatures equal datasketch's.
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)
# datasketch.lsh._optimal_param(threshold, num_perm, 0.5, 0.5) for the defaults; other values ask datasketch
_KNOWN_BANDS = {(0.8, 64): (5, 11)}


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> np.uint32(s1))
    hv = hv * np.uint32(m1)
    hv = hv ^ (hv >> np.uint32(s2))
    hv = hv * np.uint32(m2)
    return hv ^ (hv >> np.uint32(s3))


def signature(text: str, num_perm: int = NUM_PERM, seed: int = SEED) -> bytes:
    """The MinHash (datasketch affine32) of a unit's set of normalised lines, as little-endian uint32."""
    shingles = sorted({zlib.crc32(line.encode()) for line in normalised_lines(text)})
    if not shingles:
        return np.full(num_perm, 0xFFFFFFFF, dtype="<u4").tobytes()
    a, b = _permutations(num_perm, seed)
    hv = _fmix32(np.array(shingles, dtype=np.uint32).reshape(-1, 1))
    with np.errstate(over="ignore"):
        phv = hv * a + b
    return phv.min(axis=0).astype("<u4").tobytes()


def keys(texts: list[str], num_perm: int = NUM_PERM, seed: int = SEED) -> list[tuple[bytes, bytes]]:
    """(exact_key, signature) of each text, equal to calling the two one text at a time, but the MinHashes of all
    the texts (a file's units) come from one numpy pass instead of one per text."""
    exacts, shingles = [], []
    for text in texts:
        lines = normalised_lines(text)
        exacts.append(hashlib.sha1("\n".join(lines).encode()).digest()[:16])
        shingles.append(set(map(zlib.crc32, map(str.encode, lines))))
    counts = np.fromiter(map(len, shingles), dtype=np.int64, count=len(texts))
    sigs = np.full((len(texts), num_perm), 0xFFFFFFFF, dtype=np.uint32)
    if counts.sum():
        a, b = _permutations(num_perm, seed)
        flat = np.fromiter(chain.from_iterable(shingles), dtype=np.uint32, count=int(counts.sum()))
        with np.errstate(over="ignore"):
            phv = _fmix32(flat.reshape(-1, 1)) * a + b
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        sigs[counts > 0] = np.minimum.reduceat(phv, starts[counts > 0], axis=0)
    sigs = sigs.astype("<u4")
    return [(exact, sigs[i].tobytes()) for i, exact in enumerate(exacts)]


def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
    known = _KNOWN_BANDS.get((round(threshold, 6), num_perm))
    if known is not None:
        return known
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def _band_keys(block: np.ndarray) -> np.ndarray:
    """One uint64 per row of a band (a multiply-xor hash); a collision only adds a candidate, which the Jaccard
    check then rejects."""
    keys = np.zeros(block.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in block.T:
            keys = (keys ^ col.astype(np.uint64)) * np.uint64(0x100000001B3)
    return keys


def duplicates(exact: np.ndarray, sigs: np.ndarray, threshold: float = THRESHOLD) -> tuple[np.ndarray, int, int]:
    """(keep mask, exact duplicates, near duplicates) for units in priority order (earlier ones are kept).

    exact: one uint64 per unit (the first 8 bytes of its exact key); sigs: the MinHash matrix, one row per unit."""
    n = len(exact)
    keep = np.zeros(n, dtype=bool)
    if n:
        keep[np.unique(exact, return_index=True)[1]] = True
    n_exact = int(n - keep.sum())
    if n < 2:
        return keep, n_exact, 0
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    live = np.flatnonzero(keep)
    sub = sigs[live]
    b, r = _bands(threshold, sub.shape[1])
    for band in range(b):
        keys = _band_keys(sub[:, band * r:(band + 1) * r])
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        if counts.max() < 2:
            continue
        # every bucket member after the first, paired with the bucket's first: all pairs of the band at once
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        bucket_of = inverse[order]
        later = np.flatnonzero(np.arange(len(order)) != starts[bucket_of])
        heads, others = live[order[starts[bucket_of[later]]]], live[order[later]]
        similar = (sigs[heads] == sigs[others]).mean(axis=1) >= threshold
        for head, other in zip(heads[similar].tolist(), others[similar].tolist()):
            ra, rb = root(head), root(other)
            if ra != rb:            # a cluster's root is its earliest unit, whatever order the pairs come in
                parent[max(ra, rb)] = min(ra, rb)
    merged = parent != np.arange(n)       # every unit joined under an earlier one (only live units ever are)
    keep[merged] = False
    return keep, n_exact, int(merged.sum())
