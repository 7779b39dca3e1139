"""trainer.core.sections: report readers get the same forgiving answer at every level."""

from trainer.core.sections import entries, number, section, strings

REPORT = {"promotion": {"planned": [{"codec": "libx264"}, "junk", None]},
          "floor": {"warnings": ["a", 2], "reason": None}, "text": "abc", "flag": True, "n": 3}


def test_section_walks_nested_mappings_and_stops_at_anything_else() -> None:
    assert section(REPORT, "promotion") == REPORT["promotion"]
    assert section(REPORT, "promotion", "missing") == {}
    assert section(REPORT, "text", "deeper") == {}
    assert section(None, "promotion") == {}
    assert section(REPORT) is REPORT


def test_entries_keeps_only_mappings_and_strings_turns_items_to_text() -> None:
    assert entries(REPORT, "promotion", "planned") == [{"codec": "libx264"}]
    assert entries(REPORT, "text") == []
    assert entries(REPORT, "floor", "reason") == []
    assert strings(REPORT, "floor", "warnings") == ["a", "2"]
    assert strings(REPORT, "text") == []


def test_number_refuses_bools_and_text() -> None:
    assert number(3) == 3.0 and number(2.5) == 2.5
    assert number(True) is None and number("3") is None and number(None) is None
