"""Jump-forward decoding (dallm.jump) on the real offline model: SmolLM2 through llama.cpp, the value schema of 03."""
import json

import pytest

from dallm.augment import FeatureSpec, values_schema
from dallm.config import get_settings
from dallm.jump import JUMP_DECODER, Hole, Lit, Str, forced, json_template, template_gbnf, template_tokens
from dallm.llm import get_llm
from dallm.llm_cache import request_key
from dallm.parse import vitals_schema

FEATURES = [FeatureSpec(name="cough", type="boolean"),
            FeatureSpec(name="spo2", type="numeric", unit="%", low=50, high=100),
            FeatureSpec(name="grade", type="categorical", values=["small", "large"])]
MESSAGES = [{"role": "system", "content": "You are an experienced radiologist. For the patient the user describes, "
             "give the value of each feature below. Use null when the information does not allow a judgement. Answer with "
             "one JSON object: for every feature its value and a short reason.\nFeatures:\n- f_cough: cough (true or "
             "false)\n- f_spo2: oxygen saturation (a number in %)\n- f_grade: effusion grade (one of small, large)"},
            {"role": "user", "content": "AGE: 64. SEX: male.\nREPORT:\nINDICATION: Cough and fever.\nFINDINGS: "
             "Large right pleural effusion.\nIMPRESSION: Large right effusion."}]


def test_the_value_and_vitals_schemas_are_templated_and_arrays_are_not():
    segs = json_template(values_schema(FEATURES, reason_chars=30))
    assert segs[0] == Lit('{"f_cough": {"value": ') and Str(30) in segs and Hole(('"small"', '"large"', "null")) in segs
    assert json_template(vitals_schema()) is not None
    assert json_template({"type": "object", "properties": {"xs": {"type": "array", "items": {"type": "number"}}},
                          "required": ["xs"]}) is None


def test_forced_text_is_exactly_what_a_valid_answer_writes_next():
    segs = json_template(values_schema(FEATURES, reason_chars=30))
    answer = {"f_cough": {"value": True, "reason": "cough in the \"indication\""},
              "f_spo2": {"value": 93.5, "reason": ""}, "f_grade": {"value": None, "reason": "not said"}}
    text = json.dumps(answer)
    assert forced(segs, text) == ("", True)
    n_forced = 0
    for i in range(len(text)):
        f, done = forced(segs, text[:i])
        assert not done and text[i:i + len(f)] == f, (text[:i], f)
        n_forced += bool(f)
    assert n_forced > len(text) / 3  # most positions of a value answer have a certain continuation
    assert forced(segs, text[:text.index("null")] + "n")[0].startswith('ull, "reason": "')
    assert forced(segs, '{"f_cough": {"value": maybe') == ("", False)  # off the template: nothing forced


def test_jumped_answers_are_valid_counted_and_keyed_apart(tmp_path):
    llm = get_llm("smollm2", cache=tmp_path / "jump.sqlite")
    schema = values_schema(FEATURES, reason_chars=30)
    ans = llm.chat(MESSAGES, schema=schema, temperature=0.0, max_tokens=160)
    assert set(ans) == {"f_cough", "f_spo2", "f_grade"} and all(set(v) == {"value", "reason"} for v in ans.values())
    assert forced(json_template(schema), llm.last.text) == ("", True)  # a complete templated answer
    L = llm.ledger
    assert L.jumped_tokens > L.sampled_tokens > 0  # most of the answer appended without a decode step
    assert L.sampled_tokens + L.jumped_tokens == L.completion_tokens
    segs = json_template(schema)
    planned = template_tokens(segs, lambda t: llm.backend.llm.tokenize(t.encode(), add_bos=False))
    assert abs(planned - L.jumped_tokens) <= 8, (planned, L.jumped_tokens)

    off = get_llm("smollm2", cache=tmp_path / "jump.sqlite", settings=get_settings(jump_forward=False))
    plain = off.chat(MESSAGES, schema=schema, temperature=0.0, max_tokens=160)
    assert off.ledger.calls == 1 and off.ledger.jumped_tokens == 0  # not served the jumped answer from the cache
    assert set(plain) == set(ans)
    d = off._decoding({"temperature": 0.0, "max_tokens": 160})
    assert llm.jumps(schema, d) and not off.jumps(schema, d) and not llm.jumps(schema, {**d, "temperature": 0.7})
    keys = {request_key({**llm._identity(), "kind": "chat", "messages": MESSAGES, "schema": schema, "decoding": d, **x})
            for x in ({}, {"decoder": JUMP_DECODER})}
    assert len(keys) == 2


def test_the_template_grammar_loads_in_llama_cpp():
    from llama_cpp import LlamaGrammar
    for schema in (values_schema(FEATURES), vitals_schema()):
        LlamaGrammar.from_string(template_gbnf(json_template(schema)), verbose=False)
