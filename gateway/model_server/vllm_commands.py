"""``aligngate models vllm-env`` and ``aligngate models vllm-serve``: vLLM in its own venv.

``vllm-serve`` runs real ``vllm serve`` (the CPU build unless the venv holds another)
on the embedded SmolLM2 with the shipped BPO and Aligner adapters as LoRA modules, the
same API the gateway's ``kind: remote`` engine calls on a GPU deployment.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gateway.model_server.vllm_env import VLLM_REQUIREMENT, ensure_vllm_env
from gateway.model_server.vllm_launch import (
    VllmServeOptions,
    cpu_environment,
    embedded_model_dir,
    serve_arguments,
    shipped_adapters,
)


def add_vllm_parsers(subparsers: Any) -> None:
    """Register ``vllm-env`` and ``vllm-serve`` on the ``models`` group's subparsers."""
    env = subparsers.add_parser("vllm-env", help="Create (once) vLLM's own venv; print its path.")
    env.add_argument("--requirement", default=VLLM_REQUIREMENT, help="pip requirement for vLLM")
    env.set_defaults(handler=run_env)
    serve = subparsers.add_parser(
        "vllm-serve", help="Run vllm serve on the embedded model with the shipped adapters."
    )
    serve.add_argument("--model-dir", type=Path, help="HF model dir (default: embedded SmolLM2)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--served-model-name", default="smollm2")
    serve.add_argument("--max-model-len", type=int, default=2048)
    serve.add_argument("--max-num-seqs", type=int, default=16)
    serve.add_argument("--kv-cache-gib", type=int, default=1, help="VLLM_CPU_KVCACHE_SPACE")
    serve.set_defaults(handler=run_serve)


def run_env(args: argparse.Namespace) -> int:
    """Create or reuse the venv and print where it is."""
    print(ensure_vllm_env(requirement=args.requirement).root)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Replace this process with ``vllm serve`` (so signals reach vLLM directly)."""
    env = ensure_vllm_env()
    options = VllmServeOptions(
        model_dir=args.model_dir or embedded_model_dir(),
        adapters=shipped_adapters(),
        served_model_name=args.served_model_name,
        host=args.host,
        port=args.port,
        max_model_len=args.max_model_len,
        max_num_seqs=args.max_num_seqs,
    )
    command = env.command("serve", *serve_arguments(options))
    environment = {**os.environ, **cpu_environment(kv_cache_gib=args.kv_cache_gib)}
    os.execve(command[0], command, environment)
