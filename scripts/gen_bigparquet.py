#!/usr/bin/env python3
"""Writes a large synthetic patients Parquet file for throughput benchmarks (fixed seed).

Usage: python3 scripts/gen_bigparquet.py OUT --mb 1024 [--seed 7] [--group-rows 131072]

--mb is the target size of *uncompressed column data* (what the Parquet benchmark's MB/s is
measured on), summed from the footer's column chunks; the file on disk is smaller (snappy).
Columns mix identifiers (Id, FIRST, LAST, SSN, BIRTHDATE, ADDRESS, CITY, ZIP, PHONE, LAT and
LON as float64), values that stay (STATE, GENDER as a dictionary, HEALTHCARE_EXPENSES, CODE)
and a free-text NOTES column where about one row in five mentions a phone number or a name.
One block of unique rows is written again and again, each time as its own row group(s), so
generating 1 GiB takes seconds. Everything is synthetic: no real person.
"""
import argparse
import datetime
import random
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "Ana", "Wei", "Gleason633", "Priya"]
LAST = ["Smith", "Johnson", "Garcia", "O'Neil-Smith", "Nguyen", "Okafor", "Kowalski", "Haddad", "Tanaka", "Patel"]
CITIES = ["Springfield", "Boston", "Worcester", "Lowell", "Cambridge", "New Bedford"]
NOTES = ["stable, no change", "follow-up in 3 months", "BP reviewed; continue current regimen",
         "labs drawn, results pending", "patient declined flu shot, counselled"]

SCHEMA = pa.schema([
    pa.field("Id", pa.string(), nullable=False),
    pa.field("BIRTHDATE", pa.date32()),
    pa.field("SSN", pa.string()),
    pa.field("FIRST", pa.string()),
    pa.field("LAST", pa.string()),
    pa.field("ADDRESS", pa.string()),
    pa.field("CITY", pa.string()),
    pa.field("STATE", pa.string()),
    pa.field("ZIP", pa.string()),
    pa.field("PHONE", pa.string()),
    pa.field("GENDER", pa.dictionary(pa.int8(), pa.string())),
    pa.field("LAT", pa.float64()),
    pa.field("LON", pa.float64()),
    pa.field("HEALTHCARE_EXPENSES", pa.float64()),
    pa.field("CODE", pa.int64()),
    pa.field("NOTES", pa.string()),
], metadata={"dataset": "synthetic patients (gen_bigparquet.py)"})


def block(r: random.Random, rows: int) -> pa.Table:
    epoch = datetime.date(1970, 1, 1)
    cols = {f.name: [] for f in SCHEMA}
    for _ in range(rows):
        phone = f"({r.randint(2, 9)}{r.randint(0, 9)}{r.randint(2, 9)}) {r.randint(2, 9)}{r.randint(10, 99)}-{r.randint(0, 9999):04d}"
        note = r.choice(NOTES)
        k = r.random()
        if k < 0.1:
            note = f"called {phone} re refill"
        elif k < 0.2:
            note = f"seen by Dr. {r.choice(LAST)}, {note}"
        cols["Id"].append(str(uuid.UUID(int=r.getrandbits(128), version=4)))
        cols["BIRTHDATE"].append(epoch + datetime.timedelta(days=r.randint(-14000, 11000)))
        cols["SSN"].append(f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}")
        cols["FIRST"].append(r.choice(FIRST))
        cols["LAST"].append(r.choice(LAST))
        cols["ADDRESS"].append(f"{r.randint(1, 9999)} {r.choice(['Oak', 'Maple', 'Main', 'Elm'])} St")
        cols["CITY"].append(r.choice(CITIES))
        cols["STATE"].append("MA")
        cols["ZIP"].append(f"0{r.randint(1000, 2799)}")
        cols["PHONE"].append(phone)
        cols["GENDER"].append(r.choice(["M", "F"]))
        cols["LAT"].append(round(r.uniform(41.2, 42.9), 6))
        cols["LON"].append(round(r.uniform(-73.5, -69.9), 6))
        cols["HEALTHCARE_EXPENSES"].append(round(r.uniform(0, 99999), 2))
        cols["CODE"].append(r.randint(100000, 999999))
        cols["NOTES"].append(note)
    return pa.Table.from_arrays([pa.array(cols[f.name], type=f.type) for f in SCHEMA], schema=SCHEMA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--group-rows", type=int, default=131072)
    a = ap.parse_args()
    r = random.Random(a.seed)
    t = block(r, a.group_rows)
    target = a.mb << 20
    # The uncompressed size of one block as Parquet stores it, from a trial write's footer.
    sink = pa.BufferOutputStream()
    pq.write_table(t, sink, row_group_size=a.group_rows, compression="snappy")
    meta = pq.ParquetFile(pa.BufferReader(sink.getvalue())).metadata
    per_block = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
    groups = max(1, -(-target // per_block))
    with pq.ParquetWriter(a.out, SCHEMA, compression="snappy") as w:
        for _ in range(groups):
            w.write_table(t, row_group_size=a.group_rows)
    print(f"{a.out}: {groups} row groups of {a.group_rows} rows")


if __name__ == "__main__":
    main()
