#!/usr/bin/python3
"""Per-request instruction counts from callgrind profiles of apache2 (bench/run.sh).

Each profile covers N requests to one path, collected only inside httpd's
ap_process_async_request (reading the request line and headers, and the
kernel's work, are the same for every path and not counted). For every
profile it prints the instructions per request, the part spent in the
signature verification proper (OpenSSL's EVP_DigestVerify for ed25519,
EVP_Digest + EVP_PKEY_verify for ECDSA and RSA: the calls both the module's
ta_key_verify and the control's verify_once make, whose cost varies with
the signature) and the rest, which includes everything around those calls
(duplicating the prepared context, the error queue).

  callgrind_summary.py table N OPEN_OUT [KEYTYPE CONTROL_OUT PROTECTED_OUT]...
  callgrind_summary.py top N PROTECTED_OUT CONTROL_OUT [COUNT]
"""
import re
import subprocess
import sys

# The verification proper: what the module and the control
# (bench/mod_bench_verify.c) both call per request.
VERIFY_CALLS = ("EVP_DigestVerify", "EVP_Digest", "EVP_PKEY_verify")


def annotate(path, inclusive):
    """{function: Ir} (inclusive or exclusive) and {function: object file}."""
    args = ["callgrind_annotate", "--auto=no", "--threshold=100", path]
    if inclusive:
        args.insert(1, "--inclusive=yes")
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    counts, objects = {}, {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.+)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        n = int(m.group(1).replace(",", ""))
        where, _, obj = m.group(2).partition(" [")
        # A function may appear as "file:function" and as "???:function"
        # (partial debug information): inclusive counts keep the larger,
        # exclusive counts add up.
        name = where.rsplit(":", 1)[-1]
        if obj:
            objects[name] = obj.rstrip("]").rsplit("/", 1)[-1]
        counts[name] = max(counts.get(name, 0), n) if inclusive else counts.get(name, 0) + n
    return counts, objects


def split(path, n):
    c, _ = annotate(path, True)
    total = c.get("ap_process_async_request", 0)
    verify = sum(c.get(name, 0) for name in VERIFY_CALLS)
    return total / n, verify / n, (total - verify) / n


def table(n, open_out, rest):
    o_total, _, _ = split(open_out, n)
    print("%-12s %12s %12s %12s %14s %16s" % ("run", "Ir/request", "verify Ir", "rest Ir",
                                              "rest - /open", "beyond control"))
    print("%-12s %12.0f %12s %12.0f %14s %16s" % ("no auth", o_total, "-", o_total, "-", "-"))
    for i in range(0, len(rest), 3):
        kt, control_out, protected_out = rest[i:i + 3]
        ct, cv, cr = split(control_out, n)
        pt, pv, pr = split(protected_out, n)
        print("%-12s %12.0f %12.0f %12.0f %14.0f %16s" % ("control", ct, cv, cr, cr - o_total, "-"))
        print("%-12s %12.0f %12.0f %12.0f %14.0f %16.0f" % (kt, pt, pv, pr, pr - o_total, pr - cr))


def top(n, protected_out, control_out, count):
    (a, objects), (b, _) = annotate(protected_out, False), annotate(control_out, False)
    rows = sorted(set(a) | set(b), key=lambda k: -abs(a.get(k, 0) - b.get(k, 0)))
    # crypto differs by signature and by the control's own calls: left out
    rows = [k for k in rows if "libcrypto" not in objects.get(k, "")][:count]
    print("%9s %9s %9s  %s" % ("diff Ir", "protected", "control", "function [object], exclusive Ir per request"))
    for k in rows:
        print("%9.0f %9.0f %9.0f  %s [%s]" % ((a.get(k, 0) - b.get(k, 0)) / n, a.get(k, 0) / n, b.get(k, 0) / n,
                                              k, objects.get(k, "?")))


def main(argv):
    if len(argv) >= 3 and argv[0] == "table" and (len(argv) - 3) % 3 == 0:
        table(int(argv[1]), argv[2], argv[3:])
    elif len(argv) in (4, 5) and argv[0] == "top":
        top(int(argv[1]), argv[2], argv[3], int(argv[4]) if len(argv) == 5 else 15)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
