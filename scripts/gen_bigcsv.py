#!/usr/bin/env python3
"""Writes a large synthetic patients/encounters-style CSV for throughput benchmarks (fixed seed).

Usage: python3 scripts/gen_bigcsv.py OUT --mb 1024 [--seed 7]

Columns mix identifiers (Id, BIRTHDATE, SSN, FIRST, LAST, ADDRESS, CITY, ZIP, phone), values
that stay (STATE, GENDER, amounts, codes) and a free-text NOTES column where about one row in
five mentions a phone number or a name. A block of unique rows is repeated to reach the size.
"""
import argparse
import random
import uuid

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "Ana", "Wei", "Gleason633", "Priya"]
LAST = ["Smith", "Johnson", "Garcia", "O'Neil-Smith", "Nguyen", "Okafor", "Kowalski", "Haddad", "Tanaka", "Patel"]
CITIES = ["Springfield", "Boston", "Worcester", "Lowell", "Cambridge", "New Bedford"]
NOTES = ["stable, no change", "follow-up in 3 months", "BP reviewed; continue current regimen",
         "labs drawn, results pending", "\"patient declined\" flu shot, counselled"]


def row(r: random.Random) -> str:
    pid = uuid.UUID(int=r.getrandbits(128), version=4)
    bd = f"19{r.randint(30, 99)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    ssn = f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
    phone = f"({r.randint(2, 9)}{r.randint(0, 9)}{r.randint(2, 9)}) {r.randint(2, 9)}{r.randint(10, 99)}-{r.randint(0, 9999):04d}"
    note = r.choice(NOTES)
    k = r.random()
    if k < 0.1:
        note = f"called {phone} re refill"
    elif k < 0.2:
        note = f"seen by Dr. {r.choice(LAST)}, {note}"
    note = '"' + note.replace('"', '""') + '"' if ("," in note or '"' in note) else note
    addr = f"{r.randint(1, 9999)} {r.choice(['Oak', 'Maple', 'Main', 'Elm'])} St"
    return ",".join([
        str(pid), bd, ssn, r.choice(FIRST), r.choice(LAST), addr, r.choice(CITIES), "MA",
        f"0{r.randint(1000, 2799)}", phone, r.choice(["M", "F"]), f"{r.uniform(0, 99999):.2f}",
        str(r.randint(100000, 999999)), note,
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--block-mb", type=int, default=32)
    a = ap.parse_args()
    r = random.Random(a.seed)
    header = "Id,BIRTHDATE,SSN,FIRST,LAST,ADDRESS,CITY,STATE,ZIP,PHONE,GENDER,HEALTHCARE_EXPENSES,CODE,NOTES\n"
    rows, size = [], 0
    while size < (min(a.block_mb, a.mb) << 20):
        line = row(r) + "\n"
        rows.append(line)
        size += len(line)
    block = "".join(rows).encode()
    target = a.mb << 20
    with open(a.out, "wb") as f:
        f.write(header.encode())
        written = 0
        while written < target:
            f.write(block)
            written += len(block)
    print(f"{a.out}: {written >> 20} MiB, {len(rows)} unique rows")


if __name__ == "__main__":
    main()
