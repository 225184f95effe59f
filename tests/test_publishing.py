"""Work is published when the transaction that made it due commits: with the beat sweeper
stopped, mail, callbacks and a retried callback still go out (nothing waits for a sweep)."""

from __future__ import annotations

from tests.support.api import ApiUser, answer, option_links
from tests.support.receiver import CallbackReceiver, Reply
from tests.support.smtp_sink import SmtpSink
from tests.support.stack import Stack, eventually


def test_mail_callbacks_and_retries_go_out_without_the_sweeper(
    stack: Stack, api: ApiUser, smtp: SmtpSink, receiver: CallbackReceiver, address: str
) -> None:
    path = receiver.new_path(Reply(410), Reply(200))
    stack.beat.stop()
    try:
        created = api.subscribe(address, receiver.url(path))
        (link, _) = option_links(smtp.wait_for(address)[0])
        assert answer(link).status_code == 200
        receiver.wait_for(path)
        delivery = eventually(
            lambda: (d := api.state(created["id"])["delivery"]) and d["status"] == "stopped" and d
        )
        retried = api.http.post(f"/deliveries/{delivery['id']}/retry")
        assert retried.status_code == 202
        first, second = receiver.wait_for(path, count=2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        done = eventually(
            lambda: api.http.get(f"/deliveries/{delivery['id']}").json()["status"] == "delivered"
        )
        assert done
    finally:
        stack.beat.start()
