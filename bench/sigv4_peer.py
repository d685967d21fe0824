#!/usr/bin/env python3
"""sigv4_peer.py - the bench_sigv4 request signed by botocore (SigV4Auth.add_auth
on an AWSRequest), for bench/sigv4.sh.

Inputs are built exactly as in bench/bench_sigv4.c, so the signature printed
must equal brock's; botocore's clock is pinned to the same instant. add_auth
removes the previous Authorization and re-adds X-Amz-Date and the token, so one
AWSRequest is signed over and over, as botocore does on a retry.

Measurement: RUNS runs of ITERS signatures; the median of the per-run mean,
timed with the thread's CPU clock, as the C bench does.
Usage: sigv4_peer.py [TOKEN_BYTES [RUNS [ITERS]]]   (defaults 100 31 2000)
Last line: "RESULT ns=<median ns per signature> signature=<hex>".
"""
import datetime
import sys
import time

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BODY_LEN = 1024
BENCH_TIME = 1767225600  # 2026-01-01T00:00:00Z


def make_body():
    head = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"messages":[{"role":"user","content":"'
    tail = '"}]}'
    mid = ''.join(chr(97 + i % 26) for i in range(len(head), BODY_LEN - len(tail)))
    return (head + mid + tail).encode()


def make_token(n):
    alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    return ''.join(alpha[(i * 7 + 3) % 64] for i in range(n))


def main():
    token_len = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 31
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 2000

    fixed = datetime.datetime.fromtimestamp(BENCH_TIME, datetime.timezone.utc).replace(tzinfo=None)
    if hasattr(botocore.auth, 'get_current_datetime'):
        botocore.auth.get_current_datetime = lambda *a, **k: fixed
    else:
        # botocore < 1.32 (Debian 12 ships 1.29) calls datetime.datetime.utcnow()
        class FixedDateTime(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return fixed

        class FixedModule:
            datetime = FixedDateTime

        botocore.auth.datetime = FixedModule

    creds = Credentials('ASIAEXAMPLEBENCH0001', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYBENCHKEY1',
                        make_token(token_len) if token_len else None)
    auth = SigV4Auth(creds, 'bedrock', 'us-west-2')
    req = AWSRequest(
        method='POST',
        url='https://bedrock-runtime.us-west-2.amazonaws.com'
            '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke',
        data=make_body(),
        headers={'content-type': 'application/json', 'accept': 'application/json',
                 'host': 'bedrock-runtime.us-west-2.amazonaws.com'},
    )
    auth.add_auth(req)
    authz = req.headers['Authorization']
    signature = authz[authz.index('Signature=') + 10:]

    for _ in range(iters // 4):  # warm up
        auth.add_auth(req)
    per = []
    for _ in range(runs):
        t0 = time.thread_time_ns()
        for _ in range(iters):
            auth.add_auth(req)
        per.append((time.thread_time_ns() - t0) / iters)
    per.sort()
    med = per[runs // 2]
    print(f'botocore SigV4Auth.add_auth: {med:.1f} ns per signature (median of {runs} runs x {iters})')
    print(f'RESULT ns={med:.1f} signature={signature}')


if __name__ == '__main__':
    main()
