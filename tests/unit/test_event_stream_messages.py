"""The messages of one live stream (service/streams.py), driven by a clock of the test's own."""

from __future__ import annotations

from service.streams import PAGE, StreamSettings, event_stream


def test_a_filtered_stream_reading_a_long_backlog_still_beats_and_moves_its_place() -> None:
    backlog = 5 * PAGE
    clock = [0.0]

    def read_page(after: int, limit: int) -> list[dict]:
        clock[0] += 1.0  # each page takes a second to read
        return [{"position": position} for position in range(after + 1, min(after + limit, backlog) + 1)]

    settings = StreamSettings(heartbeat_seconds=2.0, max_seconds=100.0, poll_seconds=0.5)
    messages = []
    for message in event_stream(
        read_page=read_page,
        matches=lambda item: False,  # the filter wants none of them
        render=str,
        after=0,
        settings=settings,
        wait_for_news=lambda seconds: clock.__setitem__(0, clock[0] + seconds),
        clock=lambda: clock[0],
    ):
        messages.append((clock[0], message.decode()))
        if clock[0] > 10:
            break

    beats_in_backlog = [text for at, text in messages if "keep-alive" in text and at <= 5.0]
    assert beats_in_backlog, messages  # a proxy sees traffic while the stream reads its backlog
    assert any(
        text.startswith(f": keep-alive\nid: {2 * PAGE}") or f"id: {2 * PAGE}" in text for text in beats_in_backlog
    )
