"""Shared by the replay tests: a server with two worker processes, and the
race of one signed request from many connections across them."""
import re
import threading

import tasig

TWO_PROCESSES = """
StartServers 2
ServerLimit 2
MinSpareThreads 2
MaxSpareThreads 16
ThreadsPerChild 4
MaxRequestWorkers 8
"""


def pids(srv):
    return set(re.findall(r"pid=(\d+)", srv.access_log()))


def assert_one_winner_across_processes(srv, app, rounds=5, racers=8):
    """Two processes really serve, and the same signed request raced from
    `racers` connections is accepted exactly once, every round."""
    for _ in range(300):
        if len(pids(srv)) >= 2:
            break
        threads = [threading.Thread(target=srv.request, args=("GET", "/public/")) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(pids(srv)) >= 2, "only one worker process served: %s" % pids(srv)

    for _ in range(rounds):
        s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
        results = []
        lock = threading.Lock()

        def send():
            r = srv.request("GET", "/rest/", s.headers)
            with lock:
                results.append((r.status, r.error))

        threads = [threading.Thread(target=send) for _ in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results).count((200, None)) == 1, results
        assert [x for x in results if x != (200, None)] == [(401, "replay")] * (racers - 1)


# The location of the overflow tests: refuse what cannot be proven fresh,
# with a one-second clock skew so that the refusal window stays short.
OVERFLOW_REFUSE_CONF = ('<Location "/">\n  TrustedAppReplayCacheOverflow refuse\n'
                        '  TrustedAppClockSkew 1\n</Location>\n')


def send_until_overflow(srv, app, requests=300):
    """Sends `requests` fresh signed requests to a cache too small for them.
    Returns the headers of the accepted ones; asserts every answer was 200 or
    503 replay-cache-unavailable, and that some were refused."""
    sent, outcomes = [], []
    for _ in range(requests):
        s = tasig.sign_request("GET", srv.url("/rest/"), app.key, app.id, user="alice")
        r = srv.request("GET", "/rest/", s.headers)
        outcomes.append((r.status, r.error))
        if r.status == 200:
            sent.append(s.headers)
    assert set(outcomes) <= {(200, None), (503, "replay-cache-unavailable")}, set(outcomes)
    assert (503, "replay-cache-unavailable") in outcomes
    return sent


def assert_never_accepted_again(srv, sent):
    """Whatever the cache dropped, no accepted request is ever accepted again."""
    for headers in sent:
        r = srv.request("GET", "/rest/", headers)
        assert r.status != 200
        assert (r.status, r.error) in ((401, "replay"), (503, "replay-cache-unavailable"))
