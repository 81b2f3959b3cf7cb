"""TestState as extended in November 2025: mocks of Map and Parallel states, the mock rules,
stateConfiguration and mock.fieldValidationMode.

Expected values come from LocalStack's AWS-recorded snapshots (recorded against AWS), under
tests/aws/services/stepfunctions/v2/test_state/ in localstack/localstack; each test names
the snapshot key it checks.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.api.errors import ApiError
from tests.api.test_teststate import state

# LocalStack's templates (test_state/statemachines/*.json5), as the tests below use them.
BASE_MAP_STATE: dict[str, Any] = {
    "Type": "Map",
    "QueryLanguage": "JSONata",
    "Items": "{% $states.input.Values %}",
    "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "TestState",
        "States": {
            "TestState": {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "foo", "Payload": "bar"},
                "End": True,
            }
        },
    },
    "Output": "{% $states %}",
    "End": True,
}
BASE_PARALLEL_STATE: dict[str, Any] = {
    "Type": "Parallel",
    "Branches": [
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}},
        {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": True}}},
    ],
    "End": True,
}
LAMBDA_SERVICE_TASK: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName.$": "$.FunctionName", "Payload.$": "$.Payload"},
    "End": True,
}
SFN_START_EXECUTION: dict[str, Any] = {
    "Type": "Task",
    "QueryLanguage": "JSONata",
    "Resource": "arn:aws:states:::states:startExecution",
    "Arguments": {
        "Input": "{% $states.input.targetInput %}",
        "StateMachineArn": "{% $states.input.stateMachineArn %}",
        "Name": "{% $states.input.name %}",
    },
    "Output": {"targetExecutionResult": "{% $states.result %}"},
    "End": True,
}
VALUES = json.dumps({"Values": ["first", "second", "third"]})
MOCK_ERROR = {"errorOutput": {"error": "MockException", "cause": "Mock the error cause."}}


def refused(definition: dict[str, Any], **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        state(definition, **params)
    return caught.value


def inspection(answer: dict[str, Any]) -> dict[str, Any]:
    data = dict(answer["inspectionData"])
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = json.loads(value)
    return data


# test_state_mock_validation.snapshot.json
@pytest.mark.parametrize(
    ("definition", "mock", "message"),
    [
        # test_state_type_does_not_accept_mock[mock_result-PassState]
        (
            {"Type": "Pass", "End": True},
            {"result": '{"mock": "the unmockable"}'},
            "State type 'Pass' is not supported when a mock is specified",
        ),
        # test_state_type_does_not_accept_mock[mock_error_output-FailState]
        (
            {"Type": "Fail", "Error": "E", "Cause": "C"},
            {"errorOutput": {"error": "Error", "cause": "Cause"}},
            "State type 'Fail' is not supported when a mock is specified",
        ),
        # test_both_mock_result_and_mock_error_output_are_set
        (
            LAMBDA_SERVICE_TASK,
            {"result": "{}", "errorOutput": {"error": "Error", "cause": "Cause"}},
            "A test mock should have only one of the following fields: [result, errorOutput].",
        ),
        # test_mock_result_is_not_array_on_map_state_without_result_writer
        (BASE_MAP_STATE, {"result": '{"mock": "object"}'}, "Mocked result must be an array."),
        # test_mock_result_array_size_mismatch_on_parallel_state
        (
            BASE_PARALLEL_STATE,
            {"result": '[{"branch1": "result"}]'},
            "Mocked result must contain the same number of items as number of Parallel branches.",
        ),
        # test_mock_is_not_json_string (test_test_state_mock_scenarios.snapshot.json)
        (
            LAMBDA_SERVICE_TASK,
            {"result": "not JSON string", "fieldValidationMode": "NONE"},
            "Mocked result must be valid JSON",
        ),
    ],
)
def test_mock_rules_refuse_as_aws(
    definition: dict[str, Any], mock: dict[str, Any], message: str
) -> None:
    error = refused(definition, mock=mock, inspectionLevel="TRACE")
    assert (error.type, error.message) == ("ValidationException", message)


def test_reveal_secrets_and_map_iteration_failure_count_need_the_right_mock() -> None:
    # test_reveal_secrets_is_true_and_mock_result_is_set
    error = refused(LAMBDA_SERVICE_TASK, mock={"result": "{}"}, revealSecrets=True)
    assert error.message == "TestState does not support RevealSecrets when a mock is specified."
    # test_map_iteration_failure_count_without_mock
    error = refused(BASE_MAP_STATE, stateConfiguration={"mapIterationFailureCount": 0})
    assert error.message == (
        "TestState does not support MapIterationFailureCount when a mock is not specified."
    )
    # test_map_iteration_failure_count_exceeds_mock_result_items
    error = refused(
        BASE_MAP_STATE,
        input=json.dumps({"Values": [1, 1, 1]}),
        stateConfiguration={"mapIterationFailureCount": 4},
        mock={"result": "[1, 1, 1]"},
    )
    assert error.message == (
        "Map iteration failure count must be less than or equal to the number of Map iterations"
    )


def test_a_mocked_parallel_result_goes_through_its_result_path() -> None:
    # test_io_parallel_state_mock_success[DEBUG]
    definition = {**BASE_PARALLEL_STATE, "InputPath": "$.parallelInput"}
    definition.update(ResultPath="$.parallelResult", OutputPath="$")
    answer = state(
        definition,
        input=json.dumps({"parallelInput": {"data": "input_value"}}),
        inspectionLevel="DEBUG",
        mock={"result": json.dumps([{"branch1": "result"}, {"branch2": "result"}])},
    )
    expected = {
        "parallelInput": {"data": "input_value"},
        "parallelResult": [{"branch1": "result"}, {"branch2": "result"}],
    }
    assert answer["status"] == "SUCCEEDED" and json.loads(answer["output"]) == expected
    assert inspection(answer) == {
        "input": {"parallelInput": {"data": "input_value"}},
        "afterResultSelector": [{"branch1": "result"}, {"branch2": "result"}],
        "afterResultPath": expected,
    }


def test_a_mocked_map_result_is_its_result_and_shows_its_limits() -> None:
    # test_base_map_state_inspect[TOLERATED_FAILURE_PERCENTAGE-DEBUG]
    definition = {**BASE_MAP_STATE, "ToleratedFailurePercentage": "{% $variable := 1 %}"}
    answer = state(
        definition,
        input=json.dumps({"Values": [1, 2, 3]}),
        inspectionLevel="DEBUG",
        mock={"result": "[1, 1, 1]"},
    )
    output = json.loads(answer["output"])
    assert answer["status"] == "SUCCEEDED"
    assert (output["input"], output["result"]) == ({"Values": [1, 2, 3]}, [1, 1, 1])
    assert inspection(answer) == {
        "input": {"Values": [1, 2, 3]},
        "maxConcurrency": 0,
        "toleratedFailurePercentage": 1.0,
    }


def test_map_iteration_failures_past_the_tolerance_are_caught_or_retried() -> None:
    catch = {
        **BASE_MAP_STATE,
        "Catch": [
            {"ErrorEquals": ["MockException"], "Output": "{% $states %}", "Next": "A"},
            {
                "ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
                "Output": "{% $states %}",
                "Next": "HandleThreshold",
            },
        ],
        "ToleratedFailureCount": 1,
    }
    del catch["Output"]
    # test_map_state_failure_count[DEBUG-BASE_MAP_STATE_CATCH]: below, then exceeds
    below = state(
        catch,
        input=VALUES,
        stateConfiguration={"mapIterationFailureCount": 0},
        inspectionLevel="DEBUG",
        mock={"result": "[1, 1, 1]"},
    )
    assert (below["status"], json.loads(below["output"])) == ("SUCCEEDED", [1, 1, 1])
    assert inspection(below)["toleratedFailureCount"] == 1
    exceeds = state(
        catch,
        input=VALUES,
        stateConfiguration={"mapIterationFailureCount": 2},
        inspectionLevel="DEBUG",
        mock={"result": "[0, 0, 1]"},
    )
    assert (exceeds["status"], exceeds["nextState"]) == ("CAUGHT_ERROR", "HandleThreshold")
    assert exceeds["error"] == "States.ExceedToleratedFailureThreshold"
    assert exceeds["cause"] == "The specified tolerated failure threshold was exceeded"
    assert json.loads(exceeds["output"])["errorOutput"] == {
        "Error": "States.ExceedToleratedFailureThreshold",
        "Cause": "The specified tolerated failure threshold was exceeded",
    }
    assert exceeds["inspectionData"]["errorDetails"] == {"catchIndex": 1}
    # test_map_state_failure_count[DEBUG-BASE_MAP_STATE_RETRY]
    retry = {k: v for k, v in catch.items() if k != "Catch"}
    retry["Retry"] = [
        {"ErrorEquals": ["MockException"], "MaxAttempts": 3},
        {"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "MaxAttempts": 2},
    ]
    retried = state(
        retry,
        input=VALUES,
        stateConfiguration={"mapIterationFailureCount": 2},
        inspectionLevel="DEBUG",
        mock={"result": "[0, 0, 1]"},
    )
    assert retried["status"] == "RETRIABLE"
    assert retried["inspectionData"]["errorDetails"] == {
        "retryBackoffIntervalSeconds": 1,
        "retryIndex": 1,
    }
    # test_map_state_failure_count[INFO-BASE_MAP_STATE]: no tolerance declared, no failure
    plain = state(
        BASE_MAP_STATE,
        input=VALUES,
        stateConfiguration={"mapIterationFailureCount": 2},
        mock={"result": "[0, 0, 1]"},
    )
    assert plain["status"] == "SUCCEEDED"


def test_a_mocked_map_error_fails_it_with_jsonpath_items_shown() -> None:
    # test_state_machine_with_state_error[DEBUG] (below_tolerated_failure)
    definition = {
        "StartAt": "State0",
        "States": {
            "State0": {
                "Type": "Map",
                "ItemsPath": "$.Values",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "HandleItem",
                    "States": {"HandleItem": {"Type": "Pass", "End": True}},
                },
                "ToleratedFailureCount": 2,
                "End": True,
            }
        },
    }
    answer = state(
        definition,
        stateName="State0",
        input=VALUES,
        stateConfiguration={"mapIterationFailureCount": 0, "errorCausedByState": "HandleItem"},
        inspectionLevel="DEBUG",
        mock=MOCK_ERROR,
    )
    assert (answer["status"], answer["error"], answer["cause"]) == (
        "FAILED",
        "MockException",
        "Mock the error cause.",
    )
    assert inspection(answer) == {
        "afterInputPath": {"Values": ["first", "second", "third"]},
        "afterItemsPath": ["first", "second", "third"],
        "input": {"Values": ["first", "second", "third"]},
        "maxConcurrency": 0,
        "toleratedFailureCount": 2,
    }
    with pytest.raises(ApiError):  # not a state of the Map (the message is this engine's)
        state(
            definition,
            stateName="State0",
            input=VALUES,
            stateConfiguration={"errorCausedByState": "Elsewhere"},
            mock=MOCK_ERROR,
        )


def test_a_distributed_map_reads_its_items_from_map_item_reader_data() -> None:
    # test_state_machine_configuration_map_iteration_item_reader[DEBUG]
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "State0",
        "States": {
            "State0": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemReader": {
                    "ReaderConfig": {"InputType": "JSON"},
                    "Resource": "arn:aws:states:::s3:getObject",
                    "Arguments": {
                        "Bucket": "{% $states.input.Bucket %}",
                        "Key": "{% $states.input.Key %}",
                    },
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "HandleItem",
                    "States": {"HandleItem": {"Type": "Pass", "End": True}},
                },
                "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}"},
                "End": True,
            }
        },
    }
    answer = state(
        definition,
        stateName="State0",
        input=json.dumps({"Bucket": "test-bucket", "Key": "test-key"}),
        stateConfiguration={"mapItemReaderData": "[1, 2, 3]"},
        inspectionLevel="DEBUG",
        mock={"result": "[1, 4, 9]"},
    )
    assert (answer["status"], json.loads(answer["output"])) == ("SUCCEEDED", [1, 4, 9])
    data = inspection(answer)
    assert data["maxConcurrency"] == 1
    # Not in the snapshot (its Map has no ItemSelector): the reader's items, selected.
    assert data["afterItemSelector"] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_a_spent_retrier_is_named_without_backoff() -> None:
    # test_state_configuration_retrier_retry_count[DEBUG]
    definition = {
        "QueryLanguage": "JSONata",
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "foo", "Payload": "bar"},
        "Retry": [{"ErrorEquals": ["MockException"], "IntervalSeconds": 1, "MaxAttempts": 5}],
        "End": True,
    }
    below = state(
        definition,
        stateConfiguration={"retrierRetryCount": 4},
        inspectionLevel="DEBUG",
        mock=MOCK_ERROR,
    )
    assert below["inspectionData"]["errorDetails"] == {
        "retryBackoffIntervalSeconds": 16,
        "retryIndex": 0,
    }
    spent = state(
        definition,
        stateConfiguration={"retrierRetryCount": 5},
        inspectionLevel="DEBUG",
        mock=MOCK_ERROR,
    )
    assert spent["status"] == "FAILED"
    assert spent["inspectionData"]["errorDetails"] == {"retryIndex": 0}


SFN_INPUT = json.dumps(
    {
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Target",
        "targetInput": None,
        "name": "TestStartTarget",
    }
)


@pytest.mark.parametrize(
    ("definition", "given", "result", "mode", "message"),
    [
        # test_field_validation_mode.snapshot.json: test_strict_mode_sfn_task[field_name_not_in_sfn_case]
        (
            SFN_START_EXECUTION,
            SFN_INPUT,
            {"executionArn": "arn", "startDate": "date"},
            "STRICT",
            "Required field 'ExecutionArn' is missing",
        ),
        # test_strict_mode_sfn_task[wrong_timestamp_type_number]
        (
            SFN_START_EXECUTION,
            SFN_INPUT,
            {"ExecutionArn": "arn", "StartDate": 1764103483},
            "STRICT",
            "Field 'StartDate' must be a string",
        ),
        # test_strict_mode_lambda_task[wrong_integer_type_string]
        (
            LAMBDA_SERVICE_TASK,
            json.dumps({"FunctionName": "f", "Payload": None}),
            {"StatusCode": "200"},
            "STRICT",
            "Field 'StatusCode' must be a number",
        ),
        # test_field_validation_mode_present.snapshot.json:
        # test_present_mode_aws_sdk_s3_task[non_existent_enum_value]
        (
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"},
                "End": True,
            },
            json.dumps({"Bucket": "b", "Key": "k"}),
            {"StorageClass": "Papyrus"},
            "PRESENT",
            "Field 'StorageClass' is not an expected value",
        ),
        # test_present_mode_aws_sdk_kms_task[wrong_blob_length_less_than_minimum]
        (
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:kms:encrypt",
                "Parameters": {"KeyId.$": "$.KeyId", "Plaintext.$": "$.Plaintext"},
                "End": True,
            },
            json.dumps({"KeyId": "k", "Plaintext": "p"}),
            {"CiphertextBlob": ""},
            "PRESENT",
            "Field 'CiphertextBlob' is smaller than the minimum length",
        ),
    ],
)
def test_field_validation_checks_the_mock_against_the_api_model(
    definition: dict[str, Any], given: str, result: Any, mode: str, message: str
) -> None:
    error = refused(
        definition,
        input=given,
        mock={"result": json.dumps(result), "fieldValidationMode": mode},
    )
    assert error.type == "ValidationException"
    assert error.message == "Mock result schema validation error: " + message


def test_present_and_none_modes_let_what_strict_refuses_pass() -> None:
    # test_present_mode_sfn_task_validation_pass[missing_required_fields]
    present = state(
        SFN_START_EXECUTION,
        input=SFN_INPUT,
        mock={"result": "{}", "fieldValidationMode": "PRESENT"},
    )
    assert json.loads(present["output"]) == {"targetExecutionResult": {}}
    # test_none_mode_sfn_task[wrong_timestamp_type_bool]
    result = {"ExecutionArn": "stringValueExecutionArn", "StartDate": True}
    none = state(
        SFN_START_EXECUTION,
        input=SFN_INPUT,
        mock={"result": json.dumps(result), "fieldValidationMode": "NONE"},
    )
    assert json.loads(none["output"]) == {"targetExecutionResult": result}
    # test_strict_mode_mock_result_field_not_in_api_spec[field_not_part_of_api_spec]
    events = {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {"Entries.$": "$.Entries"},
        "End": True,
    }
    extra = state(events, input='{"Entries": []}', mock={"result": '{"random": "json"}'})
    assert (extra["status"], json.loads(extra["output"])) == ("SUCCEEDED", {"random": "json"})


def test_a_state_name_not_in_the_definition() -> None:
    # test_test_state_machine_scenarios.snapshot.json: test_base_state_name_validation_failures[dne]
    error = refused(
        {"StartAt": "State0", "States": {"State0": {"Type": "Pass", "End": True}}},
        stateName="DoesNotExist",
    )
    assert (error.type, error.message) == ("ValidationException", "State not found in definition")


# test_state_context_object.snapshot.json (its templates: context_object/statemachines/*.json5
# and test_state/statemachines/io_sqs_service_task_wait.json5)
_CONTEXT_OBJECT_FULL: dict[str, Any] = {
    "Execution": {
        "Id": "arn:aws:states:::execution:MyStateMachine:execution-name-12345",
        "Input": {"input-value": 0, "message": "test data", "values": ["charizard", "pikachu"]},
        "Name": "execution-name-12345",
        "RoleArn": "arn:aws:iam:::role/StepFunctionsRole",
        "StartTime": "2025-01-15T10:30:00.000Z",
    },
    "State": {"EnteredTime": "2025-01-15T10:30:01.500Z", "Name": "MyTaskState", "RetryCount": 0},
    "StateMachine": {
        "Id": "arn:aws:states:::stateMachine:MyStateMachine",
        "Name": "MyStateMachine",
    },
}
CONTEXT_OBJECT_RESULT_SELECTOR: dict[str, Any] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName.$": "$.FunctionName", "Payload": {"Input.$": "$"}},
    "ResultSelector": {"LambdaOutput.$": "$", "ContextObjectValue.$": "$$.Execution.Input.values"},
    "End": True,
}
LAMBDA_INPUT = json.dumps({"FunctionName": "lambda_function_name", "Payload": {"input-value": 0}})
POKEMON = {"pokemon": ["charizard", "pikachu", "bulbasaur"]}


def context_map_state(items_path: str) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemsPath": items_path,
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "StartAt": "HandleItem",
            "States": {"HandleItem": {"Type": "Pass", "End": True}},
        },
        "End": True,
    }


@pytest.mark.parametrize(
    ("context", "message"),
    [
        # test_state_context_object_validation_failures[INVALID_EXECUTION_ID_TYPE]
        ({"Execution": {"Id": 1}}, "Execution.Id must be a string"),
        # test_state_context_object_validation_failures[INVALID_MAP]
        ({"Map": {}}, "'Map' field is not supported when mocking a Context object"),
        # test_state_context_object_validation_failures[INVALID_EXECUTION_FIELD]
        ({"Execution": {"pokemon": "squirtle"}}, "Field 'pokemon' is not allowed"),
        # test_state_context_object_validation_failures[INVALID_FIELD]
        ({"Pokedex": {}}, "Field 'Pokedex' is not allowed"),
    ],
)
def test_a_mocked_state_context_object_is_validated(context: dict[str, Any], message: str) -> None:
    error = refused(
        SFN_START_EXECUTION,
        input=json.dumps({"stateMachineArn": "arn", "targetInput": None, "name": "exec_name"}),
        inspectionLevel="TRACE",
        context=json.dumps(context),
        mock={"result": json.dumps({"ExecutionArn": "exec_arn", "StartDate": "2025-12-03"})},
    )
    assert (error.type, error.message) == (
        "ValidationException",
        "Invalid Context object provided: " + message,
    )


def test_a_context_task_token_only_for_a_task_that_has_one() -> None:
    # test_state_context_object_invalid_states[TOKEN_TASK_NOT_SYNC]
    error = refused(
        CONTEXT_OBJECT_RESULT_SELECTOR,
        input=json.dumps(["fire", "electricity", "grass"]),
        inspectionLevel="TRACE",
        context=json.dumps({**_CONTEXT_OBJECT_FULL, "Task": {"Token": "abcd123"}}),
        mock={"result": json.dumps({"pokemon": ["CHARIZARD", "PIKACHU", "BULBASAUR"]})},
    )
    assert (error.type, error.message) == (
        "ValidationException",
        "Invalid Context object provided: Context object contains 'Task' when state is not a"
        " Task state with a '.sync' or '.waitForTaskToken' service integration pattern",
    )


def test_a_result_selector_reads_the_context_object_and_shows_its_stages() -> None:
    # test_state_task_context_object[EXECUTION_INPUT_VALUES] (values trimmed to two)
    answer = state(
        CONTEXT_OBJECT_RESULT_SELECTOR,
        input=LAMBDA_INPUT,
        inspectionLevel="TRACE",
        context=json.dumps(_CONTEXT_OBJECT_FULL),
        mock={"result": json.dumps(POKEMON)},
    )
    output = {"ContextObjectValue": ["charizard", "pikachu"], "LambdaOutput": POKEMON}
    assert (answer["status"], json.loads(answer["output"])) == ("SUCCEEDED", output)
    given = json.loads(LAMBDA_INPUT)
    assert inspection(answer) == {
        "input": given,
        "afterInputPath": given,
        "afterParameters": {"FunctionName": "lambda_function_name", "Payload": {"Input": given}},
        "result": POKEMON,
        "afterResultSelector": output,
        "afterResultPath": output,
    }


def test_a_wait_for_token_task_is_answered_by_its_mock_with_the_given_token() -> None:
    # test_state_wait_task_context_object
    queue = "https://sqs.us-east-1.amazonaws.com/111111111111/test-queue"
    answer = state(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": queue,
                "MessageBody": {
                    "Message": "Hello from Step Functions!",
                    "TaskToken.$": "$$.Task.Token",
                },
            },
            "ResultPath": "$.SQS",
            "Next": "NEXT_STATE",
        },
        inspectionLevel="TRACE",
        context=json.dumps({**_CONTEXT_OBJECT_FULL, "Task": {"Token": "abcd123"}}),
        mock={"result": json.dumps(POKEMON)},
    )
    assert (answer["status"], answer["nextState"]) == ("SUCCEEDED", "NEXT_STATE")
    assert json.loads(answer["output"]) == {"SQS": POKEMON}
    assert inspection(answer) == {
        "input": {},
        "afterInputPath": {},
        "afterParameters": {
            "QueueUrl": queue,
            "MessageBody": {"Message": "Hello from Step Functions!", "TaskToken": "abcd123"},
        },
        "result": POKEMON,
        "afterResultSelector": POKEMON,
        "afterResultPath": {"SQS": POKEMON},
    }


@pytest.mark.parametrize(
    ("items_path", "cause"),
    [
        # test_state_map_context_object[ALL]
        ("$$", 'Reference path "$" must point to array.'),
        # test_state_map_context_object[EXECUTION_INPUT]
        ("$$.Execution.Input", 'Reference path "$.Execution.Input" must point to array.'),
    ],
)
def test_a_mocked_map_items_path_must_select_an_array(items_path: str, cause: str) -> None:
    answer = state(
        context_map_state(items_path),
        input=json.dumps(["fire", "electricity", "grass"]),
        inspectionLevel="TRACE",
        context=json.dumps(_CONTEXT_OBJECT_FULL),
        mock={"result": json.dumps(["CHARIZARD", "PIKACHU", "BULBASAUR"])},
    )
    assert (answer["status"], answer["error"], answer["cause"]) == (
        "FAILED",
        "States.Runtime",
        cause,
    )
    assert answer["inspectionData"] == {
        "afterInputPath": '["fire","electricity","grass"]',
        "input": '["fire","electricity","grass"]',
    }


def test_a_mocked_map_reads_its_items_from_the_context_object() -> None:
    # test_state_map_context_object[EXECUTION_INPUT_VALUES] (values trimmed to two)
    answer = state(
        context_map_state("$$.Execution.Input.values"),
        input=json.dumps(["fire", "electricity", "grass"]),
        inspectionLevel="TRACE",
        context=json.dumps(_CONTEXT_OBJECT_FULL),
        mock={"result": json.dumps(["CHARIZARD", "PIKACHU", "BULBASAUR"])},
    )
    result = ["CHARIZARD", "PIKACHU", "BULBASAUR"]
    assert (answer["status"], json.loads(answer["output"])) == ("SUCCEEDED", result)
    assert inspection(answer) == {
        "input": ["fire", "electricity", "grass"],
        "afterInputPath": ["fire", "electricity", "grass"],
        "afterItemsPath": ["charizard", "pikachu"],
        "afterResultSelector": result,
        "afterResultPath": result,
        "maxConcurrency": 1,
    }


def test_a_single_state_is_named_state_name() -> None:
    # test_test_state_scenarios.snapshot.json: test_state_task_catch_error[INFO]
    # ($states.context.State.Name is "StateName" for a definition that is one Task state)
    answer = state(
        {
            "QueryLanguage": "JSONata",
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "foo", "Payload": "bar"},
            "Catch": [
                {"ErrorEquals": ["MockException"], "Output": "{% $states %}", "Next": "Handle"}
            ],
            "End": True,
        },
        input=json.dumps({"Value": "HelloWorld"}),
        mock={"errorOutput": {"error": "MockException", "cause": "Mock the cause of the error."}},
    )
    assert answer["status"] == "CAUGHT_ERROR"
    assert json.loads(answer["output"])["context"]["State"]["Name"] == "StateName"
