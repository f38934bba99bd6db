"""The benign question builder for the risk gate: requests, parsing, de-duplication."""

from __future__ import annotations

from training.data.gate_questions import (
    TOPICS,
    parse_questions,
    question_requests,
    unique_questions,
)


def test_requests_sample_each_topic_as_a_numbered_list() -> None:
    requests = question_requests(topics=("baking bread", "chess"), samples=3)
    assert len(requests) == 6
    assert requests[0].prompt is not None and "about baking bread." in requests[0].prompt
    assert requests[0].prompt.endswith("1. ")
    assert all(r.temperature > 0 and r.stop == ["\n\n"] for r in requests)


def test_topics_are_distinct() -> None:
    assert len(set(TOPICS)) == len(TOPICS) > 150


def test_parse_keeps_questions_and_strips_doubled_numbering() -> None:
    text = (
        "What is the best flour for bread?\n"
        "2. 2. How long should dough rise?\n"
        "3.  Bread is tasty.\n"
        "4) Why?\n"
        '5. "Can I bake without yeast at all?"\n'
        "6. How do I"
    )
    assert parse_questions(text) == [
        "What is the best flour for bread?",
        "How long should dough rise?",
        "Can I bake without yeast at all?",
    ]


def test_unique_questions_drop_repeats_case_insensitively() -> None:
    texts = ["Does a vaccine work well?\n2. does a vaccine work well?", "Does a vaccine work well?"]
    assert unique_questions(texts) == ["Does a vaccine work well?"]
