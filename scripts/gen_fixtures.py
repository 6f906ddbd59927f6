#!/usr/bin/env python3
"""Writes the small Synthea-like extract in testdata/structured/ (fixed seed; committed).

Usage: python3 scripts/gen_fixtures.py [OUT_DIR=testdata/structured]

Three tables, each as CSV, JSON lines and Parquet (pyarrow, uncompressed so a byte search
of the scrubbed file means something, with key-value metadata):
- patients:   Id, BIRTHDATE, SSN, DRIVERS, FIRST, LAST, ADDRESS, CITY, STATE, ZIP, GENDER,
              LAT, LON, HEALTHCARE_EXPENSES
- encounters: Id, START, STOP, PATIENT, ENCOUNTERCLASS, CODE, DESCRIPTION, BASE_ENCOUNTER_COST
- notes:      Id, PATIENT, ENCOUNTER, DATE, NOTE (free text: the patient's name after a label,
              a phone, an MRN, an email)
and planted.json: "values", every identifying value planted (none may survive scrubbing in
any output byte), and "free_text_names", the patients' names as the notes spell them (found
only where the name dictionaries know them: there is no name model). Everything is
synthetic: no real person.
"""
import csv
import datetime
import io
import json
import os
import random
import sys
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

FIRST = ["Ana", "Bo", "Chidi", "Mireille", "Tomasz", "Priya", "Lars", "Gleason633", "Wen", "Amara"]
LAST = ["Lopez", "Ekdahl", "Anagonye", "Dubois", "Kowalczyk", "Raman", "Nilsson", "O'Neil-Smith", "Haddad"]
CITIES = ["Springfield", "Worcester", "Lowell", "Brockton", "Quincy", "Lynn"]
STREETS = ["Oak St", "Maple Ave", "Elm Rd", "Harbor Way", "Pine Ct"]
CLASSES = ["wellness", "ambulatory", "outpatient", "emergency"]
CODES = [("185349003", "Encounter for check up"), ("162673000", "General examination"),
         ("50849002", "Emergency room admission")]


def gen(r: random.Random):
    patients, encounters, notes, planted, names = [], [], [], set(), set()
    for _ in range(30):
        pid = str(uuid.UUID(int=r.getrandbits(128), version=4))
        first, last = r.choice(FIRST), r.choice(LAST)
        p = {
            "Id": pid,
            "BIRTHDATE": datetime.date(1930, 1, 1) + datetime.timedelta(days=r.randint(0, 30000)),
            "SSN": f"{r.randint(100, 665):03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999):04d}",
            "DRIVERS": f"S{r.randint(10000000, 99999999)}",
            "FIRST": first,
            "LAST": last,
            "ADDRESS": f"{r.randint(10, 9999)} {r.choice(STREETS)}",
            "CITY": r.choice(CITIES),
            "STATE": "Massachusetts",
            "ZIP": f"0{r.randint(1001, 2791)}",
            "GENDER": r.choice(["F", "M"]),
            "LAT": round(r.uniform(41.3, 42.8), 6),
            "LON": round(r.uniform(-73.4, -70.0), 6),
            "HEALTHCARE_EXPENSES": round(r.uniform(1000, 900000), 2),
        }
        patients.append(p)
        planted |= {pid, p["SSN"], p["DRIVERS"], p["ADDRESS"]}
        for _ in range(r.randint(2, 8)):
            start = datetime.datetime(2015, 1, 1) + datetime.timedelta(minutes=r.randint(0, 4_000_000))
            code, desc = r.choice(CODES)
            e = {
                "Id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
                "START": start,
                "STOP": start + datetime.timedelta(minutes=r.randint(15, 240)),
                "PATIENT": pid,
                "ENCOUNTERCLASS": r.choice(CLASSES),
                "CODE": code,
                "DESCRIPTION": desc,
                "BASE_ENCOUNTER_COST": 129.16,
            }
            encounters.append(e)
            planted.add(e["Id"])
            if r.random() < 0.4:
                exchange = r.choice([x for x in range(200, 1000) if x % 100 != 11])
                phone = f"({r.choice([413, 508, 617, 781])}) {exchange}-{r.randint(1000, 9999)}"
                mrn = str(r.randint(1000000, 9999999))
                email = f"{first.lower()}.{r.randint(1, 99)}@mercy-health.org"
                n = {
                    "Id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
                    "PATIENT": pid,
                    "ENCOUNTER": e["Id"],
                    "DATE": start.date(),
                    "NOTE": f"Patient name: {first} {last}. Seen for {desc.lower()}; callback {phone}, "
                            f"MRN: {mrn}, email {email}. Stable.",
                }
                notes.append(n)
                planted |= {n["Id"], phone, mrn, email}
                names.add(f"{first} {last}")
    return patients, encounters, notes, sorted(planted), sorted(names)


def text(v):
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    return v


TYPES = {
    "BIRTHDATE": pa.date32(), "DATE": pa.date32(),
    "START": pa.timestamp("ms", tz="UTC"), "STOP": pa.timestamp("ms", tz="UTC"),
    "LAT": pa.float64(), "LON": pa.float64(), "HEALTHCARE_EXPENSES": pa.float64(),
    "BASE_ENCOUNTER_COST": pa.float64(), "GENDER": pa.dictionary(pa.int8(), pa.string()),
}


def write(out, name, rows):
    cols = list(rows[0])
    with open(os.path.join(out, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for row in rows:
            w.writerow([text(row[c]) for c in cols])
    with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
        for row in rows:
            f.write(json.dumps({c: text(row[c]) for c in cols}, separators=(",", ":")) + "\n")
    fields = [pa.field(c, TYPES.get(c, pa.string()), nullable=c != "Id") for c in cols]
    schema = pa.schema(fields, metadata={"dataset": f"synthetic {name} (gen_fixtures.py)"})
    arrays = []
    for fld in fields:
        vals = [row[fld.name] for row in rows]
        if pa.types.is_timestamp(fld.type):
            vals = [v.replace(tzinfo=datetime.timezone.utc) for v in vals]
        arrays.append(pa.array(vals, type=fld.type))
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), os.path.join(out, f"{name}.parquet"),
                   compression="none", row_group_size=25, use_dictionary=["GENDER"])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata/structured"
    os.makedirs(out, exist_ok=True)
    patients, encounters, notes, planted, names = gen(random.Random(20261201))
    for name, rows in [("patients", patients), ("encounters", encounters), ("notes", notes)]:
        write(out, name, rows)
    with open(os.path.join(out, "planted.json"), "w") as f:
        json.dump({"values": planted, "free_text_names": names}, f, indent=0)
        f.write("\n")
    print(f"{out}: {len(patients)} patients, {len(encounters)} encounters, {len(notes)} notes, {len(planted)} planted values")


if __name__ == "__main__":
    main()
