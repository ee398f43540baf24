"""The study's diversity and similarity measures, computed block-wise so 50,000 texts fit in memory.

All functions take L2-normalised embeddings (rows of unit length, as `embeddings.embed_texts`
returns), so a dot product is a cosine similarity. Distances are cosine distances (1 - cos) by
default, or Euclidean distances between the unit vectors (sqrt(2 - 2 cos)).

- Remote-Clique: the mean distance over all pairs of distinct texts (higher = more diverse).
- Chamfer distance: the mean distance from each text to its nearest other text (low = texts come
  in near-copies, even when the set as a whole is spread out).
- Similarity to real: for each real text, the mean of its top-k (5) cosine similarities to the
  other set's texts, averaged over real texts.
- distinct-n: distinct word n-grams / all word n-grams over the whole set (Li et al., 2016).

No n x n matrix is ever held: similarities are computed `block` x `block` at a time (16 MiB in
float32 for the default 2048), running sums and running minima / top-k carry across blocks, and
symmetric passes visit each pair of blocks once. Memory is O(n * dim + block^2); time O(n^2 * dim).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from synthclf.text.normalize import word_ngrams, words

Distance = Literal["cosine", "euclidean"]
BLOCK = 2048
TOP_K = 5


@dataclass(frozen=True)
class PairwiseSummary:
    """Remote-Clique and Chamfer distance of one set of embeddings."""

    n: int
    remote_clique: float
    chamfer: float

    def as_dict(self) -> dict:
        return asdict(self)


def _distances(similarities: np.ndarray, distance: Distance) -> np.ndarray:
    """Cosine similarities of unit vectors -> distances (float rounding may push cos past 1)."""
    if distance == "cosine":
        return np.clip(1.0 - similarities, 0.0, 2.0)
    if distance == "euclidean":
        return np.sqrt(np.clip(2.0 - 2.0 * similarities, 0.0, 4.0))
    raise ValueError(f"distance must be 'cosine' or 'euclidean', got {distance!r}")


def _as_float32(embeddings: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(embeddings, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (texts x dimensions), got shape {array.shape}")
    return array


def _distance_sum(similarities: np.ndarray, distance: Distance, diagonal: bool) -> float:
    """Sum of the block's pair distances, self-pairs left out on a diagonal block.

    Cosine distances sum straight from the similarities (sum(1 - s) = count - sum(s)), so the
    common case never allocates a distance matrix.
    """
    if distance == "cosine":
        total = similarities.size - float(similarities.sum(dtype=np.float64))
        if diagonal:
            total -= len(similarities) - float(np.trace(similarities, dtype=np.float64))
        return total
    dist = _distances(similarities, distance)
    if diagonal:
        np.fill_diagonal(dist, 0.0)
    return float(dist.sum(dtype=np.float64))


def pairwise_summary(embeddings: np.ndarray, *, distance: Distance = "cosine", block: int = BLOCK) -> PairwiseSummary:
    """Remote-Clique and Chamfer distance in one symmetric block-wise pass.

    Each unordered pair of blocks (i <= j) is computed once: its distances count twice towards the
    pairwise sum, and its similarities update the nearest-neighbour maxima of both the row and the
    column texts (distance falls as similarity rises, so the nearest neighbour is the most similar).
    Needs at least two texts; with fewer both measures are NaN.
    """
    vectors = _as_float32(embeddings)
    n = len(vectors)
    if n < 2:
        return PairwiseSummary(n=n, remote_clique=float("nan"), chamfer=float("nan"))
    pair_sum = 0.0
    most_similar = np.full(n, -np.inf, dtype=np.float32)
    for start_i in range(0, n, block):
        rows = vectors[start_i:start_i + block]
        for start_j in range(start_i, n, block):
            sims = rows @ vectors[start_j:start_j + block].T
            diagonal = start_j == start_i
            pair_sum += _distance_sum(sims, distance, diagonal) * (1 if diagonal else 2)
            if diagonal:
                np.fill_diagonal(sims, -np.inf)  # a text is not its own nearest neighbour
            end_i, end_j = start_i + sims.shape[0], start_j + sims.shape[1]
            np.maximum(most_similar[start_i:end_i], sims.max(axis=1), out=most_similar[start_i:end_i])
            np.maximum(most_similar[start_j:end_j], sims.max(axis=0), out=most_similar[start_j:end_j])
    nearest = _distances(most_similar.astype(np.float64), distance)
    return PairwiseSummary(n=n, remote_clique=pair_sum / (n * (n - 1)), chamfer=float(nearest.mean()))


def naive_pairwise_summary(embeddings: np.ndarray, *, distance: Distance = "cosine") -> PairwiseSummary:
    """The same measures from the full n x n matrix: the reference for tests and the benchmark only."""
    vectors = _as_float32(embeddings)
    n = len(vectors)
    if n < 2:
        return PairwiseSummary(n=n, remote_clique=float("nan"), chamfer=float("nan"))
    dist = _distances(vectors @ vectors.T, distance)
    np.fill_diagonal(dist, 0.0)
    remote_clique = float(dist.sum(dtype=np.float64)) / (n * (n - 1))
    np.fill_diagonal(dist, np.inf)
    return PairwiseSummary(n=n, remote_clique=remote_clique, chamfer=float(dist.min(axis=1).mean(dtype=np.float64)))


def remote_clique(embeddings: np.ndarray, *, distance: Distance = "cosine", block: int = BLOCK) -> float:
    return pairwise_summary(embeddings, distance=distance, block=block).remote_clique


def chamfer(embeddings: np.ndarray, *, distance: Distance = "cosine", block: int = BLOCK) -> float:
    return pairwise_summary(embeddings, distance=distance, block=block).chamfer


def nearest_neighbours(queries: np.ndarray, reference: np.ndarray, *,
                       block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the highest cosine similarity to any reference row and that row's index.

    With an empty reference every similarity is -inf and every index -1.
    """
    queries, reference = _as_float32(queries), _as_float32(reference)
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    best_index = np.full(len(queries), -1, dtype=np.int64)
    for start_j in range(0, len(reference), block):
        for start_i in range(0, len(queries), block):
            sims = queries[start_i:start_i + block] @ reference[start_j:start_j + block].T
            column = sims.argmax(axis=1)
            value = sims[np.arange(len(sims)), column]
            window = slice(start_i, start_i + len(sims))
            better = value > best[window]
            best[window] = np.where(better, value, best[window])
            best_index[window] = np.where(better, column + start_j, best_index[window])
    return best, best_index


def _top_k_per_row(values: np.ndarray, k: int) -> np.ndarray:
    """The k largest values of each row, unordered. torch.topk is about twice as fast as
    np.partition here (and torch is already loaded for the embeddings); numpy is the fallback."""
    if values.shape[1] <= k:
        return values
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency; keep the function usable without it
        return np.partition(values, values.shape[1] - k, axis=1)[:, -k:]
    return torch.topk(torch.from_numpy(values), k, dim=1, sorted=False).values.numpy()


def similarity_to_reference(reference: np.ndarray, candidates: np.ndarray | None = None, *, k: int = TOP_K,
                            block: int = BLOCK) -> float:
    """For each reference (real) row, the mean of its top-k cosine similarities to the candidates;
    averaged over reference rows.

    With candidates=None the reference is compared with itself, leaving each row's own match out
    (the value the real dataset gets). NaN when there is nothing to compare with. Tiles are
    block/2 reference rows x 4*block candidates (same memory as a square block pair, fewer and
    larger matrix products); a running top-k per reference row carries across tiles.
    """
    reference = _as_float32(reference)
    self_compare = candidates is None
    candidates = reference if self_compare else _as_float32(candidates)
    k = min(k, len(candidates) - (1 if self_compare else 0))
    if k < 1 or len(reference) == 0:
        return float("nan")
    row_block, column_block = max(1, block // 2), 4 * block
    total = 0.0
    for start_i in range(0, len(reference), row_block):
        rows = reference[start_i:start_i + row_block]
        top = np.full((len(rows), k), -np.inf, dtype=np.float32)
        for start_j in range(0, len(candidates), column_block):
            sims = rows @ candidates[start_j:start_j + column_block].T
            if self_compare:  # leave out each row's own column where this tile holds it
                own = np.arange(start_i, start_i + len(rows))
                inside = (own >= start_j) & (own < start_j + sims.shape[1])
                sims[np.flatnonzero(inside), own[inside] - start_j] = -np.inf
            top = _top_k_per_row(np.concatenate([top, _top_k_per_row(sims, k)], axis=1), k)
        total += float(top.mean(axis=1, dtype=np.float64).sum())
    return total / len(reference)


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct word n-grams / all word n-grams over the whole set; 0.0 when there are none."""
    distinct: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = word_ngrams(words(text), n)
        total += len(grams)
        distinct.update(grams)
    return len(distinct) / total if total else 0.0


def diversity_measures(texts: Sequence[str], embeddings: np.ndarray, reference_embeddings: np.ndarray | None,
                       *, distance: Distance = "cosine", k: int = TOP_K, block: int = BLOCK) -> dict[str, float]:
    """Every measure of one dataset. reference_embeddings=None means the dataset *is* the real
    reference, so similarity to real leaves each text's own match out."""
    summary = pairwise_summary(embeddings, distance=distance, block=block)
    if reference_embeddings is None:
        similarity = similarity_to_reference(embeddings, None, k=k, block=block)
    else:
        similarity = similarity_to_reference(reference_embeddings, embeddings, k=k, block=block)
    return {"n_texts": len(texts), "remote_clique": summary.remote_clique, "chamfer": summary.chamfer,
            "similarity_to_real": similarity, "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2)}


def _mean_of(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def size_matched_reference(texts: Sequence[str], embeddings: np.ndarray, size: int, *, draws: int = 3, seed: int = 0,
                           distance: Distance = "cosine", k: int = TOP_K, block: int = BLOCK) -> dict[str, float]:
    """The real data's measures on random subsets of `size` texts, averaged over `draws` draws.

    Chamfer, distinct-n and top-k similarity all depend on how many texts a set holds (more texts,
    closer nearest neighbours, more repeated n-grams), so a synthetic set of `size` texts is only
    comparable with real sets of the same size. Similarity to real is measured from the real texts
    left out of each draw to the drawn ones, exactly as from real texts to synthetic ones.
    With size >= len(texts) the whole set is measured once (similarity leaves each text's own match out).
    """
    vectors = _as_float32(embeddings)
    if size >= len(texts) or size < 2:
        return {**diversity_measures(texts, vectors, None, distance=distance, k=k, block=block), "n_texts": len(texts)}
    rng = np.random.default_rng(seed)
    measured = []
    for _ in range(draws):
        chosen = np.zeros(len(texts), dtype=bool)
        chosen[rng.choice(len(texts), size=size, replace=False)] = True
        sample_texts = [text for text, keep in zip(texts, chosen, strict=True) if keep]
        measured.append(diversity_measures(sample_texts, vectors[chosen], vectors[~chosen],
                                           distance=distance, k=k, block=block))
    return {**_mean_of(measured), "n_texts": size}
