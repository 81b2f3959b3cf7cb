"""Step Functions Local's mock configuration: AWS's documented example answered invocation by
invocation, and every kind of broken file refused with each problem located."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from messages.limits import MAX_JSON_DEPTH
from orchestrator.integrations.mock_config import (
    ACTIVITY_NOT_MOCKABLE_CAUSE,
    MAX_CONFIG_BYTES,
    RUNTIME_ERROR,
    MockConfig,
    MockConfigError,
    MockReturn,
    MockThrow,
    split_test_case,
)

LAMBDA_SUCCESS = {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}
SQS_SUCCESS = {
    "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
    "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51",
}
NOT_READY = MockThrow("Lambda.ResourceNotReadyException", "Lambda resource is not ready.")
TIMED_OUT = MockThrow("Lambda.TimeoutException", "Lambda timed out.")
# The example of AWS's guide ("Configuration file for mocked service integrations"), as written.
DOCUMENTED_EXAMPLE = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
            }
        }
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {"0": {"Return": LAMBDA_SUCCESS}},
        "LambdaMockedResourceNotReady": {
            "0": {"Throw": {"Error": NOT_READY.error, "Cause": NOT_READY.cause}}
        },
        "MockedSQSSuccess": {"0": {"Return": SQS_SUCCESS}},
        "MockedLambdaRetry": {
            "0": {"Throw": {"Error": NOT_READY.error, "Cause": NOT_READY.cause}},
            "1-2": {"Throw": {"Error": TIMED_OUT.error, "Cause": TIMED_OUT.cause}},
            "3": {"Return": LAMBDA_SUCCESS},
        },
    },
}
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:LambdaSQSIntegration"


@pytest.fixture
def example(tmp_path: Path) -> MockConfig:
    """AWS's example, read from a real file the way SFN_MOCK_CONFIG names one."""
    path = tmp_path / "MockConfigFile.json"
    path.write_text(json.dumps(DOCUMENTED_EXAMPLE, indent=2), encoding="utf-8")
    return MockConfig.load(path)


def refused(text: str) -> list[str]:
    """The problems MockConfig.parse lists for ``text`` (it must refuse it)."""
    with pytest.raises(MockConfigError) as caught:
        MockConfig.parse(text, "mocks.json")
    assert caught.value.source == "mocks.json"
    assert all(problem in str(caught.value) for problem in caught.value.problems)
    return caught.value.problems


def place(text: str, needle: str, nth: int = 0) -> str:
    """``"line L, column C"`` (1-based) of the ``nth`` occurrence of ``needle`` in ``text``."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def test_happy_path_answers_both_states_from_their_mocked_responses(example: MockConfig) -> None:
    case = example.test_case("LambdaSQSIntegration", "HappyPath")
    assert case is not None
    assert (case.state_machine, case.name) == ("LambdaSQSIntegration", "HappyPath")
    assert case.mocks("LambdaState") and case.mocks("SQSState")
    assert case.response("LambdaState", 0) == MockReturn(LAMBDA_SUCCESS)
    assert case.response("SQSState", 0) == MockReturn(SQS_SUCCESS)


def test_retry_path_answers_each_invocation_then_fails_the_execution(example: MockConfig) -> None:
    case = example.test_case("LambdaSQSIntegration", "RetryPath")
    assert case is not None
    # The first attempt, the two retries of the "1-2" range (inclusive), the last retry.
    answers = [case.response("LambdaState", n) for n in range(4)]
    assert answers == [NOT_READY, TIMED_OUT, TIMED_OUT, MockReturn(LAMBDA_SUCCESS)]
    # Past the last key SFN Local fails the execution with States.Runtime.
    past = case.response("LambdaState", 4)
    assert isinstance(past, MockThrow)
    assert past.error == RUNTIME_ERROR == "States.Runtime"
    for detail in ("invocation 4", "'LambdaState'", "'MockedLambdaRetry'", "0, 1-2, 3"):
        assert detail in past.cause
    with pytest.raises(ValueError, match="counts from 0"):
        case.response("LambdaState", -1)


def test_hybrid_path_leaves_the_state_it_does_not_name_to_its_real_service(
    example: MockConfig,
) -> None:
    case = example.test_case("LambdaSQSIntegration", "HybridPath")
    assert case is not None
    assert case.response("LambdaState", 0) == MockReturn(LAMBDA_SUCCESS)
    assert not case.mocks("SQSState")
    assert case.response("SQSState", 0) is None
    assert case.response("NoSuchState", 7) is None


def test_test_cases_are_found_by_state_machine_and_name(example: MockConfig) -> None:
    assert example.state_machines() == {
        "LambdaSQSIntegration": ("HappyPath", "RetryPath", "HybridPath")
    }
    assert example.test_case("LambdaSQSIntegration", "SadPath") is None
    assert example.test_case("OtherMachine", "HappyPath") is None
    assert example.source.endswith("MockConfigFile.json")
    # Answers are values: nothing a caller does to one changes the configuration.
    case = example.test_case("LambdaSQSIntegration", "HappyPath")
    assert case is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.name = "Other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        case.states["SQSState"] = case.states["LambdaState"]  # type: ignore[index]


def test_split_test_case_takes_the_suffix_after_the_hash() -> None:
    assert split_test_case(f"{ARN}#HappyPath") == (ARN, "HappyPath")
    assert split_test_case(ARN) == (ARN, None)
    assert split_test_case(f"{ARN}:1#Case#2") == (f"{ARN}:1", "Case#2")
    assert split_test_case(f"{ARN}#") == (ARN, "")


def test_ranges_gaps_and_empty_mocked_responses_answer_as_sfn_local_does() -> None:
    config = MockConfig.parse(
        json.dumps(
            {
                "StateMachines": {
                    "M": {"TestCases": {"T": {"Gappy": "Gaps", "Empty": "Nothing", "All": "Wide"}}}
                },
                "MockedResponses": {
                    "Gaps": {"5-7": {"Return": "late"}, "0": {"Return": None}},
                    "Nothing": {},
                    "Wide": {"0-2147483647": {"Return": [1, "two", {"3": 4.5}]}},
                },
            }
        )
    )
    case = config.test_case("M", "T")
    assert case is not None
    assert case.response("Gappy", 0) == MockReturn(None)  # a JSON null is a result too
    assert [case.response("Gappy", n) for n in (5, 6, 7)] == [MockReturn("late")] * 3
    for uncovered in (1, 4, 8):
        answer = case.response("Gappy", uncovered)
        assert isinstance(answer, MockThrow) and answer.error == RUNTIME_ERROR
        assert f"invocation {uncovered} " in answer.cause and "0, 5-7" in answer.cause
    empty = case.response("Empty", 0)
    assert isinstance(empty, MockThrow) and empty.error == RUNTIME_ERROR
    assert "answers invocations: none" in empty.cause
    assert case.response("All", 2**31 - 1) == MockReturn([1, "two", {"3": 4.5}])


def test_a_map_shares_one_counter_across_its_iterations() -> None:
    # A Map over two items calls its inner state twice in one execution: SFN Local answers
    # the first iteration with "0" and the second with "1-3" (localstack#12846).
    config = MockConfig.parse(
        json.dumps(
            {
                "StateMachines": {"M": {"TestCases": {"T": {"Inner": "OneThenFail"}}}},
                "MockedResponses": {
                    "OneThenFail": {
                        "0": {"Return": {"StatusCode": 200}},
                        "1-3": {"Throw": {"Error": "Lambda.AWSLambdaException", "Cause": "x"}},
                    }
                },
            }
        )
    )
    case = config.test_case("M", "T")
    assert case is not None
    counter: dict[str, int] = {}  # what the caller keeps: per state name, per execution
    answers = []
    for _item in ("a", "b"):
        invocation = counter.get("Inner", 0)
        counter["Inner"] = invocation + 1
        answers.append(case.response("Inner", invocation))
    assert answers == [
        MockReturn({"StatusCode": 200}),
        MockThrow("Lambda.AWSLambdaException", "x"),
    ]
    assert "Activity state cannot be mocked" in ACTIVITY_NOT_MOCKABLE_CAUSE


BROKEN = """{
  "StateMachines": {
    "M": {
      "TestCases": {
        "T": {"A": "Missing", "B": 3, "C": "Both"}
      },
      "Extra": 1
    },
    "N": []
  },
  "MockedResponses": {
    "Both": {"0": {"Return": 1, "Throw": {"Error": "E", "Cause": "C"}}},
    "Keys": {
      "a": {"Return": 1},
      "2-1": {"Return": 1},
      "0-3": {"Return": 1},
      "4": {},
      "5": {"Throw": {"Error": 1}},
      "1-2": {"Return": 2},
      "6": {"Return": 1, "Retrun": 2}
    },
    "Twice": {"0": {"Return": 1}, "0": {"Return": 2}}
  },
  "Other": true
}"""


def test_every_problem_is_listed_with_its_pointer_line_and_column() -> None:
    problems = refused(BROKEN)
    expected = [
        ("/StateMachines/M/TestCases/T/A", place(BROKEN, '"Missing"'), "mocked response 'Missing' is not defined"),
        ("/StateMachines/M/TestCases/T/B", place(BROKEN, "3,"), "not a number"),
        ("/StateMachines/M/Extra", place(BROKEN, '"Extra"'), "field 'Extra' is not allowed here"),
        ("/StateMachines/N", place(BROKEN, "[]"), "must be a JSON object, not an array"),
        ("/MockedResponses/Both/0", place(BROKEN, '{"Return": 1, "Throw"'), "this has both"),
        ("/MockedResponses/Keys/a", place(BROKEN, '"a"'), "'a' is not an invocation key"),
        ("/MockedResponses/Keys/2-1", place(BROKEN, '"2-1"'), "ends before it starts"),
        ("/MockedResponses/Keys/4", place(BROKEN, "{}"), "this has neither"),
        ("/MockedResponses/Keys/5/Throw", place(BROKEN, '{"Error": 1}'), "field 'Cause' is required"),
        ("/MockedResponses/Keys/5/Throw/Error", place(BROKEN, "1}}"), "Error must be a string"),
        ("/MockedResponses/Keys/1-2", place(BROKEN, '"1-2"'), "overlaps key '0-3': both answer invocation 1"),
        ("/MockedResponses/Keys/6/Retrun", place(BROKEN, '"Retrun"'), "field 'Retrun' is not allowed"),
        ("/MockedResponses/Twice/0", place(BROKEN, '"0"', 2), "key '0' is given more than once"),
        ("/Other", place(BROKEN, '"Other"'), "field 'Other' is not allowed here"),
    ]  # fmt: skip
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, (pointer, where, what) in zip(problems, expected, strict=True):
        assert problem.startswith(f"{pointer} ({where}): "), problem
        assert what in problem, problem
    # "C" names a mocked response that is there but refused: reported once, where it is.
    assert not any("/T/C" in problem for problem in problems)


def test_missing_parts_and_wrong_types_are_reported_where_they_belong() -> None:
    assert refused("{}") == [
        "/ (line 1, column 1): field 'StateMachines' is required",
        "/ (line 1, column 1): field 'MockedResponses' is required",
    ]
    text = '{"StateMachines": {"M": {}, "P": {"TestCases": {"T": {"S": "R"}}}}}'
    empty, name = place(text, "{}"), place(text, '"R"')
    assert refused(text) == [
        "/ (line 1, column 1): field 'MockedResponses' is required",
        f"/StateMachines/M ({empty}): field 'TestCases' is required",
        f"/StateMachines/P/TestCases/T/S ({name}):"
        " mocked response 'R' is not defined in MockedResponses",
    ]
    text = '{"StateMachines": [], "MockedResponses": {"R": {"0": {"Throw": "E"}}}}'
    array, string = place(text, "[]"), place(text, '"E"')
    assert refused(text) == [
        f"/StateMachines ({array}): StateMachines must be a JSON object, not an array",
        f"/MockedResponses/R/0/Throw ({string}): Throw must be a JSON object, not a string",
    ]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("-1", "is not an invocation key"),
        ("1-", "is not an invocation key"),
        (" 1", "is not an invocation key"),
        ("1-2-3", "is not an invocation key"),
        ("\uff11", "is not an invocation key"),  # a full-width digit is not a number here
        ("2147483648", "passes the largest invocation number"),
        ("0-99999999999999999999", "is too large"),
    ],
)
def test_invocation_keys_are_numbers_or_ranges(key: str, message: str) -> None:
    text = json.dumps({"StateMachines": {}, "MockedResponses": {"R": {key: {"Return": 1}}}})
    (problem,) = refused(text)
    pointer = f"/MockedResponses/R/{key}"
    assert problem.startswith(f"{pointer} ({place(text, json.dumps(key))}): "), problem
    assert message in problem


def test_a_syntax_error_is_reported_at_its_line_and_column() -> None:
    text = (
        '{\n  "StateMachines": {},\n  "MockedResponses": {\n    "R": {"0": {"Return": 1},}\n  }\n}'
    )
    (problem,) = refused(text)
    line, column = 4, text.splitlines()[3].index("},}") + 3
    assert problem.startswith(f"line {line}, column {column}: "), problem
    assert "Expecting property name" in problem
    (problem,) = refused("")
    assert problem.startswith("line 1, column 1: Expecting value")


@pytest.mark.parametrize(
    ("text", "kind"), [("[]", "an array"), ('"x"', "a string"), ("null", "null"), ("7", "a number")]
)
def test_a_configuration_that_is_not_an_object_is_refused(text: str, kind: str) -> None:
    assert refused(text) == [
        f"/ (line 1, column 1): a mock configuration must be a JSON object, not {kind}"
    ]


def test_numbers_json_has_no_value_for_are_refused_where_they_are() -> None:
    text = '{"StateMachines": {},\n "MockedResponses": {"R": {"0": {"Return": NaN}}}}'
    (problem,) = refused(text)
    assert problem.startswith(f"{place(text, 'NaN')}: NaN is not a JSON number")


def test_input_is_bounded_in_size_and_depth(tmp_path: Path) -> None:
    # Large, but JSON: the size alone refuses it, before it is parsed.
    text = '{"StateMachines": {}, "MockedResponses": {}}'
    text += " " * (MAX_CONFIG_BYTES - len(text))
    assert len(text) == MAX_CONFIG_BYTES and MockConfig.parse(text).state_machines() == {}
    (problem,) = refused(text + " ")
    assert "10 MiB" in problem and "more than" in problem
    (problem,) = refused("é" * (MAX_CONFIG_BYTES // 2 + 1))  # few characters, many bytes
    assert f"{(MAX_CONFIG_BYTES // 2 + 1) * 2:,} bytes" in problem
    path = tmp_path / "huge.json"
    path.write_text(text + " ", encoding="utf-8")
    with pytest.raises(MockConfigError, match="10 MiB"):
        MockConfig.load(path)
    # Deep, but small: refused where the level past the limit opens.
    deep = "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5)
    text = json.dumps({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 0}}}})
    text = text.replace('"Return": 0', f'"Return": {deep}')
    (problem,) = refused(text)
    assert problem.startswith("/MockedResponses/R/0/Return/0/0"), problem
    assert f"more than {MAX_JSON_DEPTH} levels deep" in problem
    assert f"column {text.index('[') + MAX_JSON_DEPTH - 4 + 1})" in problem


def test_load_reads_utf8_files_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(DOCUMENTED_EXAMPLE).encode())
    assert MockConfig.load(path).test_case("LambdaSQSIntegration", "HappyPath") is not None
    with pytest.raises(MockConfigError, match="cannot be read") as caught:
        MockConfig.load(tmp_path / "absent.json")
    assert caught.value.source == str(tmp_path / "absent.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"StateMachines": {}, "MockedResponses": {"caf\xe9": {}}}')
    with pytest.raises(MockConfigError, match="is not UTF-8 text"):
        MockConfig.load(latin)
    broken = tmp_path / "broken.json"
    broken.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(MockConfigError) as caught:
        MockConfig.load(broken)
    assert str(caught.value).startswith(
        f"{broken}: the mock configuration is refused, 14 problem(s)"
    )


def test_too_many_problems_are_counted_not_listed() -> None:
    entries = {f"R{i}": {"x": {"Return": i}} for i in range(1_050)}
    problems = refused(json.dumps({"StateMachines": {}, "MockedResponses": entries}))
    assert len(problems) == 1_001
    assert problems[-1] == "/: 50 more problem(s) are not listed"
    assert problems[0].startswith("/MockedResponses/R0/x ")
