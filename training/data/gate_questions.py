"""Benign everyday questions for the risk gate, sampled from the embedded model.

The gate's benign training prompts (the BPO pairs) are mostly instructions, and few
touch everyday advice, social or science topics. Those are the benign questions a
prompt gate trained only on them mistakes for risky Do-Not-Answer questions. Here
the embedded SmolLM2 continues a numbered list of "questions that people asked a
helpful assistant about <topic>" for a hand-written list of everyday topics; the
list items that are questions become benign training prompts. Nothing comes from
the dev splits.

The answer head learns from the backend's own greedy answers to a sample of these
questions: what benign traffic looks like after the call.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.engines.base import ChatTurn, Engine, GenerationRequest

TOPICS: tuple[str, ...] = (
    "cooking pasta at home",
    "baking bread",
    "meal planning for a busy week",
    "vegetarian recipes",
    "saving money on groceries",
    "making coffee",
    "healthy breakfast ideas",
    "keeping houseplants alive",
    "starting a vegetable garden",
    "composting",
    "decorating a small apartment",
    "cleaning a kitchen",
    "fixing a leaky faucet",
    "painting a room",
    "buying a used car",
    "car maintenance",
    "riding a bicycle in the city",
    "planning a road trip",
    "travelling in Japan",
    "packing for a long flight",
    "visiting national parks",
    "learning a new language",
    "learning to play the guitar",
    "learning to draw",
    "photography for beginners",
    "writing a novel",
    "writing poetry",
    "reading more books",
    "choosing a good book for a teenager",
    "the history of the Roman Empire",
    "ancient Egypt",
    "the Renaissance",
    "the industrial revolution",
    "World War II",
    "the history of the printing press",
    "the American civil rights movement",
    "the fall of the Berlin Wall",
    "medieval castles",
    "the Silk Road",
    "how vaccines work",
    "how the immune system works",
    "getting better sleep",
    "managing stress at work",
    "dealing with anxiety before an exam",
    "staying motivated to exercise",
    "running a first marathon",
    "strength training for beginners",
    "stretching and flexibility",
    "eating more vegetables",
    "drinking enough water",
    "meditation",
    "building good habits",
    "time management",
    "productivity when working from home",
    "preparing for a job interview",
    "writing a cover letter",
    "asking for a raise",
    "changing careers",
    "starting a small business",
    "marketing a small business online",
    "writing a business plan",
    "leading a team",
    "giving constructive feedback",
    "resolving conflict with a coworker",
    "public speaking",
    "negotiating a salary",
    "personal budgeting",
    "saving for retirement",
    "how compound interest works",
    "the causes of inflation",
    "how interest rates affect the economy",
    "supply and demand",
    "international trade",
    "how the stock market works",
    "cryptocurrency basics",
    "renting versus buying a home",
    "how credit scores work",
    "paying off student loans",
    "the basics of quantum computing",
    "black holes",
    "the solar system",
    "the life cycle of stars",
    "climate and weather",
    "how hurricanes form",
    "plate tectonics and earthquakes",
    "the water cycle",
    "photosynthesis",
    "evolution and natural selection",
    "DNA and genetics",
    "how the human brain works",
    "the human heart",
    "dinosaurs",
    "ocean life",
    "rainforests",
    "renewable energy",
    "electric cars",
    "recycling plastic",
    "reducing household energy use",
    "the Python programming language",
    "JavaScript and web development",
    "learning to code",
    "databases and SQL",
    "how the internet works",
    "machine learning basics",
    "cybersecurity for home users",
    "choosing a laptop",
    "smartphone battery life",
    "spreadsheets and Excel formulas",
    "version control with git",
    "algebra homework",
    "geometry and triangles",
    "probability and statistics",
    "calculus for beginners",
    "fractions and percentages",
    "estimating large numbers",
    "the chemistry of cooking",
    "simple science experiments for kids",
    "helping a child with homework",
    "parenting a toddler",
    "talking to teenagers",
    "planning a birthday party",
    "wedding planning",
    "choosing a gift for a friend",
    "making new friends in a new city",
    "keeping in touch with family",
    "being a good listener",
    "writing a thank-you note",
    "etiquette at a formal dinner",
    "training a puppy",
    "caring for a cat",
    "keeping fish in an aquarium",
    "birdwatching",
    "hiking safety",
    "camping gear",
    "learning to swim",
    "playing chess",
    "the rules of soccer",
    "the Olympic Games",
    "basketball history",
    "yoga for beginners",
    "classical music",
    "jazz history",
    "famous painters",
    "visiting museums",
    "movies worth watching",
    "writing a movie review",
    "video game design",
    "board games for families",
    "social media habits",
    "how news spreads online",
    "evaluating sources of information",
    "critical thinking skills",
    "philosophy of happiness",
    "famous philosophers",
    "world religions and their history",
    "cultural differences in communication",
    "living abroad",
    "the European Union",
    "how elections work",
    "the history of democracy",
    "urban planning and public transport",
    "architecture styles",
    "the history of the internet",
    "space exploration",
    "the Moon landing",
    "inventions that changed the world",
    "the history of medicine",
    "volunteering in the community",
    "donating to charity",
    "learning sign language",
    "improving handwriting",
    "memorising information for exams",
    "applying to university",
    "studying abroad",
    "online courses",
    "writing an essay",
    "grammar and punctuation",
    "translating a sentence into French",
    "writing a formal email",
    "summarising an article",
    "writing a speech for a friend's wedding",
    "writing a haiku",
    "telling a bedtime story",
    "inventing a fictional world",
    "roleplaying as a historical figure",
    "imagining a world without cars",
    "what would happen if humans could fly",
    "the future of work",
    "robots in everyday life",
    "smart home devices",
    "3D printing",
    "woodworking projects",
    "knitting",
    "sewing clothes",
    "fashion and personal style",
    "skincare routines",
    "hair care",
)

_ITEM = re.compile(r"^\s*(?:\d+\s*[.)]\s*)*(?P<text>.+?)\s*$")


def question_requests(
    topics: Sequence[str] = TOPICS, samples: int = 2, max_tokens: int = 80
) -> list[GenerationRequest]:
    """Raw-text list continuations, ``samples`` per topic, sampled (temperature 0.8)."""
    return [
        GenerationRequest(
            prompt=f"Here is a list of questions that people asked a helpful assistant "
            f"about {topic}.\n\n1. ",
            max_tokens=max_tokens,
            temperature=0.8,
            top_p=0.95,
            stop=["\n\n"],
        )
        for topic in topics
        for _ in range(samples)
    ]


def parse_questions(text: str) -> list[str]:
    """The list items that are questions of at least four words, numbering stripped."""
    found = []
    for line in text.splitlines():
        match = _ITEM.match(line)
        if match is None:
            continue
        item = match.group("text").strip().strip('"')
        if item.endswith("?") and len(item.split()) >= 4:
            found.append(item)
    return found


def unique_questions(texts: Iterable[str]) -> list[str]:
    """Every generated question once (case-insensitively), in order of first appearance."""
    seen: dict[str, str] = {}
    for text in texts:
        for question in parse_questions(text):
            seen.setdefault(question.casefold(), question)
    return list(seen.values())


async def benign_questions(engine: Engine, samples: int = 2) -> list[str]:
    """Generate, parse and de-duplicate the benign questions with ``engine``."""
    import torch

    # Sampled: a re-run starts from the same random state (the engine's batching can
    # still change which draws go to which row, so the questions may differ a little).
    torch.manual_seed(0)
    results = await engine.generate(question_requests(samples=samples))
    return unique_questions(result.text for result in results)


def answer_sample(questions: Sequence[str], size: int = 240, seed: int = 0) -> list[str]:
    """The questions the backend answers for the answer head (a fixed random sample)."""
    return random.Random(seed).sample(list(questions), min(size, len(questions)))


async def backend_answers(
    engine: Engine, questions: Sequence[str], max_tokens: int
) -> list[dict[str, Any]]:
    """``engine``'s greedy answers, as ``{"question", "answer"}`` rows."""
    requests = [
        GenerationRequest(messages=[ChatTurn(role="user", content=q)], max_tokens=max_tokens)
        for q in questions
    ]
    results = await engine.generate(requests)
    return [{"question": q, "answer": r.text} for q, r in zip(questions, results, strict=True)]
