"""Secrets in logged content become placeholders, in time linear in the text's length."""

from __future__ import annotations

import time

import pytest

from gateway.redaction import redact, redact_excerpt

# Stripe's documented test key shape; Google's key format (AIza + 35 characters).
STRIPE_LIVE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {STRIPE_LIVE} end", "key [REDACTED_KEY] end"),
        ("key sk_test_" + "51HxYz0aBcDeFgHiJk end", "key [REDACTED_KEY] end"),
        ("key rk_live_" + "9fKq2LmNoPqRsTuV end", "key [REDACTED_KEY] end"),
        ("slack xoxb-" + "1234567890-abcdefABCDEF end", "slack [REDACTED_KEY] end"),
        ("slack xoxp-" + "1234567890-0987654321-abc end", "slack [REDACTED_KEY] end"),
        (f"google {GOOGLE} end", "google [REDACTED_KEY] end"),
        (f"token {JWT} end", "token [REDACTED_TOKEN] end"),
        ("url?password=hunter2&x=1", "url?password=[REDACTED_SECRET]&x=1"),
        ("passwd: s3cr3t!", "passwd: [REDACTED_SECRET]"),
        ("SECRET=abc123 next", "SECRET=[REDACTED_SECRET] next"),
        ('{"db_password": "correct horse"}', '{"db_password": "[REDACTED_SECRET]"}'),
        ("IBAN DE89 3704 0044 0532 0130 00, thanks", "IBAN [REDACTED_IBAN], thanks"),
        ("IBAN GB82WEST12345698765432.", "IBAN [REDACTED_IBAN]."),
        ("ssn 078-05-1120 on file", "ssn [REDACTED_SSN] on file"),
        ("card 4111 1111 1111 1111 and more", "card [REDACTED_CARD] and more"),
        ("card 4111-1111-1111-1111.", "card [REDACTED_CARD]."),
        ("mail bob.smith@example.com now", "mail [REDACTED_EMAIL] now"),
        ("key sk-live-abcdef1234567890 end", "key [REDACTED_KEY] end"),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [REDACTED_KEY]"),
        ("aws AKIAIOSFODNN7EXAMPLE end", "aws [REDACTED_KEY] end"),
        ("gh ghp_" + "a" * 36 + " end", "gh [REDACTED_KEY] end"),
    ],
)
def test_each_kind_of_secret_becomes_its_placeholder(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 1234 5678 9012 3456",  # fails the Luhn check
        "IBAN DE00 3704 0044 0532 0130 00",  # fails the mod-97 check
        "ssn 000-12-3456 is not issued",
        "the password is long",  # no value assigned
        "version 1.2.3 of eyJ-thing",
        "ask-me-anything and rsk_live",
    ],
)
def test_text_that_only_looks_like_a_secret_is_kept(text: str) -> None:
    assert redact(text) == text


def test_a_long_text_is_logged_as_a_redacted_excerpt_with_its_length() -> None:
    text = "card 4111 1111 1111 1111 " + "x" * 10_000
    excerpt = redact_excerpt(text, max_chars=100)
    assert excerpt.startswith("card [REDACTED_CARD] xxx")
    assert "4111" not in excerpt and len(excerpt) < 200
    assert str(len(text)) in excerpt
    assert redact_excerpt("short", max_chars=100) == "short"


def test_a_secret_across_the_excerpts_end_is_redacted_not_cut_in_half() -> None:
    text = "x" * 90 + " 4111 1111 1111 1111 " + "y" * 2000
    excerpt = redact_excerpt(text, max_chars=100)
    assert "[REDACTED_CARD]" in excerpt
    assert "4111" not in excerpt and "1111" not in excerpt


# Inputs that make a backtracking pattern rescan a long run from each of its characters.
PATHOLOGICAL = {
    "email local part": "a" * 64,
    "email with dots": "a." * 32,
    "email domain": "a@" + "b." * 32,
    "many at signs": "a@" * 32,
    "jwt segments": "-eyJ" * 16,
    "jwt without its last dot": "eyJ" + "a" * 30 + ".eyJ" + "b" * 30,
    "card separators": "1 " * 32,
    "card dashes": "1-" * 32,
    "key prefixes": "sk-" * 20,
    "secret assignments": "password=" * 8,
    "iban groups": "DE89 " * 12,
    "bearer spaces": "Bearer " + " " * 57,
    "ssn pieces": "123-45-" * 9,
}
ONE_MB = 1_000_000


@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_redaction_of_a_megabyte_of_pathological_text_takes_linear_time(kind: str) -> None:
    # The quadratic email pattern this replaces took 13 s on 100 k characters, so ~20
    # minutes on a megabyte; a linear scan takes well under a second. The bounds below
    # (1 s for 64 k characters, then 10 s for 1 MB) are ~10x a linear run on a slow,
    # shared CI core and still orders of magnitude under any quadratic one; the small
    # size first makes a regression fail in seconds instead of hanging for minutes.
    unit = PATHOLOGICAL[kind]
    for size, bound_s in ((64_000, 1.0), (ONE_MB, 10.0)):
        text = unit * (size // len(unit) + 1)
        started = time.perf_counter()
        redact(text)
        elapsed = time.perf_counter() - started
        assert elapsed < bound_s, f"{kind}: {size} characters took {elapsed:.1f} s"
