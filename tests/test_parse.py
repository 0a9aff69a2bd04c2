"""The number parsers against hostile model answers (clean mode) and the authors' first-token rule (paper mode)."""

import pytest

from dallm.parse import paper_first_token, parse_value, parse_vitals, vitals_schema, words_to_number

HOSTILE = [  # answer, feature, expected value (None = missing), words the reason must contain
    ("95%", "o2sat", 95.0, ""),
    ("~98.6 F", "temperature", 98.6, ""),
    ("ninety-five", "heartrate", 95.0, "words"),
    ("N/A", "heartrate", None, "no value given"),
    ("98-99", "o2sat", 98.5, "midpoint"),
    ("95 to 97 %", "o2sat", 96.0, "midpoint"),
    ("", "sbp", None, "empty"),
    ("   ", "sbp", None, "empty"),
    ("I'm sorry, but as an AI I cannot provide medical values.", "heartrate", None, "refusal"),
    ("I cannot determine this from the report.", "resprate", None, "refusal"),
    ("The heart rate is " + "very " * 5000 + "high at 88", "heartrate", None, "no number"),
    ("unknown", "dbp", None, "no value given"),
    ("37.5 °C", "temperature", 99.5, "Celsius"),
    ("37", "temperature", 98.6, "Celsius"),
    ("0.93", "o2sat", 93.0, "fraction"),
    ("98,6", "temperature", 98.6, ""),
    ("120/80 mmHg", "sbp", 120.0, ""),
    ("955", "o2sat", None, "outside physiological limits"),
    ("-5", "heartrate", None, "outside physiological limits"),
    ("Heart rate: 72 bpm.", "heartrate", 72.0, ""),
    ("one hundred and ten", "sbp", 110.0, "words"),
]


@pytest.mark.parametrize("answer,feature,want,why", HOSTILE)
def test_parse_value_hostile(answer, feature, want, why):
    got = parse_value(answer, feature)
    if want is None:
        assert got.value is None
    else:
        assert got.value == pytest.approx(want, abs=0.01)
    assert why.lower() in got.reason.lower()


def test_numbers_and_odd_types():
    assert parse_value(95.5, "o2sat").value == 95.5  # decimals survive (the authors' parser made this 955)
    assert parse_value(float("nan"), "o2sat").value is None
    assert parse_value(True, "o2sat").value is None
    assert parse_value(None, "o2sat").reason == "no answer"
    assert parse_value(37.0, "temperature", unit="C").value == pytest.approx(98.6)
    with pytest.raises(KeyError, match="pain"):
        parse_value("3", "pain")


def test_words_to_number():
    assert words_to_number("ninety eight point six") == 98.6
    assert words_to_number("twenty-two breaths") == 22.0
    assert words_to_number("no idea") is None


def test_paper_first_token_reproduces_the_authors_rule():
    assert paper_first_token("98.6 F", 90, 110) == 98.6
    assert paper_first_token("about 98", 90, 110) is None  # number not first: lost
    assert paper_first_token("110", 90, 110) is None  # strictly inside the range
    assert paper_first_token("95%.", 80, 100) == 95.0
    assert paper_first_token("", 0, 1) is None and paper_first_token("...", 0, 100) is None


def test_parse_vitals_structured_and_text():
    ans = {"temperature": {"value": 38, "unit": "C"}, "heart_rate": {"value": "110", "unit": "bpm"},
           "respiratory_rate": {"value": 24, "unit": "breaths/min"}, "spo2": {"value": 0.91, "unit": "%"},
           "systolic_bp": 150, "diastolic_bp": {"value": None, "unit": "mmHg"}}
    got = parse_vitals(ans)
    assert got["temperature"].value == pytest.approx(100.4)
    assert got["heartrate"].value == 110 and got["resprate"].value == 24
    assert got["o2sat"].value == 91.0 and got["sbp"].value == 150
    assert got["dbp"].value is None and got["dbp"].reason == "no answer"
    assert all(v.value is None for v in parse_vitals({}).values())
    txt = parse_vitals("HR 90, SpO2 97%, temp 99.1 F")
    assert txt["heartrate"].value == 90 and txt["o2sat"].value == 97 and txt["temperature"].value == 99.1
    assert set(vitals_schema()["required"]) == {"temperature", "heart_rate", "respiratory_rate", "spo2", "systolic_bp", "diastolic_bp"}
