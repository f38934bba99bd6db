"""The package metadata a resolver and an index read: licence, Python range, floors.

The metadata is built by the real build backend (setuptools' PEP 517 hook), so what
is checked is what ``pip install`` and PyPI see, not the TOML text.
"""

from __future__ import annotations

import email
import email.message
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from setuptools import build_meta

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def metadata(tmp_path_factory: pytest.TempPathFactory) -> email.message.Message:
    """The wheel's METADATA file as the build backend writes it."""
    target = tmp_path_factory.mktemp("metadata")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        dist_info = build_meta.prepare_metadata_for_build_wheel(str(target))
    text = (target / dist_info / "METADATA").read_text(encoding="utf-8")
    return email.message_from_string(text)


def requirement(metadata: email.message.Message, name: str, extra: str) -> Requirement:
    """The requirement on ``name`` that ``extra`` brings."""
    for line in metadata.get_all("Requires-Dist") or []:
        parsed = Requirement(line)
        if parsed.name == name and parsed.marker and parsed.marker.evaluate({"extra": extra}):
            return parsed
    raise AssertionError(f"no {name} in the {extra!r} extra")


def test_the_licence_is_an_spdx_expression(metadata: email.message.Message) -> None:
    assert metadata["License-Expression"] == "Apache-2.0"
    # The legacy free-text field and licence classifiers are what PEP 639 replaces.
    assert metadata["License"] is None
    assert not [c for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]


def test_python_has_a_floor_and_no_cap(metadata: email.message.Message) -> None:
    allowed = SpecifierSet(metadata["Requires-Python"])
    assert "3.10" not in allowed
    for version in ("3.11", "3.12", "3.13", "3.14", "3.20"):
        assert version in allowed, version


@pytest.mark.parametrize(
    ("name", "too_old"),
    [
        # TrainingArguments(activation_checkpointing=...) in training/sft.py first
        # exists in 5.23; 4.46 (the old floor) raised TypeError on it.
        ("transformers", ["4.46.0", "5.22.2"]),
        # What transformers 5.23 itself needs for the Trainer and its peft integration;
        # its Trainer passes unwrap_model(keep_torch_compile=...), which accelerate 1.2
        # rejects with TypeError.
        ("torch", ["2.5.1"]),
        ("accelerate", ["1.1.0", "1.2.1"]),
        ("peft", ["0.19.0"]),
    ],
)
def test_the_local_extra_excludes_versions_training_cannot_run_on(
    metadata: email.message.Message, name: str, too_old: list[str]
) -> None:
    allowed = requirement(metadata, name, "local").specifier
    for version in too_old:
        assert version not in allowed, f"{name} {version} is allowed"
