"""schemathesis over the dashboard's JSON endpoints: no input, however odd, gives a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.bot.web.conftest import login


def test_no_server_errors(app, client):
    login(client, "boss")
    cookie = {"Cookie": f"groupbot_session={client.cookies.get('groupbot_session')}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/dashboard/api/overview", "/dashboard/api/violations",
                                              "/dashboard/api/clients"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def no_5xx(case):
            response = case.call(headers=cookie)
            assert response.status_code != 401, "the session cookie must reach the API"
            case.validate_response(response, checks=[not_a_server_error])

        no_5xx()
