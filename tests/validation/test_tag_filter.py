"""Tag exclusions by name and by parent tag, over a hierarchy with several parents and a cycle."""
from __future__ import annotations

from validation.tag_filter import folded, kept_tags

# id -> [(parent id, parent name)]: 3 "Needs trim" < 2 "To review" < 1 "Workflow"; 5 and 6 parent each other.
PARENTS = {"1": [], "2": [("1", "Workflow")], "3": [("2", "To review"), ("4", "Outdoor")], "4": [],
           "5": [("6", "Loop B")], "6": [("5", "Loop A")]}
TAGS = [{"id": "3", "name": "Needs trim"}, {"id": "4", "name": "Outdoor"}, {"id": "5", "name": "Loop A"},
        {"id": "7", "name": "Comedy"}]


def names(tags):
    return [t["name"] for t in tags]


def test_a_parent_excludes_every_tag_below_it_at_any_depth():
    assert names(kept_tags(TAGS, folded([]), folded(["workflow"]), lambda i: PARENTS.get(i, []))) == [
        "Outdoor", "Loop A", "Comedy"]


def test_by_name_only_excludes_exactly_that_tag_and_a_cycle_ends():
    assert names(kept_tags(TAGS, folded(["COMEDY"]), folded(["Nowhere"]),
                           lambda i: PARENTS.get(i, []))) == ["Needs trim", "Outdoor", "Loop A"]


def test_no_exclusions_keep_everything_without_reading_parents():
    def fail(_tag_id):
        raise AssertionError("parents read with nothing excluded by parent")
    assert kept_tags(TAGS, folded([]), folded([]), fail) == TAGS
