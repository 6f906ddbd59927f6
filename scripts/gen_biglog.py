#!/usr/bin/env python3
"""Writes a large synthetic application log for throughput benchmarks (fixed seed).

Usage: python3 scripts/gen_biglog.py OUT --mb 1024 [--seed 7] [--phi-rate 0.05]

About `--phi-rate` of the lines carry identifiers (names, SSNs, phones, emails, IPs, dates,
MRNs, secrets) in key=value or JSON form; the rest are realistic PHI-free lines (epoch
timestamps, hex trace ids, hostnames, sizes, durations, version numbers) with nothing a
de-identifier should touch, so the rate says how dense the findings are. A block of unique lines is generated
and then repeated to reach the size, so a 1 GiB file takes seconds, not minutes. No real data:
every value is random.
"""
import argparse
import random

GIVEN = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "Maria", "Carlos", "Aisha", "Wei", "Priya", "Olga", "Kwame", "Sofia", "Hiroshi", "Fatima"]
SUR = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
       "Nguyen", "Okafor", "Kowalski", "Haddad", "Tanaka", "Patel", "Cohen", "Murphy", "Rossi", "Larsen"]
PATHS = ["/api/v1/items", "/api/v2/orders", "/health", "/metrics", "/api/v1/search", "/static/app.js"]
SVCS = ["billing", "sched", "fhir", "auth", "reports", "gateway"]


def ssn(r):
    return f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"


def phone(r):
    return f"({r.randint(2, 9)}{r.randint(0, 9)}{r.randint(2, 9)}) {r.randint(2, 9)}{r.randint(10, 99)}-{r.randint(0, 9999):04d}"


def phi_line(r, ts):
    name = f"{r.choice(GIVEN)} {r.choice(SUR)}"
    k = r.randrange(6)
    if k == 0:
        return f'{ts} INFO  [{r.choice(SVCS)}] admit patient_name="{name}" ssn={ssn(r)} dob=19{r.randint(30, 99)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}'
    if k == 1:
        return f'{{"ts": {ts}, "level": "info", "msg": "lookup", "mrn": "A{r.randint(1000000, 9999999)}", "email": "{name.split()[0].lower()}.{r.randint(1, 999)}@mercy-health.org"}}'
    if k == 2:
        return f"{ts} WARN  [{r.choice(SVCS)}] callback phone={phone(r)} client_ip=73.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)} member_id=XJH{r.randint(10000000, 99999999)}"
    if k == 3:
        return f"{ts} ERROR [auth] login failed user={name.split()[0].lower()} token=ghp_{''.join(r.choice('abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789') for _ in range(36))}"
    if k == 4:
        return f"{ts} INFO  [reports] note Patient: {name} seen on {r.randint(1, 12)}/{r.randint(1, 28)}/20{r.randint(10, 24)} by Dr. {r.choice(SUR)}"
    return f"{ts} DEBUG [fhir] Bundle.entry Patient/{r.randint(1000, 99999)} address=\"{r.randint(1, 9999)} Oak Street, Springfield, IL 62704\""


def clean_line(r, ts):
    k = r.randrange(4)
    if k == 0:
        return (f"{ts} INFO  [{r.choice(SVCS)}-{r.randint(1, 40)}] GET {r.choice(PATHS)}?page={r.randint(1, 50)} "
                f"status=200 dur={r.randint(1, 900)}ms size={r.randint(100, 99999)} trace={r.getrandbits(64):016x}")
    if k == 1:
        return (f'{{"ts": {ts}, "level": "debug", "host": "worker-{r.randint(1, 64)}", "msg": "cache miss", '
                f'"key": "sess:{r.getrandbits(96):024x}", "ttl": "{r.randint(1, 3600)}s"}}')
    if k == 2:
        return (f"{ts} WARN  [pool-{r.randint(1, 9)}-thread-{r.randint(1, 32)}] c.e.sched.Job - retry "
                f"attempt={r.randint(1, 5)} backoff={r.randint(10, 5000)}ms queue=jobs-{r.randint(1, 8)} depth={r.randint(0, 999)}")
    return (f"{ts} INFO  [gateway] upstream={r.choice(SVCS)}-{r.randint(0, 9)}.svc.internal:8080 conn reused "
            f"bytes_in={r.randint(0, 65535)} bytes_out={r.randint(0, 1 << 20)} version=1.{r.randint(0, 30)}.{r.randint(0, 9)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--phi-rate", type=float, default=0.05)
    ap.add_argument("--block-mb", type=int, default=64)
    a = ap.parse_args()
    r = random.Random(a.seed)
    lines = []
    size = 0
    ts = 1711884754000
    block = min(a.block_mb, a.mb) << 20
    while size < block:
        ts += r.randint(1, 50)
        line = phi_line(r, ts) if r.random() < a.phi_rate else clean_line(r, ts)
        lines.append(line)
        size += len(line) + 1
    data = ("\n".join(lines) + "\n").encode()
    target = a.mb << 20
    with open(a.out, "wb") as f:
        written = 0
        while written < target:
            f.write(data)
            written += len(data)
    print(f"{a.out}: {written >> 20} MiB, {len(lines)} unique lines x {-(-target // len(data))}")


if __name__ == "__main__":
    main()
