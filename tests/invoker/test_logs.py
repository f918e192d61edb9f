"""Pure tests of activation log collection from docker json-file lines."""

import json

from invoker.logs import MISSING_SENTINEL, SENTINEL, LogCollector, collect, format_time


def line(stream, text, when="2024-08-07T10:00:00.1234Z"):
    return json.dumps({"log": text + "\n", "stream": stream, "time": when}).encode() + b"\n"


def test_time_is_padded_to_nanoseconds():
    assert format_time("2024-08-07T10:00:00.1234Z") == "2024-08-07T10:00:00.123400000Z"
    assert len(format_time("2024-08-07T10:00:00Z")) == 30


def test_lines_until_both_sentinels_are_formatted_and_sentinels_stripped():
    c = LogCollector(limit_bytes=10_000)
    c.feed(line("stdout", "hello") + line("stdout", SENTINEL) + line("stderr", "oops"))
    assert not c.done
    c.feed(line("stderr", SENTINEL))
    assert c.done
    assert c.result() == [
        "2024-08-07T10:00:00.123400000Z stdout: hello",
        "2024-08-07T10:00:00.123400000Z stderr: oops",
    ]


def test_limit_appends_openwhisk_truncation_message():
    c = LogCollector(limit_bytes=100)
    c.feed(b"".join(line("stdout", "x" * 40) for _ in range(5)))
    c.feed(line("stdout", SENTINEL) + line("stderr", SENTINEL))
    out = c.result()
    assert len(out) == 1 + 1  # one 79-byte line fits in 100 bytes
    assert out[-1] == (
        "Logs were truncated because the total bytes size exceeds the limit of 100 bytes."
    )


def test_missing_sentinel_gives_warning_after_idle_timeout():
    data = line("stdout", "partial")

    def read(offset):
        return (data, len(data)) if offset == 0 else (b"", offset)

    lines, offset = collect(read, 0, 10_000, idle_timeout=0.05)
    assert lines[-1] == MISSING_SENTINEL and offset == len(data)
