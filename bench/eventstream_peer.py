#!/usr/bin/env python3
"""eventstream_peer.py - decode the bench_eventstream buffer with botocore.

Usage: python3 bench/eventstream_peer.py FILE [RUNS]

The file (written by `bench_eventstream --write FILE`) is fed in 16 KiB pieces
to botocore.eventstream.EventStreamBuffer, the decoder boto3 uses for
streaming responses (both CRCs checked, headers parsed); each message's
:event-type is read, as brock's bench does. Prints the median MB/s (10^6
bytes) over RUNS runs as "py_mbps=N" and the botocore version.
"""
import statistics
import sys
import time

import botocore
from botocore.eventstream import EventStreamBuffer

PIECE = 16 * 1024


def once(data):
    buf = EventStreamBuffer()
    count = chunks = 0
    t0 = time.perf_counter()
    for pos in range(0, len(data), PIECE):
        buf.add_data(data[pos:pos + PIECE])
        for msg in buf:
            if msg.headers[':event-type'] == 'chunk':
                chunks += 1
            count += 1
    t1 = time.perf_counter()
    if count != chunks:
        raise SystemExit(f"decoded {count} messages, {chunks} chunk events")
    return t1 - t0, count


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: eventstream_peer.py FILE [RUNS]")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with open(sys.argv[1], 'rb') as f:
        data = f.read()
    times = []
    count = 0
    for _ in range(runs):
        secs, count = once(data)
        times.append(secs)
    print(f"py_botocore_version={botocore.__version__}")
    print(f"py_messages={count}")
    print(f"py_mbps={round(len(data) / statistics.median(times) / 1e6)}")


if __name__ == '__main__':
    main()
