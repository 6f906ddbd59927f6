#!/usr/bin/env python3
"""Streams a synthetic PostgreSQL plain dump (pg_dump 15 layout) of about the size asked.

Fixed seed, so the same arguments give the same bytes. Tables: `patients` (identifier columns
the classifier replaces whole: mrn, ssn, names, dob, email, phone, zip; kept ones: state, sex),
`encounters` (foreign key to patients, a date, an amount, and a free-text `notes` column with
planted SSNs, phones, emails and labelled names in a share of the rows). COPY text escapes
(tabs, newlines, backslashes) appear in the notes as pg_dump writes them.

    python3 scripts/gen_pgdump.py --mb 2048 --out bench-data/dump-2048m.sql
    python3 scripts/gen_pgdump.py --mb 64 | phiscrub scrub --format pgdump > /dev/null
"""

import argparse
import random
import sys

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
         "Sarah", "Carlos", "Maria", "Ana", "Wei", "Priya", "Kenji"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White"]
STATES = ["MA", "NY", "CA", "TX", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "WA"]
WORDS = ("pt reports mild pain since last visit follow up in two weeks labs normal bp stable "
         "continue current meds advised rest hydration denies fever chills no acute distress "
         "reviewed imaging with patient discussed plan questions answered").split()

HEADER = """--
-- PostgreSQL database dump
--

-- Dumped from database version 15.20
-- Dumped by pg_dump version 15.20

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: patients; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.patients (
    id integer NOT NULL,
    mrn character varying(12) NOT NULL,
    ssn character varying(11),
    first_name text NOT NULL,
    last_name text NOT NULL,
    dob date NOT NULL,
    email text,
    phone character varying(20),
    zip character(5),
    state character(2),
    sex character(1)
);


ALTER TABLE public.patients OWNER TO postgres;

--
-- Name: encounters; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.encounters (
    id bigint NOT NULL,
    patient_id integer NOT NULL,
    visit_date date NOT NULL,
    amount numeric(10,2),
    notes text
);


ALTER TABLE public.encounters OWNER TO postgres;

"""

FOOTER = """
--
-- Name: patients patients_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.patients
    ADD CONSTRAINT patients_pkey PRIMARY KEY (id);


--
-- Name: encounters encounters_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.encounters
    ADD CONSTRAINT encounters_pkey PRIMARY KEY (id);


--
-- Name: encounters encounters_patient_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.encounters
    ADD CONSTRAINT encounters_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES public.patients(id);


--
-- PostgreSQL database dump complete
--

"""


def ssn(r):
    return "%03d-%02d-%04d" % (r.randint(100, 665), r.randint(10, 99), r.randint(1000, 9999))


def phone(r):
    return "(%d%02d) %d%02d-%04d" % (r.randint(2, 9), r.randint(0, 99), r.randint(2, 9),
                                     r.randint(20, 99), r.randint(0, 9999))


def note(r, first, last):
    words = " ".join(r.choice(WORDS) for _ in range(r.randint(8, 30)))
    k = r.random()
    if k < 0.15:
        return "Patient: %s %s called, SSN %s on file. %s" % (first, last, ssn(r), words)
    if k < 0.30:
        return "%s\\tcall back at %s or %s.%s@example.org" % (words, phone(r), first.lower(),
                                                                last.lower())
    if k < 0.40:
        return "MRN: %08d reviewed.\\n%s \\\\ ok" % (r.randint(10_000_000, 99_999_999), words)
    return words


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=256, help="approximate size in MB (1e6 bytes)")
    ap.add_argument("--out", help="file to write (default: standard output)")
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args()
    target = int(a.mb * 1e6)
    r = random.Random(a.seed)
    out = open(a.out, "w", encoding="utf-8", newline="\n") if a.out else sys.stdout
    written = out.write(HEADER)
    # A third of the bytes are patients, the rest encounters.
    out.write("--\n-- Data for Name: patients; Type: TABLE DATA; Schema: public; Owner: postgres\n"
              "--\n\nCOPY public.patients (id, mrn, ssn, first_name, last_name, dob, email, "
              "phone, zip, state, sex) FROM stdin;\n")
    n = 0
    rows = []
    while written < target // 3:
        n += 1
        f, l = r.choice(FIRST), r.choice(LAST)
        rows.append("%d\tM%09d\t%s\t%s\t%s\t%d-%02d-%02d\t%s\t%s\t%05d\t%s\t%s\n" % (
            n, n * 7 + 11, ssn(r) if n % 13 else "\\N", f, l, r.randint(1930, 2015),
            r.randint(1, 12), r.randint(1, 28), "%s.%s%d@example.org" % (f.lower(), l.lower(), n),
            phone(r), r.randint(1000, 99999), r.choice(STATES), r.choice("FMX")))
        if len(rows) == 2000:
            chunk = "".join(rows)
            written += out.write(chunk)
            rows = []
    written += out.write("".join(rows))
    patients = n
    out.write("\\.\n\n\n--\n-- Data for Name: encounters; Type: TABLE DATA; Schema: public; "
              "Owner: postgres\n--\n\nCOPY public.encounters (id, patient_id, visit_date, amount, "
              "notes) FROM stdin;\n")
    e = 0
    rows = []
    while written < target - len(FOOTER):
        e += 1
        p = r.randint(1, patients)
        f, l = r.choice(FIRST), r.choice(LAST)
        rows.append("%d\t%d\t20%02d-%02d-%02d\t%d.%02d\t%s\n" % (
            e, p, r.randint(10, 24), r.randint(1, 12), r.randint(1, 28), r.randint(0, 9999),
            r.randint(0, 99), note(r, f, l) if e % 3 else "\\N"))
        if len(rows) == 2000:
            written += out.write("".join(rows))
            rows = []
    written += out.write("".join(rows))
    out.write("\\.\n\n")
    out.write(FOOTER)
    if a.out:
        out.close()
    print("gen_pgdump: %d patients, %d encounters, %.1f MB" % (patients, e, written / 1e6),
          file=sys.stderr)


if __name__ == "__main__":
    main()
