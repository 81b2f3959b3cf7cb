"""ARNs: parsed, and ours only when they name our partition, region and account."""

from __future__ import annotations

from orchestrator.arns import Account, StatesArn, parse_states_arn

ACCOUNT = Account(region="eu-west-1", account="111122223333")


def test_parsing_a_states_arn() -> None:
    assert parse_states_arn("arn:aws:states:eu-west-1:111122223333:execution:M:e") == StatesArn(
        "aws", "eu-west-1", "111122223333", "execution", ("M", "e")
    )
    for bad in (
        "not-an-arn",
        "arn:aws:lambda:eu-west-1:111122223333:function:f",
        "arn:aws:states:eu-west-1:111122223333:stateMachine",
        "arn:aws:states::111122223333:stateMachine:M",
        "arn:aws:states:eu-west-1:111122223333:stateMachine:",
    ):
        assert parse_states_arn(bad) is None, bad


def test_only_arns_of_our_region_and_account_name_our_resources() -> None:
    ours = ACCOUNT.state_machine_arn("M")
    assert ACCOUNT.names_in(ours, "stateMachine", 1) == ("M",)
    assert ACCOUNT.names_in(ACCOUNT.execution_arn("M", "e"), "execution", 2) == ("M", "e")
    for foreign in (
        ours.replace("eu-west-1", "us-east-1"),
        ours.replace("111122223333", "999999999999"),
        ours.replace("arn:aws:", "arn:aws-cn:"),
        ours + ":1",  # a version qualifier: no versions here
    ):
        assert ACCOUNT.names_in(foreign, "stateMachine", 1) is None, foreign
    assert ACCOUNT.names_in(ours, "execution", 2) is None
