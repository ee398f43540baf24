"""One meaning of "the same text" for generation, validation and preparation (synthclf.text)."""

from __future__ import annotations

from synthclf.generation import cleaning
from synthclf.tasks import prepare
from synthclf.text.normalize import ngram_index, ngram_keys, ngram_share, normalized, shingles, word_ngrams, words
from synthclf.validation import features


def test_case_punctuation_and_spacing_do_not_make_a_text_new():
    assert normalized("Are you coming,   James?!") == normalized("are you coming james") == "are you coming james"


def test_apostrophes_count_only_inside_a_word():
    assert words("Don't touch James' car") == ["don't", "touch", "james", "car"]


def test_letters_of_any_script_are_kept():
    """The old prepare key ([^a-z0-9]) emptied non-Latin texts, so every one was a 'duplicate'."""
    assert normalized("Café à Noël") == "café à noël"
    assert normalized("你好 世界") == "你好 世界" and normalized("Привет, мир") == "привет мир"
    assert normalized("Café") != normalized("Cafe")


def test_every_stage_uses_the_same_normalisation():
    text = "Free PRIZE!!  Call now, don't wait..."
    assert prepare.dedup_key(text) == normalized(text)
    assert features.normalized is normalized
    assert cleaning.words is words and cleaning.shingles is shingles


def test_ngrams_and_shingles():
    tokens = words("a b c d")
    assert word_ngrams(tokens, 2) == [("a", "b"), ("b", "c"), ("c", "d")]
    assert word_ngrams(tokens, 5) == []
    assert shingles(tokens, 5) == {("a", "b", "c", "d")}      # shorter than n: one shingle of all words
    assert shingles([], 2) == set()


def test_ngram_share_against_a_reference_index():
    index = ngram_index(["the cat sat on the mat"], 3)
    assert ngram_keys("The cat sat!", 3) == {"the cat sat"}
    assert ngram_share("the cat sat on a hat", index, 3) == 2 / 4
    assert ngram_share("!!!", index, 3) == 0.0
