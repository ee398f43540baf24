"""Block-wise diversity measures agree with brute force, and never build the n x n matrix."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from synthclf.text import diversity


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_top_k_similarity(reference: np.ndarray, candidates: np.ndarray, k: int, self_compare: bool) -> float:
    sims = reference.astype(np.float64) @ candidates.astype(np.float64).T
    if self_compare:
        np.fill_diagonal(sims, -np.inf)
    return float(np.sort(sims, axis=1)[:, -k:].mean())


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("n, block", [(2, 1), (7, 3), (257, 64), (300, 1000)])
def test_blockwise_pairwise_summary_matches_naive(n, block, distance):
    vectors = unit_vectors(n)
    blockwise = diversity.pairwise_summary(vectors, distance=distance, block=block)
    naive = diversity.naive_pairwise_summary(vectors, distance=distance)
    assert blockwise.n == naive.n == n
    assert blockwise.remote_clique == pytest.approx(naive.remote_clique, rel=1e-5)
    assert blockwise.chamfer == pytest.approx(naive.chamfer, rel=1e-5)


def test_known_values_on_a_tiny_set():
    square = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.float32)  # 4 points on the unit circle
    summary = diversity.pairwise_summary(square, block=3)
    # cosine distances: 4 neighbours at 1 (x2 each), 2 opposite pairs at 2 -> (8*1 + 4*2) / 12
    assert summary.remote_clique == pytest.approx(16 / 12)
    assert summary.chamfer == pytest.approx(1.0)
    assert diversity.pairwise_summary(square, distance="euclidean").chamfer == pytest.approx(math.sqrt(2))


def test_exact_copies_have_zero_chamfer_and_fewer_than_two_texts_give_nan():
    vectors = np.repeat(unit_vectors(1), 5, axis=0)
    assert diversity.chamfer(vectors) == pytest.approx(0.0, abs=1e-6)
    assert diversity.remote_clique(vectors) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(diversity.pairwise_summary(unit_vectors(1)).remote_clique)
    assert math.isnan(diversity.pairwise_summary(np.zeros((0, 8), np.float32)).chamfer)


def test_unknown_distance_and_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match="distance must be"):
        diversity.pairwise_summary(unit_vectors(3), distance="manhattan")
    with pytest.raises(ValueError, match="2-D"):
        diversity.pairwise_summary(np.zeros(5))


@pytest.mark.parametrize("k, block", [(1, 4), (5, 7), (5, 1000)])
def test_similarity_to_reference_matches_brute_force(k, block):
    real, synthetic = unit_vectors(53, seed=1), unit_vectors(41, seed=2)
    assert diversity.similarity_to_reference(real, synthetic, k=k, block=block) == pytest.approx(
        brute_top_k_similarity(real, synthetic, k, self_compare=False), rel=1e-5)
    assert diversity.similarity_to_reference(real, None, k=k, block=block) == pytest.approx(
        brute_top_k_similarity(real, real, k, self_compare=True), rel=1e-5)


def test_similarity_with_fewer_candidates_than_k_uses_them_all():
    real, synthetic = unit_vectors(10, seed=1), unit_vectors(3, seed=2)
    assert diversity.similarity_to_reference(real, synthetic, k=5) == pytest.approx(
        brute_top_k_similarity(real, synthetic, 3, self_compare=False), rel=1e-5)
    assert math.isnan(diversity.similarity_to_reference(real, synthetic[:0]))


def test_nearest_neighbours_match_brute_force():
    queries, reference = unit_vectors(37, seed=3), unit_vectors(90, seed=4)
    best, index = diversity.nearest_neighbours(queries, reference, block=16)
    sims = queries @ reference.T
    np.testing.assert_allclose(best, sims.max(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(index, sims.argmax(axis=1))
    best, index = diversity.nearest_neighbours(queries, reference[:0])
    assert np.isneginf(best).all() and (index == -1).all()


def test_distinct_n():
    texts = ["the cat sat", "The cat ran!"]
    assert diversity.distinct_n(texts, 1) == pytest.approx(4 / 6)  # the, cat, sat, ran over 6 tokens
    assert diversity.distinct_n(texts, 2) == pytest.approx(3 / 4)  # (the cat) twice, (cat sat), (cat ran)
    assert diversity.distinct_n(["one"], 2) == 0.0


def test_size_matched_reference_uses_subsets_of_the_requested_size():
    texts = [f"text number {i}" for i in range(200)]
    vectors = unit_vectors(200, seed=5)
    small = diversity.size_matched_reference(texts, vectors, 20, draws=3, seed=0)
    assert small["n_texts"] == 20
    whole = diversity.size_matched_reference(texts, vectors, 500)
    assert whole["n_texts"] == 200
    assert whole["chamfer"] == pytest.approx(diversity.chamfer(vectors), rel=1e-6)
    assert small["chamfer"] > whole["chamfer"]  # fewer texts, farther nearest neighbours: why sizes must match
    assert small == diversity.size_matched_reference(texts, vectors, 20, draws=3, seed=0)  # seeded


def test_blockwise_memory_stays_far_below_the_full_matrix():
    n, block = 4000, 256
    vectors = unit_vectors(n, dim=64)
    full_matrix_bytes = n * n * 4
    tracemalloc.start()
    diversity.pairwise_summary(vectors, block=block)
    diversity.similarity_to_reference(vectors, vectors[:1000], block=block)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < full_matrix_bytes / 10, \
        f"peak {peak / 2**20:.1f} MiB vs full matrix {full_matrix_bytes / 2**20:.1f} MiB"
