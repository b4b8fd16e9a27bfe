from __future__ import annotations

from surveys.models import Person, Team

STEP1 = {"ps1": "2", "ps2": "6", "ps3": "1", "ps4": "5", "ps5": "2", "ps6": "6", "ps7": "7", "use1": "4", "ws1": "2"}
STEP2 = {"trust1": "4", "voice1": "5", "press1": "3", "speed1": "0.75", "speed2": "3", "ag1": "6", "ws2": "1.5",
         "ws3": ["teammates"], "mgr1": "4", "c1": "More pairing on AI work, please."}  # fmt: skip
FULL_ANSWERS = {**STEP1, **STEP2}


def team_with_people(name: str, size: int, *, parent: Team | None = None, role: str = "engineer") -> Team:
    team = Team.objects.create(name=name, parent=parent)
    for index in range(size):
        email = f"{name.lower().replace(' ', '-')}-{index}@example.com"
        Person.objects.create(email=email, name=f"{name} {index}", team=team, role=role)
    return team
