"""What each flag suggests trying (PRODUCT.md's playbook, paraphrased; two or three, never a lecture)."""

from __future__ import annotations

PLAYBOOK: dict[str, list[str]] = {
    "psych_safety": [
        "The manager shares their own failed AI experiments first.",
        "Add a standing retro question, \u201cwhen did AI help, when did it hurt?\u201d, "
        "with no judgement for opting out.",
        "Stop ranking people by AI use or pull-request count.",
    ],
    "pilot_ratio": [
        "Pair AI-fluent engineers with others on real work, not classroom training.",
        "A short fortnightly slot to share experiments, where useful failures count.",
        "Define what good AI-assisted work looks like instead of mandating use.",
    ],
    "workslop": [
        "Agree a sharing bar: you can explain and defend every part you hand over.",
        "Say in the pull request what was generated and how it was checked.",
        "Smaller batches, and review effort tiered by risk.",
    ],
    "capability_trap": [
        "Drop adoption targets.",
        "Measure lead time, change failures and customer impact instead.",
        "Mark green, yellow and red zones for where AI is encouraged, used with care, or kept out.",
    ],
    "trust_use_gap": [
        "Invest in cheaper sources of trust than line-by-line review: tests, feature flags, staged rollouts, "
        "observability.",
        "Be explicit about where AI is not expected to help.",
    ],
    "low_response": [
        "Explain how anonymity is protected (the privacy page says it plainly).",
        "Tell the team what changed because of the last pulse.",
    ],
}
