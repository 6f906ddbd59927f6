#!/usr/bin/env python3
"""Synthetic Parquet written by pyarrow, to check phiscrub on files from another writer than
the Rust crates it uses itself (tests/parquet.rs runs this when pyarrow is installed), and to
make large inputs for timing.

    gen_parquet_fixture.py write OUT.parquet [ROWS] [ROW_GROUP_ROWS]
    gen_parquet_fixture.py check IN.parquet OUT.parquet

`write` makes a patients table: flat strings, a dictionary column, a date, a UTC timestamp,
an integer MRN, a struct, a list of structs, a large string, nulls, key-value metadata and
per-column codecs. `check` compares a scrubbed OUT with IN: same schema (with metadata),
footer metadata, row groups and codecs; every identifier changed; kept columns identical;
dates moved by one offset. Everything is generated from a fixed seed: no real person.
"""

import datetime
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

FIRST = ["Ana", "Bo", "Chidi", "Mireille", "Tomasz", "Priya", "Lars", "Gleason633"]
LAST = ["Lopez", "Ekdahl", "Anagonye", "Dubois", "Kowalczyk", "Raman", "Nilsson", "O'Neil-Smith"]
CITIES = ["Springfield", "Hartford", "Worcester", "Providence", "Stamford", "Burlington"]
STATES = ["MA", "CT", "RI", "VT"]


def phone(r):
    # Valid NANP area codes and exchanges: no N11, never the fictional 555-01xx range,
    # which detectors rightly skip.
    area = r.choice([212, 312, 415, 617, 203, 401, 802, 508])
    return f"({area}) {r.randint(2, 9)}{r.randint(2, 9)}{r.randint(0, 9)}-{r.randint(1000, 9999)}"


def table(rows):
    r = random.Random(20240611)
    epoch = datetime.date(1970, 1, 1)
    ids, first, last, ssn, birth, admit, mrn, gender, notes = ([] for _ in range(9))
    address, contacts, comments = [], [], []
    for i in range(rows):
        ids.append(f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}-8{r.getrandbits(12):03x}-{r.getrandbits(48):012x}")
        first.append(r.choice(FIRST))
        last.append(r.choice(LAST))
        ssn.append(f"{r.randint(100, 665):03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999):04d}")
        birth.append(epoch + datetime.timedelta(days=r.randint(-20000, 15000)))
        admit.append(datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc)
                     + datetime.timedelta(seconds=r.randint(0, 86400 * 700), microseconds=r.randint(0, 999999)))
        mrn.append(40_000_000 + i)
        gender.append(r.choice(["F", "M"]))
        notes.append(None if i % 3 == 1 else f"called {phone(r)} about refill")
        address.append({"city": r.choice(CITIES), "state": r.choice(STATES)})
        contacts.append([{"phone": phone(r), "kind": k} for k in ["home", "work"][: 1 + i % 2]])
        comments.append("pt stable, no change" if i % 2 else f"reach at {first[-1].lower()}{i}@mercy-health.org")
    schema = pa.schema(
        [
            pa.field("Id", pa.string(), nullable=False),
            pa.field("FIRST", pa.string()),
            pa.field("LAST", pa.string()),
            pa.field("SSN", pa.string(), metadata={"description": "synthetic SSN"}),
            pa.field("BIRTHDATE", pa.date32()),
            pa.field("admit_datetime", pa.timestamp("us", tz="UTC")),
            pa.field("mrn", pa.int64(), nullable=False),
            pa.field("GENDER", pa.dictionary(pa.int32(), pa.string())),
            pa.field("notes", pa.string()),
            pa.field("address", pa.struct([("city", pa.string()), ("state", pa.string())])),
            pa.field("contacts", pa.list_(pa.struct([("phone", pa.string()), ("kind", pa.string())]))),
            pa.field("comments", pa.large_string()),
        ],
        metadata={"dataset": "synthetic patients (pyarrow)"},
    )
    cols = [ids, first, last, ssn, birth, admit, mrn, gender, notes, address, contacts, comments]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema
    )


def write(out, rows=1000, group=400):
    t = table(rows)
    t = t.replace_schema_metadata({**t.schema.metadata, b"origin": b"gen_parquet_fixture.py"})
    codecs = {name: "snappy" for name in t.column_names}
    codecs.update({"notes": "zstd", "SSN": "gzip", "comments": "lz4"})
    pq.write_table(t, out, row_group_size=group, compression=codecs)


def codecs(f):
    m = f.metadata
    return [
        [(m.row_group(g).column(c).path_in_schema, m.row_group(g).column(c).compression)
         for c in range(m.num_columns)]
        for g in range(m.num_row_groups)
    ]


def check(src, out):
    a, b = pq.ParquetFile(src), pq.ParquetFile(out)
    assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True), (a.schema_arrow, b.schema_arrow)
    assert a.metadata.metadata == b.metadata.metadata
    groups = lambda f: [f.metadata.row_group(g).num_rows for g in range(f.metadata.num_row_groups)]
    assert groups(a) == groups(b), (groups(a), groups(b))
    assert codecs(a) == codecs(b), (codecs(a), codecs(b))
    ta, tb = a.read(), b.read()
    rows = ta.num_rows
    for name in ["Id", "SSN", "mrn", "BIRTHDATE", "admit_datetime"]:
        x, y = ta.column(name).to_pylist(), tb.column(name).to_pylist()
        same = [i for i in range(rows) if x[i] is not None and x[i] == y[i]]
        assert not same, f"{name}: {len(same)} values unchanged, first at row {same[0] + 1}"
    names = set(FIRST + LAST)
    for name in ["FIRST", "LAST"]:
        assert not names & set(tb.column(name).to_pylist()), name
    assert ta.column("GENDER").to_pylist() == tb.column("GENDER").to_pylist()
    sa = [d["state"] for d in ta.column("address").to_pylist()]
    sb = [d["state"] for d in tb.column("address").to_pylist()]
    assert sa == sb, "kept struct member"
    cities = set(CITIES)
    assert not cities & {d["city"] for d in tb.column("address").to_pylist()}
    pa_ = [c["phone"] for l in ta.column("contacts").to_pylist() for c in l]
    pb = [c["phone"] for l in tb.column("contacts").to_pylist() for c in l]
    assert len(pa_) == len(pb) and not set(pa_) & set(pb), "list-of-struct phones"
    na, nb = ta.column("notes").to_pylist(), tb.column("notes").to_pylist()
    for x, y in zip(na, nb):
        assert (x is None) == (y is None)
        if x is not None:
            assert x != y and y.startswith("called ") and y.endswith(" about refill"), (x, y)
    ca, cb = ta.column("comments").to_pylist(), tb.column("comments").to_pylist()
    for x, y in zip(ca, cb):
        assert (x == y) == (x == "pt stable, no change"), (x, y)
    shifts = {(y - x).days for x, y in zip(ta.column("BIRTHDATE").to_pylist(), tb.column("BIRTHDATE").to_pylist())}
    assert len(shifts) == 1 and 0 < abs(shifts.pop()) <= 365, shifts
    for x, y in zip(ta.column("admit_datetime").to_pylist(), tb.column("admit_datetime").to_pylist()):
        assert x.time() == y.time(), "time of day kept"
    print(f"pyarrow check ok: {rows} rows, {b.metadata.num_row_groups} row groups")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(sys.argv[2], *(int(a) for a in sys.argv[3:5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
