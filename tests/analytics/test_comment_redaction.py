"""Redacting a listed comment (ANONYMITY R7, R10): one transaction deletes the listing row and
wipes its source on the anonymous side, so no rerun of the job lists it again; the right source
among identical texts; before or after release; audited with the cycle and the listing unit only;
a repeat, an unknown id or another cycle's comment changes nothing and says so."""

from __future__ import annotations

import json
import uuid

import pytest
from django.utils import timezone

from analytics.job.comments import NOT_LISTED, CommentNotListed, comment_redact
from analytics.job.run import aggregate_cycle
from analytics.models import ReleasedComment
from analytics.published import ORGANISATION_ID, comments_in_review, listed_comments
from surveys.anonymous.models import Comment
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle
from surveys.services.comments import comments_release_now
from tests.analytics.builders import MARCH, Org, cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db
HR_EMAIL = "hr@example.com"
SECRET = "Ana in Alpha said the release was rushed\non purpose"


def closed_and_listed(
    *, comment_threshold: int = 10, replace: dict[tuple[str, int], str] | None = None
) -> tuple[Org, Cycle]:
    """STANDARD answered in March (``replace``: (team, index) -> that respondent's comment), closed
    today (so in review) and aggregated."""
    org = org_build(comment_threshold=comment_threshold)
    answers = standard_answers(org)
    for (team, index), text in (replace or {}).items():
        answers[team][index]["c1"] = text
    cycle = cycle_run(org, answers, month=MARCH, close=False).cycle
    cycle = cycle_close(cycle=cycle, today=timezone.localdate()).cycle
    aggregate_cycle(cycle=cycle)
    cycle.refresh_from_db()
    return org, cycle


def listed(cycle: Cycle) -> list[tuple[str, int, str]]:
    return sorted(ReleasedComment.objects.filter(cycle=cycle).values_list("unit_id", "position", "text"))


def row_with(cycle: Cycle, text: str) -> ReleasedComment:
    return ReleasedComment.objects.get(cycle=cycle, text=text)


def everywhere(org: Org) -> list[str]:
    return [ORGANISATION_ID, *(str(team.pk) for team in org.units.values())]


def text_anywhere(text: str) -> bool:
    """Whether any part of the text (its first line will do) is still stored in the comment
    tables, or anywhere in the audit log."""
    fragment = text.splitlines()[0]
    in_tables = (
        Comment.objects.filter(text__contains=fragment).exists()
        or ReleasedComment.objects.filter(text__contains=fragment).exists()
    )
    logged = AuditEvent.objects.values_list("actor", "detail")
    return in_tables or any(fragment in actor or fragment in json.dumps(detail) for actor, detail in logged)


def test_redaction_deletes_the_text_from_both_tables_and_a_rerun_does_not_bring_it_back():
    org, cycle = closed_and_listed(replace={("Engineering/Alpha", 2): SECRET})
    row = row_with(cycle, SECRET)
    before = listed(cycle)
    others = [entry for entry in before if entry[2] != SECRET]
    assert len(before) == 28 and text_anywhere(SECRET)  # the check would see it

    result = comment_redact(comment_id=row.pk, actor=HR_EMAIL)

    assert (result.cycle, result.unit_path) == ("2026-03", "Engineering")
    assert listed(cycle) == others  # the rest keep their positions: a gap is fine
    assert not text_anywhere(SECRET)
    source = Comment.objects.get(cycle=cycle, redacted=True)
    assert source.text == "" and source.team_id == org.units["Engineering/Alpha"].pk
    assert Comment.objects.filter(cycle=cycle, redacted=False).count() == 27

    aggregate_cycle(cycle=cycle)  # a rerun (a k raise, the nightly catch-up) lists again from the source
    assert len(listed(cycle)) == 27
    assert SECRET not in {text for _, _, text in listed(cycle)}
    assert not text_anywhere(SECRET)


def test_the_audit_names_the_cycle_and_the_listing_unit_and_never_the_text():
    _, cycle = closed_and_listed(replace={("Product/Design", 0): SECRET})
    comment_redact(comment_id=row_with(cycle, SECRET).pk, actor=HR_EMAIL)
    [event] = AuditEvent.objects.filter(action="comment_redacted")
    assert (event.actor, event.detail) == (HR_EMAIL, {"cycle": "2026-03", "unit": "Product"})
    assert not text_anywhere(SECRET)


def test_among_identical_texts_the_one_listed_at_that_unit_is_wiped():
    # At a comment threshold of 5, Alpha (8) lists its own comments; Beta (6) would too, but then
    # Engineering (17) minus Alpha and Beta leaves Gamma's 3 < 5, so R5 un-lists Beta, the smaller,
    # and Engineering lists Beta's and Gamma's. The same words from Alpha and from Beta are two
    # comments listed at two levels: redacting the department's must wipe Beta's, not Alpha's.
    same = "The on-call rota is unfair"
    org, cycle = closed_and_listed(
        comment_threshold=5, replace={("Engineering/Alpha", 0): same, ("Engineering/Beta", 0): same}
    )
    rows = {
        str(unit): key
        for key, unit in ReleasedComment.objects.filter(cycle=cycle, text=same).values_list("id", "unit_id")
    }
    assert set(rows) == {org.id("Engineering/Alpha"), org.id("Engineering")}

    comment_redact(comment_id=rows[org.id("Engineering")], actor=HR_EMAIL)

    wiped = Comment.objects.get(cycle=cycle, redacted=True)
    assert wiped.team_id == org.units["Engineering/Beta"].pk
    assert Comment.objects.get(cycle=cycle, text=same).team_id == org.units["Engineering/Alpha"].pk
    aggregate_cycle(cycle=cycle)
    again = set(ReleasedComment.objects.filter(cycle=cycle, text=same).values_list("unit_id", flat=True))
    assert {str(unit) for unit in again} == {org.id("Engineering/Alpha")}  # Alpha's stays listed


def test_two_identical_comments_at_one_unit_are_redacted_one_each():
    same = "More pairing, please"
    _, cycle = closed_and_listed(replace={("Product/Design", 0): same, ("Product/Research", 1): same})
    first, second = ReleasedComment.objects.filter(cycle=cycle, text=same).values_list("id", flat=True)
    comment_redact(comment_id=first, actor=HR_EMAIL)
    assert Comment.objects.filter(cycle=cycle, text=same, redacted=False).count() == 1
    comment_redact(comment_id=second, actor=HR_EMAIL)
    assert Comment.objects.filter(cycle=cycle, redacted=True).count() == 2
    assert not Comment.objects.filter(text=same).exists()
    aggregate_cycle(cycle=cycle)
    assert not ReleasedComment.objects.filter(text=same).exists()


def test_redaction_after_release_takes_the_comment_down():
    org, cycle = closed_and_listed(replace={("Engineering/Gamma", 1): SECRET})
    comments_release_now(cycle=cycle, actor=HR_EMAIL)
    assert SECRET in [comment.text for comment in listed_comments(cycle=cycle, unit_ids=everywhere(org))]
    comment_redact(comment_id=row_with(cycle, SECRET).pk, actor=HR_EMAIL)
    shown = [comment.text for comment in listed_comments(cycle=cycle, unit_ids=everywhere(org))]
    assert len(shown) == 27 and SECRET not in shown
    assert SECRET not in [comment.text for comment in comments_in_review(cycle=cycle).comments]


def test_a_repeat_is_refused_as_already_redacted_and_changes_nothing():
    _, cycle = closed_and_listed(replace={("Engineering/Alpha", 2): SECRET})
    key = row_with(cycle, SECRET).pk
    comment_redact(comment_id=key, actor=HR_EMAIL)
    after = listed(cycle)
    with pytest.raises(CommentNotListed, match="already redacted or is not listed"):
        comment_redact(comment_id=key, actor=HR_EMAIL)
    assert listed(cycle) == after
    assert AuditEvent.objects.filter(action="comment_redacted").count() == 1


@pytest.mark.parametrize("comment_id", ["00000000-0000-4000-8000-00000000dead", "not-an-id", "", str(uuid.uuid4())])
def test_an_unknown_or_malformed_id_is_refused_and_changes_nothing(comment_id):
    _, cycle = closed_and_listed()
    before = listed(cycle)
    with pytest.raises(CommentNotListed) as refused:
        comment_redact(comment_id=comment_id, actor=HR_EMAIL)
    assert str(refused.value) == NOT_LISTED
    assert listed(cycle) == before and not Comment.objects.filter(redacted=True).exists()
    assert not AuditEvent.objects.filter(action="comment_redacted").exists()


def test_a_comment_of_another_cycle_is_not_found_under_this_one():
    _, cycle = closed_and_listed()
    other = Cycle.objects.create(
        month=cycle.month.replace(month=2),
        status=Cycle.Status.CLOSED,
        instrument_version=cycle.instrument_version,
        k=5,
        comment_threshold=10,
        pilot_cutoff=5,
        opened_on=cycle.opened_on,
        closes_on=cycle.closes_on,
        closed_on=cycle.closes_on,
    )
    key = ReleasedComment.objects.filter(cycle=cycle).values_list("id", flat=True).first()
    with pytest.raises(CommentNotListed):
        comment_redact(comment_id=key, actor=HR_EMAIL, cycle=other)
    assert ReleasedComment.objects.filter(pk=key).exists()
    comment_redact(comment_id=key, actor=HR_EMAIL, cycle=cycle)  # under its own cycle it goes
    assert not ReleasedComment.objects.filter(pk=key).exists()


def test_a_list_drawn_again_refuses_the_old_ids():
    _, cycle = closed_and_listed()
    old = ReleasedComment.objects.filter(cycle=cycle).values_list("id", flat=True).first()
    aggregate_cycle(cycle=cycle)  # a rerun draws new ids for the same comments
    with pytest.raises(CommentNotListed):
        comment_redact(comment_id=old, actor=HR_EMAIL)
    assert len(listed(cycle)) == 28


def test_redaction_needs_an_actor_and_changes_nothing_without_one():
    _, cycle = closed_and_listed()
    key = ReleasedComment.objects.filter(cycle=cycle).values_list("id", flat=True).first()
    with pytest.raises(ValueError, match="needs an actor"):
        comment_redact(comment_id=key, actor="  ")
    assert ReleasedComment.objects.filter(pk=key).exists()
