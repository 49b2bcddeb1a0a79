"""Duplicates across all repos: exact (hash of the whitespace-normalised text) and near (MinHash LSH).

Signatures are datasketch MinHashes (affine32 scheme) over the unit's normalised lines; the LSH banding uses
datasketch's own optimal (bands, rows) for the threshold but buckets with numpy over the whole signature matrix
at once, which keeps a re-run over tens of thousands of cached signatures in milliseconds. Candidates in a bucket
join a cluster only when their estimated Jaccard similarity reaches the threshold; one unit per cluster is kept
(the first in the caller's order).
"""
from __future__ import annotations

import hashlib
import zlib
from functools import lru_cache

import numpy as np

NUM_PERM = 64
THRESHOLD = 0.8
SEED = 1


def normalised_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def exact_key(text: str) -> bytes:
    return hashlib.sha1("\n".join(normalised_lines(text)).encode()).digest()[:16]


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int):
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=seed, scheme="affine32", hashfunc=int).permutations


def signature(text: str, num_perm: int = NUM_PERM, seed: int = SEED) -> bytes:
    """The MinHash signature of a unit's set of normalised lines, as num_perm little-endian uint32."""
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed, scheme="affine32", hashfunc=int,
                permutations=_permutations(num_perm, seed))
    shingles = {zlib.crc32(line.encode()) for line in normalised_lines(text)}
    if shingles:
        m.update_batch(sorted(shingles))
    return np.asarray(m.hashvalues, dtype="<u4").tobytes()


def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def duplicates(exact: list[bytes], sigs: np.ndarray, threshold: float = THRESHOLD) -> tuple[np.ndarray, int, int]:
    """(keep mask, exact duplicates, near duplicates) for units in priority order (earlier ones are kept)."""
    n = len(exact)
    keep = np.ones(n, dtype=bool)
    first: dict[bytes, int] = {}
    n_exact = 0
    for i, key in enumerate(exact):
        if key in first:
            keep[i] = False
            n_exact += 1
        else:
            first[key] = i
    if n < 2:
        return keep, n_exact, 0
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    live = np.flatnonzero(keep)
    sub = np.ascontiguousarray(sigs[live])
    b, r = _bands(threshold, sub.shape[1])
    for band in range(b):
        block = np.ascontiguousarray(sub[:, band * r:(band + 1) * r])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * r))).ravel()
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        if counts.max() < 2:
            continue
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for bucket in np.flatnonzero(counts > 1):
            members = live[order[starts[bucket]:starts[bucket] + counts[bucket]]]
            head = members[0]
            for other in members[1:]:
                if np.mean(sigs[head] == sigs[other]) >= threshold:
                    ra, rb = root(head), root(other)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    n_near = 0
    for i in live:
        if root(i) != i:
            keep[i] = False
            n_near += 1
    return keep, n_exact, n_near
