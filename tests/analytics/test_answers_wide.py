"""Long answers to one row per response: the same frame DataFrame.pivot gives, and no silent merge."""

import numpy as np
import pandas as pd
import pytest

from analytics.core.scoring import answers_wide


def long_answers(rng: np.random.Generator, responses: int = 300) -> pd.DataFrame:
    """Answers of `responses` respondents, random ids (so sorting matters), some items skipped,
    rows in random order."""
    items = ["ps1", "ps2", "use1", "trust1", "ws1", "ws3_leaders"]
    rows = []
    for r in range(responses):
        response_id, team = f"{rng.integers(0, 10**9):09d}-{r}", f"team-{rng.integers(0, 12):02d}"
        for item in rng.permutation(items)[: rng.integers(1, len(items) + 1)]:
            rows.append((response_id, team, str(item), float(rng.integers(1, 8))))
    frame = pd.DataFrame(rows, columns=["response_id", "team_id", "item", "value"])
    return frame.sample(frac=1.0, random_state=1, ignore_index=True)


def test_wide_answers_equal_pandas_pivot():
    answers = long_answers(np.random.default_rng(4))
    wide = answers_wide(answers)
    expected = answers.pivot(index="response_id", columns="item", values="value")  # noqa: PD010
    expected.columns.name = None
    pd.testing.assert_frame_equal(wide.drop(columns="team_id"), expected)
    teams = answers.drop_duplicates("response_id").set_index("response_id")["team_id"]
    assert (wide["team_id"] == teams.reindex(wide.index)).all()


def test_two_answers_to_one_item_are_an_error_not_a_merge():
    answers = pd.DataFrame(
        [("r1", "t1", "ps1", 5.0), ("r1", "t1", "ps1", 2.0)], columns=["response_id", "team_id", "item", "value"]
    )
    with pytest.raises(ValueError, match="two answers to one item"):
        answers_wide(answers)


def test_no_answers_give_an_empty_frame():
    empty = pd.DataFrame(columns=["response_id", "team_id", "item", "value"])
    assert list(answers_wide(empty).columns) == ["team_id"]
