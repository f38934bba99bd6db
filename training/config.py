"""Training configurations, one dataclass per method, every field with help text.

``aligngate train METHOD`` (training/cli.py) turns a method's dataclass into flags with
transformers' ``HfArgumentParser`` (training/arguments.py, which adds ``--config FILE``)
and calls the method with the parsed config, as TRL's scripts do; the base model, the
output and the required data files have no defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ATTENTION_AND_MLP = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(kw_only=True)
class SFTConfig:
    """LoRA supervised fine-tuning with the loss on the assistant reply only."""

    model: str = field(
        metadata={
            "help": "Base model: 'embedded:smollm2', a .gguf file or a Hugging Face directory."
        }
    )
    output_dir: str = field(
        metadata={"help": "Where the final adapter (and checkpoints/ under it) are written."}
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (alpha/r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: list[str] = field(
        default_factory=lambda: list(ATTENTION_AND_MLP),
        metadata={"help": "Module names that get LoRA matrices (attention and MLP projections)."},
    )
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak AdamW learning rate."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Passes over the data."})
    max_steps: int = field(
        default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use epochs)."}
    )
    max_minutes: float | None = field(
        default=None,
        metadata={"help": "Stop (and save) after this much wall time; for fixed CPU budgets."},
    )
    batch_size: int = field(default=8, metadata={"help": "Examples per forward batch."})
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Batches accumulated per optimizer step."}
    )
    max_seq_length: int = field(
        default=384,
        metadata={
            "help": "Token cap per example (prompt + reply); the reply is cut to fit, and an "
            "example with no reply token left is dropped."
        },
    )
    warmup_steps: int = field(default=5, metadata={"help": "Linear warm-up steps."})
    logging_steps: int = field(default=5, metadata={"help": "Log the loss every N steps."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every N steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept on disk."})
    seed: int = field(default=0, metadata={"help": "Seed for LoRA init and data order."})
    max_train_examples: int | None = field(
        default=None, metadata={"help": "Train on at most this many examples (after mixing)."}
    )
    bf16: bool = field(
        default=False, metadata={"help": "Train in bfloat16 (GPU); CPU training stays float32."}
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations to save memory (1-7B on GPU)."}
    )
    save_fp16: bool = field(
        default=True, metadata={"help": "Store the adapter weights in float16 (half the size)."}
    )
    threads: int | None = field(
        default=None, metadata={"help": "torch intra-op threads; None uses all cores."}
    )
    init_adapter: str | None = field(
        default=None,
        metadata={"help": "Continue training this LoRA adapter instead of fresh matrices."},
    )


@dataclass(kw_only=True)
class BPOTrainingConfig(SFTConfig):
    """Train a BPO prompt rewriter on prompt -> optimized prompt pairs."""

    pairs_files: list[str] = field(
        metadata={"help": "BPO pair files (JSON lists with prompt or instruction+context)."}
    )
    extra_pairs: list[str] = field(
        default_factory=list,
        metadata={"help": "JSON-lines files of constructed pairs (`train construct` output)."},
    )
    dev_fraction: float = field(
        default=0.1, metadata={"help": "Share of pairs held back for evaluation, never trained."}
    )
    split_seed: int = field(default=0, metadata={"help": "Seed of the train/dev split."})


@dataclass(kw_only=True)
class AlignerTrainingConfig(SFTConfig):
    """Train an Aligner corrector on question-answer-correction triples."""

    dna_file: str = field(
        metadata={"help": "Do-Not-Answer triples (dna_qac_train.jsonl): harmful -> safe answer."}
    )
    pairs_files: list[str] = field(
        metadata={"help": "BPO pair files: bad response -> good response (train split only)."}
    )
    extra_triples: list[str] = field(
        default_factory=list,
        metadata={"help": "JSON-lines triples files, e.g. from the learning-from-mistakes step."},
    )
    identity_fraction: float = field(
        default=0.2, metadata={"help": "Share of identity pairs (good answer kept as is)."}
    )
    identity_sources: list[str] = field(
        default_factory=lambda: ["dna", "bpo"],
        metadata={"help": "Pools whose good answers become identity pairs (dna, bpo, extra)."},
    )
    max_dna_examples: int | None = field(
        default=None, metadata={"help": "Use at most this many DNA triples (seeded sample)."}
    )
    max_helpful_examples: int | None = field(
        default=None, metadata={"help": "Use at most this many BPO triples (seeded sample)."}
    )
    onpolicy_dir: str | None = field(
        default=None,
        metadata={
            "help": "The backend's answers (python -m training.data.onpolicy output): kept where "
            "they need no correction, corrected where they go along with a harmful prompt."
        },
    )
    onpolicy_benign_files: list[str] = field(
        default_factory=list,
        metadata={"help": "JSON lists of {question, answer} the backend gave benign prompts."},
    )
    max_answer_chars: int = field(
        default=600, metadata={"help": "Answers and corrections are cut at a sentence near this."}
    )
    dev_fraction: float = field(
        default=0.1, metadata={"help": "BPO dev share excluded here too (same split as bpo)."}
    )
    split_seed: int = field(default=0, metadata={"help": "Seed of the BPO train/dev split."})


@dataclass(kw_only=True)
class ConstructionConfig:
    """Build BPO pairs from your own preference data with a critic LLM (the authors' step)."""

    inputs: list[str] = field(
        metadata={"help": "JSON lists of {instruction, context?, good_res, bad_res} rows."}
    )
    output: str = field(metadata={"help": "JSON-lines file of accepted prompt pairs."})
    critic_model: str = field(metadata={"help": "litellm model string of the critic LLM."})
    critic_api_base: str | None = field(default=None, metadata={"help": "Critic base URL."})
    critic_api_key_env: str | None = field(
        default=None, metadata={"help": "Environment variable with the critic's API key."}
    )
    demonstrations: list[str] = field(
        default_factory=list,
        metadata={"help": "Few-shot files (construction_examples_*.json) shown to the critic."},
    )
    demonstration_pairs: list[str] = field(
        default_factory=list,
        metadata={"help": "Pair files holding the critic outputs for those few-shot rows."},
    )
    concurrency: int = field(default=4, metadata={"help": "Critic requests in flight."})


@dataclass(kw_only=True)
class MistakesConfig:
    """Learning from mistakes: red-team questions, backend answers, teacher corrections."""

    keywords_dir: str = field(metadata={"help": "Folder of harm keyword files (*.txt)."})
    output: str = field(metadata={"help": "JSON-lines file of correction triples."})
    writer_model: str = field(metadata={"help": "litellm model string of the question writer."})
    backend_model: str = field(metadata={"help": "litellm model string of the backend."})
    teacher_model: str = field(metadata={"help": "litellm model string of the teacher."})
    writer_api_base: str | None = field(default=None, metadata={"help": "Writer base URL."})
    backend_api_base: str | None = field(default=None, metadata={"help": "Backend base URL."})
    teacher_api_base: str | None = field(default=None, metadata={"help": "Teacher base URL."})
    api_key_env: str | None = field(
        default=None, metadata={"help": "Environment variable with the API key (all three)."}
    )
    count: int = field(default=100, metadata={"help": "Red-team prompts to draw."})
    seed: int = field(default=0, metadata={"help": "Seed of the keyword draw."})
    concurrency: int = field(default=4, metadata={"help": "Requests in flight per model."})
