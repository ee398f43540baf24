"""Real MiniLM embeddings from the bundled package, and their per-text store."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthclf import paths
from synthclf.text import embeddings

TEXTS = ["Win a free holiday, call now to claim your prize",
         "Congratulations, you have won a cash prize! Text CLAIM",
         "Are we still meeting for lunch tomorrow?"]


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.CACHE_DIR_ENV, str(tmp_path / "cache"))
    embeddings.forget_in_process_vectors()
    yield tmp_path / "cache" / "embeddings"
    embeddings.forget_in_process_vectors()


def no_model(*args, **kwargs):
    raise AssertionError("the model was called although the store holds these texts")


def stored_rows(cache_dir) -> int:
    with sqlite3.connect(cache_dir / embeddings.STORE_FILE) as connection:
        return connection.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def test_unit_length_float32_rows_in_order():
    vectors = embeddings.embed_texts(TEXTS)
    assert vectors.shape == (3, embeddings.DIMENSION) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # two prize spams are closer than spam and a lunch plan


def test_each_text_is_stored_once_and_reused_without_the_model(cache_in_tmp, monkeypatch):
    first = embeddings.embed_texts([*TEXTS, TEXTS[0]])
    assert stored_rows(cache_in_tmp) == 3
    embeddings.forget_in_process_vectors()
    monkeypatch.setattr(embeddings, "_encode", no_model)
    # any other list of the same texts, in any order: the store answers per text
    np.testing.assert_array_equal(embeddings.embed_texts(TEXTS[::-1]), first[:3][::-1])


def test_only_unseen_texts_reach_the_model(monkeypatch):
    embeddings.embed_texts(TEXTS[:2])
    embeddings.forget_in_process_vectors()
    asked = []
    real_encode = embeddings._encode

    def counting(texts, *args):
        asked.append(list(texts))
        return real_encode(texts, *args)

    monkeypatch.setattr(embeddings, "_encode", counting)
    embeddings.embed_texts(TEXTS)
    assert asked == [[TEXTS[2]]]


def test_identical_texts_give_identical_rows_and_different_texts_differ():
    vectors = embeddings.embed_texts([TEXTS[0], TEXTS[2], TEXTS[0], TEXTS[1]], use_cache=False)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3) and not np.allclose(vectors[0], vectors[3], atol=1e-3)


def test_key_separates_model_and_text():
    model = embeddings.model_id()
    assert embeddings.text_key(model, "ab") != embeddings.text_key(model + "a", "b")
    assert embeddings.text_key(model, "") != embeddings.text_key(model, " ")


def test_model_id_changes_with_the_model_package(monkeypatch):
    """A new release of the model package must never reuse vectors stored for the old one."""
    installed = embeddings.model_id()
    monkeypatch.setattr(embeddings.metadata, "version", lambda name: "99.0.0")
    upgraded = embeddings.model_id.__wrapped__()
    assert upgraded != installed and "==99.0.0" in upgraded and upgraded.startswith(embeddings.MINILM)
    assert embeddings.text_key(upgraded, TEXTS[0]) != embeddings.text_key(installed, TEXTS[0])
    assert embeddings.model_id("bundled:all-mpnet-base-v2") != installed


def test_damaged_row_is_recomputed(cache_in_tmp):
    first = embeddings.embed_texts(TEXTS)
    with sqlite3.connect(cache_in_tmp / embeddings.STORE_FILE) as connection:
        connection.execute("UPDATE vectors SET vector = ?", (b"short",))
    embeddings.forget_in_process_vectors()
    np.testing.assert_allclose(embeddings.embed_texts(TEXTS), first, atol=1e-5)
    embeddings.forget_in_process_vectors()
    with sqlite3.connect(cache_in_tmp / embeddings.STORE_FILE) as connection:
        sizes = {length for (length,) in connection.execute("SELECT length(vector) FROM vectors")}
    assert sizes == {4 * embeddings.DIMENSION}


def test_a_store_that_is_no_database_is_replaced(cache_in_tmp, monkeypatch):
    cache_in_tmp.mkdir(parents=True)
    (cache_in_tmp / embeddings.STORE_FILE).write_bytes(b"garbage, not SQLite" * 100)
    vectors = embeddings.embed_texts(TEXTS)
    assert vectors.shape == (3, embeddings.DIMENSION) and stored_rows(cache_in_tmp) == 3


def test_empty_list_and_non_strings():
    assert embeddings.embed_texts([]).shape == (0, embeddings.DIMENSION)
    with pytest.raises(TypeError, match="must be a str"):
        embeddings.embed_texts(["fine", None])
