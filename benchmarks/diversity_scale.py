"""How the diversity measures scale: block-wise vs a naive all-pairs computation, same run.

    python benchmarks/diversity_scale.py [--sizes 5000 20000 50000] [--naive-max 20000] [--block 2048]

For each size n it times Remote-Clique + Chamfer (one pass) and similarity to real (n real rows vs
n synthetic rows, top-5) on random unit vectors of dimension 384 (MiniLM's), and reports peak
traced memory (tracemalloc sees numpy's allocations). The naive version materialises the full
n x n float32 matrix (plus temporaries) and is skipped above --naive-max, where it no longer fits
comfortably. Finally it embeds a small real sample with the bundled MiniLM to show embedding
throughput, which, not the pairwise pass, dominates a real run at these sizes.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from synthclf.text import diversity

DIM = 384


def random_unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def measure(action: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak MiB of memory allocated during the call)."""
    tracemalloc.start()
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def naive_similarity_to_real(real: np.ndarray, synthetic: np.ndarray, k: int = diversity.TOP_K) -> float:
    sims = real @ synthetic.T
    return float(np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean())


def row(label: str, n: int, seconds: float, peak: float, value: str) -> None:
    print(f"{label:<34} {n:>7,} {seconds:>9.2f} {peak:>11.1f}  {value}")


def bench_size(n: int, naive_max: int, block: int) -> None:
    synthetic, real = random_unit_vectors(n, seed=1), random_unit_vectors(n, seed=2)
    summary, seconds, peak = measure(lambda: diversity.pairwise_summary(synthetic, block=block))
    row("block-wise RC + Chamfer", n, seconds, peak, f"RC {summary.remote_clique:.5f}  Chamfer {summary.chamfer:.5f}")
    sim, seconds, peak = measure(lambda: diversity.similarity_to_reference(real, synthetic, block=block))
    row("block-wise similarity to real", n, seconds, peak, f"{sim:.5f}")
    if n > naive_max:
        print(f"{'naive all-pairs':<34} {n:>7,}   skipped: the n x n matrix alone is "
              f"{n * n * 4 / 2**30:.1f} GiB, with temporaries several times that")
        return
    summary, seconds, peak = measure(lambda: diversity.naive_pairwise_summary(synthetic))
    row("naive RC + Chamfer", n, seconds, peak, f"RC {summary.remote_clique:.5f}  Chamfer {summary.chamfer:.5f}")
    sim, seconds, peak = measure(lambda: naive_similarity_to_real(real, synthetic))
    row("naive similarity to real", n, seconds, peak, f"{sim:.5f}")


def warm_up() -> None:
    """Load BLAS threads and torch (similarity's top-k) before timing, so imports are not counted."""
    tiny = random_unit_vectors(64, seed=0)
    diversity.pairwise_summary(tiny)
    diversity.similarity_to_reference(tiny, tiny)


SAMPLE = ["Are you still coming round for dinner on Friday?",
          "URGENT! You have won a 1 week FREE membership in our prize draw. Txt WIN to 81010",
          "The train is delayed again, I'll be about twenty minutes late",
          "Congratulations! You've been selected for a £1000 voucher. Call 09061743810 now"]


def bench_embeddings(count: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from synthclf.text import embeddings

    texts = [f"{SAMPLE[i % len(SAMPLE)]} (message {i})" for i in range(count)]
    start = time.perf_counter()
    embeddings.load_encoder()
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    embeddings.embed_texts(texts, use_cache=False)
    seconds = time.perf_counter() - start
    print(f"\nMiniLM embedding on CPU ({os.cpu_count()} cores): model load {load_seconds:.1f} s; "
          f"{count} texts in {seconds:.1f} s = {count / seconds:.0f} texts/s "
          f"(50,000 texts would take about {50_000 / (count / seconds) / 60:.0f} min, once: then cached)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 20_000, 50_000])
    parser.add_argument("--naive-max", type=int, default=20_000)
    parser.add_argument("--block", type=int, default=diversity.BLOCK)
    parser.add_argument("--embed", type=int, default=512, help="texts in the embedding throughput sample (0 = skip)")
    args = parser.parse_args()
    print(f"random unit vectors, dim {DIM}, block {args.block}, {os.cpu_count()} cores")
    print(f"{'measure':<34} {'n':>7} {'seconds':>9} {'peak MiB':>11}  value")
    warm_up()
    for n in args.sizes:
        bench_size(n, args.naive_max, args.block)
    if args.embed:
        bench_embeddings(args.embed)


if __name__ == "__main__":
    from synthclf.interrupts import run_script

    run_script(main)  # SIGINT/SIGTERM: one line, exit 130/143, temporary files cleaned up
