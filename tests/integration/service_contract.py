"""What every service's HTTP API promises, as one test suite each service's tests subclass.

The kit gives every service the same runtime, error mapping and authentication, so the same
answers must hold for each: `/health` names the service; no token is 401 before anything is
read; a good token of a role the route refuses is 403; a 422 says which field is wrong and
never repeats what was sent (a body can carry a resident number); two writers at the same
expected state get one success and one 409, never two successes or a 500.

A subclass names its service and says how to build it, which principal may send its command
and which may not, and writes three short request makers: a valid command, an invalid one
that carries `SECRET`, and two commands that race. It uses only the service's
`bootstrap.build`, its contract and its HTTP paths, so a service can move its insides freely.

    class TestNotesContract(ServiceContract):
        service_name = "notes"
        topics = ("notes",)
        ...
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI

from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService, running_service, unique_schema, unique_topic

SECRET = "contract-secret-900101-1234567"
"""What an invalid command carries: it must not come back in any part of the answer."""


@dataclass(frozen=True)
class Member:
    """A principal the service under test knows: recorded in its principals when it starts."""

    role: Role
    agency_id: str
    staff_id: str


@dataclass(frozen=True)
class Submission:
    """One request a contract test sends: where, what body, and as whom."""

    method: str
    path: str
    body: Any
    headers: Mapping[str, str]

    async def send(self, http: httpx.AsyncClient) -> httpx.Response:
        """Send it as it is."""
        return await http.request(self.method, self.path, json=self.body, headers=self.headers)

    def as_(self, headers: Mapping[str, str]) -> Submission:
        """The same request with other credentials (none for `{}`)."""
        return replace(self, headers=headers)


class ServiceContract:
    """The answers every service owes its callers; subclass it once per service (`Test...`)."""

    service_name: ClassVar[str]
    """What `/health` reports as the service's name."""
    topics: ClassVar[tuple[str, ...]]
    """The topics `build` needs, by name; each becomes a fresh topic of the test class's own."""
    allowed: ClassVar[Member]
    """A principal of a role the command's route accepts."""
    refused: ClassVar[Member]
    """A principal with standing, of a role the command's route refuses."""
    read_only: ClassVar[bool] = False
    """A service that takes no command (projections): its "command" is a read whose route
    the `allowed` principal may call, its invalid one a bad id in the path, and the race
    test does not apply."""

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        """The service's app (its `bootstrap.build`) on the given settings and topics."""
        raise NotImplementedError

    async def command(self, served: RunningService) -> Submission:
        """A valid command the `allowed` principal may send (it succeeds)."""
        raise NotImplementedError

    async def invalid_command(self, served: RunningService) -> Submission:
        """A command whose body (or, for a read-only service, path) fails validation and
        carries `SECRET`."""
        raise NotImplementedError

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        """Two commands at the same expected state, of which the service accepts only one."""
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    async def served(cls, database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningService]:
        """The service alone, on a schema and topics of the test class's own, with its two
        principals recorded (no directory runs beside it): one app for the class's tests."""
        contract = cls()
        topics = {name: unique_topic(name) for name in cls.topics}
        async with running_service(
            lambda settings: contract.build(settings, topics),
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            schema=unique_schema(cls.service_name),
            topics=tuple(topics.values()),
            base_url=f"http://{cls.service_name}",
        ) as running:
            for member in (cls.allowed, cls.refused):
                await running.as_member(member.role, member.agency_id, member.staff_id)
            yield running

    def auth(self, served: RunningService, member: Member) -> dict[str, str]:
        """The member's token header."""
        return served.auth(member.role, member.agency_id, member.staff_id)

    async def test_health_answers_200_with_the_service_name(self, served: RunningService) -> None:
        answer = await served.http.get("/health")
        assert answer.status_code == 200, answer.text
        assert answer.json()["service"] == self.service_name

    async def test_the_command_is_accepted_from_a_role_its_route_allows(
        self, served: RunningService
    ) -> None:
        answer = await (await self.command(served)).send(served.http)
        assert answer.is_success, answer.text

    async def test_a_command_without_a_token_is_refused_401(self, served: RunningService) -> None:
        answer = await (await self.command(served)).as_({}).send(served.http)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")

    async def test_a_valid_token_of_a_role_the_route_refuses_is_refused_403(
        self, served: RunningService
    ) -> None:
        command = await self.command(served)
        answer = await command.as_(self.auth(served, self.refused)).send(served.http)
        assert answer.status_code == 403, answer.text

    async def test_a_422_names_the_field_and_never_echoes_the_input(
        self, served: RunningService
    ) -> None:
        invalid = await self.invalid_command(served)
        assert SECRET in repr(invalid.body) or (self.read_only and SECRET in invalid.path), (
            "the invalid command must carry SECRET"
        )
        answer = await invalid.send(served.http)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"], answer.text
        digits = "".join(c for c in SECRET if c.isdigit())
        for part in (SECRET, digits, SECRET.split("-")[-1]):
            assert part not in answer.text, answer.text
            assert all(part not in value for value in answer.headers.values())

    async def test_two_commands_racing_at_the_same_state_give_one_success_and_one_409(
        self, served: RunningService
    ) -> None:
        if self.read_only:
            pytest.skip("a read-only service takes no command, so no two can race")
        first, second = await self.racing_commands(served)
        answers = await asyncio.gather(first.send(served.http), second.send(served.http))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses[1] == 409 and 200 <= statuses[0] < 300, [a.text for a in answers]

    # --- Idempotency-Key: a command retried after a lost answer is recorded once -----------

    async def _events_in_store(self, served: RunningService) -> int:
        """The events the `allowed` member's commands recorded (the service's consumers may
        record what they learn meanwhile)."""
        count: int = await served.pool.fetchval(
            "SELECT count(*) FROM events WHERE metadata->'actor'->>'staff_id' = $1",
            self.allowed.staff_id,
        )
        return count

    async def _keyed(self, served: RunningService, key: str) -> Submission:
        if self.read_only:
            pytest.skip("a read-only service takes no command to retry")
        command = await self.command(served)
        return command.as_({**command.headers, "Idempotency-Key": key})

    async def test_a_command_retried_with_its_idempotency_key_is_recorded_once_and_answered_again(
        self, served: RunningService
    ) -> None:
        command = await self._keyed(served, f"retry-{uuid.uuid4()}")
        first = await command.send(served.http)
        assert first.is_success, first.text
        recorded = first.headers["caseline-recorded-events"].split(",")
        stored = await served.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_id = ANY($1::uuid[])", recorded
        )
        assert stored == len(recorded) >= 1
        before = await self._events_in_store(served)
        again = await command.send(served.http)
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["caseline-recorded-events"].split(",") == recorded
        assert await self._events_in_store(served) == before

    async def test_an_idempotency_key_reused_for_another_request_is_refused_422_writing_nothing(
        self, served: RunningService
    ) -> None:
        command = await self._keyed(served, f"reused-{uuid.uuid4()}")
        assert (await command.send(served.http)).is_success
        before = await self._events_in_store(served)
        other = replace(command, body={**command.body, "another": "request"})
        answer = await other.send(served.http)
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "idempotency_key_reused"
        assert await self._events_in_store(served) == before

    async def test_two_copies_of_a_keyed_command_racing_are_recorded_once_and_answered_alike(
        self, served: RunningService
    ) -> None:
        command = await self._keyed(served, f"race-{uuid.uuid4()}")
        before = await self._events_in_store(served)
        answers = await asyncio.gather(command.send(served.http), command.send(served.http))
        assert all(a.is_success for a in answers), [a.text for a in answers]
        assert answers[0].content == answers[1].content
        ids = {a.headers["caseline-recorded-events"] for a in answers}
        assert len(ids) == 1
        assert await self._events_in_store(served) == before + len(ids.pop().split(","))

    async def test_a_malformed_idempotency_key_is_refused_400_writing_nothing(
        self, served: RunningService
    ) -> None:
        command = await self._keyed(served, "x" * 201)
        before = await self._events_in_store(served)
        answer = await command.send(served.http)
        assert answer.status_code == 400, answer.text
        assert await self._events_in_store(served) == before

    async def test_a_retry_after_the_service_stopped_before_keeping_the_answer_gets_409_answer_lost(
        self, served: RunningService
    ) -> None:
        command = await self._keyed(served, f"lost-{uuid.uuid4()}")
        first = await command.send(served.http)
        assert first.is_success, first.text
        # The state a service killed between the commit and keeping the answer leaves.
        await served.pool.execute(
            "UPDATE answered_requests SET status = NULL, body = NULL WHERE key = $1",
            command.headers["Idempotency-Key"],
        )
        before = await self._events_in_store(served)
        again = await command.send(served.http)
        assert again.status_code == 409, again.text
        lost = again.json()
        assert lost["code"] == "answer_lost"
        assert lost["recorded_events"] == first.headers["caseline-recorded-events"].split(",")
        assert await self._events_in_store(served) == before
