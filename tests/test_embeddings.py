"""Real MiniLM embeddings from the bundled package, and their content-addressed cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthclf.text import embeddings  # noqa: E402

TEXTS = ["Win a free holiday, call now to claim your prize",
         "Congratulations, you have won a cash prize! Text CLAIM",
         "Are we still meeting for lunch tomorrow?"]


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(embeddings.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "embeddings"


def test_unit_length_float32_rows_in_order():
    vectors = embeddings.embed_texts(TEXTS)
    assert vectors.shape == (3, embeddings.DIMENSION) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # two prize spams are closer than spam and a lunch plan


def test_cache_file_is_written_and_reused_without_the_model(cache_in_tmp, monkeypatch):
    first = embeddings.embed_texts(TEXTS)
    files = list(cache_in_tmp.glob("*.npy"))
    assert [path.stem for path in files] == [embeddings.content_key(TEXTS)]
    embeddings.forget_in_process_vectors()

    def no_model(*args, **kwargs):
        raise AssertionError("the model was called although the cache holds these texts")

    monkeypatch.setattr(embeddings, "_encode", no_model)
    np.testing.assert_array_equal(embeddings.embed_texts(TEXTS), first)


def test_subset_of_seen_texts_needs_no_model_call(monkeypatch):
    full = embeddings.embed_texts(TEXTS)
    monkeypatch.setattr(embeddings, "_encode", lambda *a, **k: pytest.fail("model called for seen texts"))
    np.testing.assert_array_equal(embeddings.embed_texts(TEXTS[::-2]), full[::-2])


def test_identical_texts_give_identical_rows_and_different_texts_differ():
    vectors = embeddings.embed_texts([TEXTS[0], TEXTS[2], TEXTS[0], TEXTS[1]], use_cache=False)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3) and not np.allclose(vectors[0], vectors[3], atol=1e-3)


def test_key_depends_on_texts_order_and_boundaries():
    assert embeddings.content_key(["ab", "c"]) != embeddings.content_key(["a", "bc"])
    assert embeddings.content_key(TEXTS) != embeddings.content_key(TEXTS[::-1])
    assert embeddings.content_key(TEXTS) != embeddings.content_key(TEXTS[:2])
    assert embeddings.content_key([]) != embeddings.content_key([""])


def test_key_and_model_id_change_with_the_model_package(monkeypatch):
    """A new release of the model package must never reuse vectors cached for the old one."""
    installed = embeddings.model_id()
    key = embeddings.content_key(TEXTS)
    monkeypatch.setattr(embeddings.metadata, "version", lambda name: "99.0.0")
    upgraded = embeddings.model_id.__wrapped__()
    assert upgraded != installed and "==99.0.0" in upgraded and upgraded.startswith(embeddings.MINILM)
    monkeypatch.setattr(embeddings, "model_id", lambda: upgraded)
    assert embeddings.content_key(TEXTS) != key


def test_damaged_cache_entry_is_recomputed(cache_in_tmp):
    first = embeddings.embed_texts(TEXTS)
    path = cache_in_tmp / f"{embeddings.content_key(TEXTS)}.npy"
    path.write_bytes(b"not an array")
    embeddings.forget_in_process_vectors()
    np.testing.assert_allclose(embeddings.embed_texts(TEXTS), first, atol=1e-5)
    assert np.load(path).shape == first.shape


def test_empty_list_and_non_strings():
    assert embeddings.embed_texts([]).shape == (0, embeddings.DIMENSION)
    with pytest.raises(TypeError, match="must be a str"):
        embeddings.embed_texts(["fine", None])
