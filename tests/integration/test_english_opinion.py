"""MiniLM's second opinion on English questions, with the real model: the 8-bit export
prepared from the installed package, and the tutor asking it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tutor.embeddings import minilm_path
from tutor.english_opinion import load_english_encoder
from tutor.settings import Settings

SENTENCES = [
    "How does a KV cache speed up autoregressive decoding?",
    "Why is LayerNorm preferred over BatchNorm in transformers?",
    "what is RoPE",
]


@pytest.fixture(scope="module")
def encoder():
    found = load_english_encoder(Settings.from_env().model_cache_dir)
    assert found is not None, "MiniLM could not be prepared (see the log)"
    return found


def test_the_8_bit_export_keeps_minilms_vectors(encoder):
    from sentence_transformers import SentenceTransformer

    full = SentenceTransformer(str(minilm_path()), device="cpu").encode(SENTENCES, normalize_embeddings=True)
    ours = encoder.encode(SENTENCES)
    assert ours.shape == (3, 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    agreement = np.sum(ours * full, axis=1)
    assert agreement.min() > 0.95, agreement
    # and it keeps MiniLM's sense of what is alike: each sentence is nearest its own full vector
    assert list((ours @ full.T).argmax(axis=1)) == [0, 1, 2]
    # a text's vector does not depend on the texts encoded with it
    assert np.array_equal(encoder.encode(SENTENCES[2:]), ours[2:])


def test_the_prepared_model_is_kept_for_later_starts(encoder):
    kept = encoder.model_file
    assert kept.parent == Settings.from_env().model_cache_dir and kept.is_file()
    written = kept.stat().st_mtime_ns
    # another process (a later start) reads the same file and exports nothing
    script = ("import sys; from pathlib import Path; from tutor.english_opinion import load_english_encoder; "
              "e = load_english_encoder(Path(sys.argv[1])); print(e.model_file)")
    result = subprocess.run([sys.executable, "-c", script, str(kept.parent)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(kept) and kept.stat().st_mtime_ns == written


def test_english_questions_are_decided_with_minilm_and_chinese_ones_without(slice_tutor):
    retriever = slice_tutor.retriever
    assert retriever.english_encoder is not None and retriever.index.english_vectors is not None

    def second_opinion(question: str):
        return retriever.lookup(question, slice_tutor.embeddings.query(question)).evidence.english_best

    # a paraphrase of one of the slice's English renderings, and questions about other things
    near = second_opinion("Why do we scale the dot products by the square root of d_k in attention?")
    far = [second_opinion("How do I configure nginx as a reverse proxy?"),
           second_opinion("What is the capital of Australia?")]
    assert near > 0.6 and max(far) < near - 0.3
    assert second_opinion("为什么注意力要除以根号 d_k？") is None
