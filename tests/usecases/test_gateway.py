"""The gateway's routing and every refusal, in process: the end-to-end tests of tests/e2e/test_gateway_*.py run
here again on the in-memory broker, with this directory's fixtures (the same test, the fake and the real
broker)."""

from tests.e2e.test_gateway_refusals import (  # noqa: F401 - collected here with the in-process fixtures
    test_certificate_revoked_through_the_api,
    test_payload_altered_after_signing,
    test_service_the_sender_may_not_call,
    test_signed_with_another_members_certificate,
    test_unknown_member,
    test_unknown_service,
    test_unparsable_envelope,
)
from tests.e2e.test_gateway_routing import (  # noqa: F401
    test_async_request_is_delivered_and_answered,
    test_real_service_gbdfl_answers_no_data_for_unknown_person,
    test_sync_request_reaches_provider_and_answer_returns,
    test_sync_timeout_is_reported_by_the_gateway,
    test_tampering_with_a_log_record_is_detected_and_named,
)
from tests.e2e.test_trust import (  # noqa: F401
    test_a_members_own_broker_login_cannot_reach_past_the_gateway,
    test_a_replayed_envelope_is_refused_to_its_sender_logged_and_dead_lettered,
)
