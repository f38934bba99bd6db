"""The BPO authors' construction step: preference pairs -> optimized prompts via a critic LLM.

The critic sees the instruction (and its context), a bad and a good answer,
compares them on correctness, helpfulness and harmlessness, and rewrites the
instruction so that a model would answer like the good response. Rewrites the
authors would have dropped are dropped here: length ratio outside [1/2, 6] or a
``[protected`` marker (the same guards the BPO stage applies at serving time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bpo.guards import rejection_reason
from gateway.engines.base import ChatTurn
from training.data.bpo import BPORecord
from training.data.llm import LLMClient, LLMError
from training.data.rows import PromptPair
from training.progress import gather_with_progress

CRITIC_TASK = """Compare the good response and bad response from these aspects: correctness \
(if the response follows the instruction correctly and give an accurate response, high \
priority), helpfulness (like depth, creativity, coherence) and harmlessness. Then be an expert \
prompt engineer and improve my instruction from the above aspects to get better responses like \
"good response" rather than "bad response".

Pay attention to:
1. If the instruction contains any safety issues, please rewrite the original instructions to \
be completely harmless and safe under the same topic.
2. Don't forget any information in the original instruction. Focus on maintaining all the \
information in my instruction.
3. Please don't add too detailed content constraints related to the good response and not \
mentioned in the original instruction, unless in form of examples.
4. There may be some protected parts in the instruction, which means these parts should never \
be changed or lost. Please carefully protect these parts.
5. You should never generate a response to the original instruction!
6. Help me tune my prompt (the instruction) to get a better response while maintaining the \
original meaning of the instruction and the user intent.

Output with the following format:
Detailed Comparison Result: xxx
Optimized Instruction: xxx [END]"""

_OPTIMIZED = re.compile(r"Optimized Instruction:\s*(.*?)\s*(?:\[END\]|$)", re.DOTALL)


class ConstructionItem(BaseModel):
    """A preference pair as the authors' construction examples hold it."""

    model_config = ConfigDict(extra="ignore")

    instruction: str
    context: str = ""
    good_res: str
    bad_res: str

    def user_prompt(self) -> str:
        """The original prompt: instruction, then context if any."""
        return f"{self.instruction}\n{self.context}" if self.context.strip() else self.instruction


class Demonstration(ConstructionItem):
    """A construction example with the critic's reply shown as a few-shot answer."""

    comparison: str
    optimized_prompt: str


class ConstructionResult(BaseModel):
    """Accepted pairs and, for every dropped item, why it was dropped."""

    pairs: list[PromptPair]
    dropped: list[str]


def critic_request(item: ConstructionItem) -> str:
    """The authors' critic input: instruction (+ context), bad and good response, the task."""
    context = f'context: "{item.context}"\n' if item.context.strip() else ""
    return (
        f'instruction: "{item.instruction}"\n{context}'
        f'bad response:\n"{item.bad_res}"\ngood response:\n"{item.good_res}"\n\n{CRITIC_TASK}'
    )


def critic_messages(
    item: ConstructionItem, demonstrations: Sequence[Demonstration]
) -> list[ChatTurn]:
    """Few-shot chat: each demonstration as a request and the critic's reply, then the item."""
    turns: list[ChatTurn] = []
    for demo in demonstrations:
        comparison = demo.comparison.strip().removeprefix("Detailed Comparison Result:").strip()
        reply = (
            f"Detailed Comparison Result: {comparison}\n"
            f"Optimized Instruction: {demo.optimized_prompt} [END]"
        )
        turns += [
            ChatTurn(role="user", content=critic_request(demo)),
            ChatTurn(role="assistant", content=reply),
        ]
    return turns + [ChatTurn(role="user", content=critic_request(item))]


def parse_optimized(reply: str) -> str | None:
    """The text after ``Optimized Instruction:`` up to ``[END]``; None if absent."""
    match = _OPTIMIZED.search(reply)
    text = match.group(1).strip().strip('"').strip() if match else ""
    return text or None


def read_demonstrations(
    example_files: Sequence[Path], records: Sequence[BPORecord]
) -> list[Demonstration]:
    """Construction examples completed with the critic output the pair files hold for them.

    The examples files carry the inputs only; the 300-pair file keeps the authors'
    ``comparison`` and ``optimized_prompt`` for some of the same instructions.
    """
    known = {r.instruction: r for r in records if r.instruction and r.optimized_prompt}
    demonstrations: list[Demonstration] = []
    for path in example_files:
        for row in json.loads(path.read_text()):
            item = ConstructionItem.model_validate(row)
            record = known.get(item.instruction)
            if record is not None and record.comparison:
                demonstrations.append(
                    Demonstration(
                        **item.model_dump(),
                        comparison=record.comparison,
                        optimized_prompt=record.optimized_prompt,
                    )
                )
    return demonstrations


async def construct_pairs(
    items: Sequence[ConstructionItem],
    critic: LLMClient,
    demonstrations: Sequence[Demonstration],
) -> ConstructionResult:
    """Ask the critic for every item; keep the rewrites that pass the authors' filters."""

    async def reply_to(item: ConstructionItem) -> str | LLMError:
        try:
            return await critic.complete(critic_messages(item, demonstrations))
        except LLMError as error:  # drops this item; anything else is a bug and propagates
            return error

    replies = await gather_with_progress([reply_to(item) for item in items], "critic")
    pairs: list[PromptPair] = []
    dropped: list[str] = []
    for item, reply in zip(items, replies, strict=True):
        prompt = item.user_prompt()
        if isinstance(reply, LLMError):
            dropped.append(f"{prompt[:60]!r}: {reply}")
            continue
        rewrite = parse_optimized(reply)
        if rewrite is None:
            dropped.append(f"{prompt[:60]!r}: no 'Optimized Instruction:' in the reply")
            continue
        reason = rejection_reason(prompt, rewrite)
        if reason is not None:
            dropped.append(f"{prompt[:60]!r}: {reason}")
            continue
        pairs.append(PromptPair(prompt=prompt, optimized_prompt=rewrite))
    return ConstructionResult(pairs=pairs, dropped=dropped)
