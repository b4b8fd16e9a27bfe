"""The answers bench/load_submit.py posts, and the fixed set its floor view stores.

Every respondent uses AI and received workslop, so every submission is asked (and stores) the
same items, and the floor view stores as many answers as each submission does; 3 in 20 add a
comment, in both.
"""

from __future__ import annotations

import random

SCALE_KEYS = ["ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7", "voice1", "press1", "mgr1"]
AI_SCALE_KEYS = ["ag1", "ag2", "ag3", "ag4", "op1", "op2"]
COMMENT = "Smaller pull requests when AI wrote most of it."

FLOOR_ANSWERS: dict[str, str | list[str]] = {
    **dict.fromkeys(SCALE_KEYS + AI_SCALE_KEYS, "4"),
    "use1": "3",
    "ws1": "2",
    "trust1": "3",
    "speed1": "0.75",
    "speed2": "2",
    "ws2": "1.5",
    "ws3": ["teammates", "other_teams"],
    "c1": COMMENT,
}


def load_answers(rng: random.Random) -> dict[str, str | list[str]]:
    raw: dict[str, str | list[str]] = {key: str(rng.randint(1, 7)) for key in SCALE_KEYS + AI_SCALE_KEYS}
    raw.update(use1=str(rng.randint(2, 5)), ws1=str(rng.randint(2, 5)), trust1=str(rng.randint(1, 5)))
    raw.update(speed1=rng.choice(["0.5", "0.75", "1", "1.25"]), speed2=str(rng.randint(-2, 8)), ws2="1.5")
    raw["ws3"] = rng.sample(["teammates", "leaders", "other_teams"], k=rng.randint(1, 3))
    if rng.random() < 0.15:
        raw["c1"] = COMMENT
    return raw
