"""The ``models serve`` command line."""

from __future__ import annotations

import argparse

import pytest

from gateway.model_server.cli import add_parser, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def test_serve_defaults_to_the_embedded_model_on_loopback() -> None:
    args = parse("serve")
    assert (args.model, args.host, args.port, args.adapter) == (
        "embedded:smollm2",
        "127.0.0.1",
        8001,
        [],
    )
    assert args.handler is run


def test_adapters_are_repeatable_name_path_pairs() -> None:
    args = parse(
        "serve",
        "--adapter",
        "bpo=/a/bpo",
        "--adapter",
        "aligner=/a/al",
        "--max-batch-size",
        "8",
        "--batch-wait-ms",
        "2",
        "--served-model-name",
        "base",
    )
    assert dict(args.adapter) == {"bpo": "/a/bpo", "aligner": "/a/al"}
    assert (args.max_batch_size, args.batch_wait_ms, args.served_model_name) == (8, 2.0, "base")


def test_an_adapter_without_a_path_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        parse("serve", "--adapter", "bpo")
