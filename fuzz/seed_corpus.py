#!/usr/bin/env python3
"""Seeds fuzz/corpus/TARGET/ for every fuzz target: the small fixtures of testdata/ plus
small hand-written dumps and values covering the syntax each parser knows (COPY and INSERT
dumps, SJIS and standard_conforming_strings off, MySQL charsets and NO_BACKSLASH_ESCAPES),
and, when pyarrow is installed, small Parquet files of many column types and codecs.

    python3 fuzz/seed_corpus.py          # from the repository root or from fuzz/

Targets that take a selector byte first (csv_scrub, jsonl_scrub, pg_copy_roundtrip,
codec_roundtrip) get their seeds with that byte prepended. Existing corpus files are kept.
"""

import hashlib
import io
import os
import sys

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
TESTDATA = os.path.join(ROOT, "testdata", "structured")
MAX = 65536


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX:
        return
    d = os.path.join(FUZZ, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(name):
    with open(os.path.join(TESTDATA, name), "rb") as f:
        return f.read()


PG_HEAD = (
    "--\n-- PostgreSQL database dump\n--\n\n\\restrict k3Jx9\n\n"
    "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
    "SET standard_conforming_strings = on;\n"
    "SELECT pg_catalog.set_config('search_path', '', false);\n\n"
)
PG_DDL = (
    "CREATE FUNCTION public.f() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $$\nBEGIN\n"
    "  -- COPY x FROM stdin; 'quote\n  RAISE NOTICE 'a;b'; RETURN NEW;\nEND $$;\n\n"
    "CREATE FUNCTION public.g() RETURNS text LANGUAGE sql AS $body$ SELECT ';' || $$x$$ $body$;\n\n"
    "COMMENT ON TABLE public.patients IS 'it''s; E''\\ not an escape';\n\n"
    "CREATE TABLE public.patients (\n    id integer NOT NULL,\n"
    "    ssn character varying(11) NOT NULL,\n    first_name text,\n    dob date,\n"
    "    notes text,\n    photo bytea,\n    tags text[],\n"
    "    CONSTRAINT ck CHECK ((id > 0))\n);\n\n"
    "SELECT pg_catalog.setval('public.patients_id_seq', 42, true);\n\\connect - postgres\n"
)
PG_COPY = (
    "COPY public.patients (id, ssn, first_name, dob, notes, photo, tags) FROM stdin;\n"
    "1\t536-22-8726\tAnna\t1961-04-03\tcalled back\\tSSN 536-22-8726\\nok \\\\N done\t\\\\x89504e47\t{a,b}\n"
    "2\t219-09-9999\tBob\t\\N\t\\N\t\\N\t\\N\n"
    "3\t078-05-1120\tCarl Smith\t1970-01-02\tmail carl@mercy-health.org or (617) 555-0199\t\\\\x00ff\t{\"x y\"}\n"
    "\\.\n\n"
)
PG_INSERTS = (
    "INSERT INTO public.patients VALUES (1, '536-22-8726', 'Anna', '1961-04-03', "
    "E'SSN 536-22-8726\\n\\'x\\'', '\\x89504e470d0a1a0a', '{a,b}');\n"
    "INSERT INTO public.patients (id, ssn, first_name, dob, notes, photo, tags) VALUES "
    "(2, '219-09-9999', 'O''Brien', NULL, 'it''s SSN 219-09-9999 ; ok', NULL, ARRAY['x', 'y']);\n"
    "INSERT INTO public.patients (id, ssn, first_name) VALUES\n\t(3, '078-05-1120', 'Carl'),\n"
    "\t(4, '457-55-5462', 'Dora') ON CONFLICT DO NOTHING;\n"
    "INSERT INTO public.patients OVERRIDING SYSTEM VALUE VALUES "
    "(5, '536-22-8726', 'Eve', '2001-01-01'::date, NULL, NULL, NULL);\n"
)
PG_SEEDS = [
    PG_HEAD + PG_DDL + PG_COPY + "\\unrestrict k3Jx9\n",
    PG_HEAD + PG_DDL + PG_INSERTS + "\\unrestrict k3Jx9\n",
    PG_HEAD + PG_DDL + PG_COPY + PG_INSERTS,
    "SET standard_conforming_strings = off;\n"
    "INSERT INTO public.n (id, note) VALUES (1, 'a\\'; SSN 536-22-8726 \\\\');\nSELECT 'after';\n",
    b"SET client_encoding = 'SJIS';\nCOPY public.s (note, n) FROM stdin;\n\x95\x5c\tSSN 536-22-8726\n"
    b"\\.\nINSERT INTO public.s (note, n) VALUES (E'\x95\x5c', 'SSN 536-22-8726');\n",
    b"SET client_encoding = 'GB18030';\nCREATE TABLE public.g (a text, b text);\n"
    b"COPY public.g (a, b) FROM stdin;\n\x81\x30\x81\x30\\t\tJane Doe 536-22-8726\n\\.\n",
    "COPY public.patients (id, ssn) FROM stdin;\n1\t536-22-8726\n2\t219-09-9999\n\\.\n",
    "CREATE TABLE public.u (id integer, email text UNIQUE, ssn text);\n"
    "COPY public.u (id, email, ssn) FROM stdin;\n1\ta@example.org\t536-22-8726\n"
    "2\tb@example.org\t536-22-8727\n\\.\n",
    "CREATE TEMPORARY TABLE t (x int);\nCREATE UNLOGGED TABLE IF NOT EXISTS \"Odd\".\"Na\"\"me\" "
    "(\"Col\" text, d timestamp with time zone, n numeric(10,2));\n"
    "COPY \"Odd\".\"Na\"\"me\" (\"Col\", d, n) FROM stdin;\nMRN: 12345678\t2020-01-01 10:00:00+00\t1.50\n\\.\n",
    "SELECT 1; /* nested /* comment */ ; */ SELECT $tag$ ; $tag$;\n-- COPY x FROM stdin;\n",
]

MY_HEAD = (
    "/*M!999999\\- enable the sandbox mode */ \n"
    "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n"
    "-- Host: localhost    Database: clinic\n"
    "-- ------------------------------------------------------\n"
    "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    "/*!40101 SET NAMES utf8mb4 */;\n"
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n\n"
)
MY_TABLE = (
    "DROP TABLE IF EXISTS `patients`;\n"
    "CREATE TABLE `patients` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
    "  `mrn` varchar(12) NOT NULL,\n  `ssn` char(11) DEFAULT NULL,\n"
    "  `first_name` varchar(40) NOT NULL,\n  `dob` date DEFAULT NULL,\n"
    "  `email` varchar(80) DEFAULT NULL,\n  `photo` blob,\n  `notes` text,\n"
    "  `total_cost` decimal(10,2) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n"
    "  UNIQUE KEY `mrn` (`mrn`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\n"
)
MY_ROWS = (
    "LOCK TABLES `patients` WRITE;\n/*!40000 ALTER TABLE `patients` DISABLE KEYS */;\n"
    "INSERT INTO `patients` VALUES (1,'MRN00012345','536-22-8726','Anna','1961-04-03',"
    "'anna@mercy-health.org',_binary 0x89504E470D0A1A0A,'called back\\tSSN 536-22-8726\\nok',12.50),"
    "(2,'MRN00012346',NULL,'O\\'Neil','1970-01-02',NULL,X'00FF','C:\\\\scans \"q\" (617) 555-0199',NULL),"
    "(3,'MRN00012347','078-05-1120','Carl',NULL,'c@example.org',NULL,_utf8mb4'Jane Doe',-1e3);\n"
    "/*!40000 ALTER TABLE `patients` ENABLE KEYS */;\nUNLOCK TABLES;\n"
)
MY_TAIL = (
    "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n"
    "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n\n"
    "-- Dump completed on 2024-06-01 12:00:00\n"
)
MY_SEEDS = [
    MY_HEAD + MY_TABLE + MY_ROWS + MY_TAIL,
    MY_TABLE + MY_ROWS,
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_BACKSLASH_ESCAPES' */;\n"
    "INSERT INTO t VALUES ('c:\\dir SSN 219-45-6789'),('it''s');\n"
    "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\nINSERT INTO t VALUES ('a\\'b SSN 078-05-1120');\n",
    b"/*!40101 SET NAMES sjis */;\nCREATE TABLE `s` (`note` text, `ssn` text);\n"
    b"INSERT INTO `s` VALUES ('\x95\x5c SSN 536-22-8726','536-22-8726'),('\x81\x60','x');\n",
    b"SET NAMES gbk;\nINSERT INTO `g` (`a`,`b`) VALUES ('\xbf\x5c\\'','Jane Doe'),(0x4142,\"d\\\"q\");\n",
    "-- MySQL dump 10.13  Distrib 8.0.36\nCREATE TABLE `x` (`a` json, `b` enum('p','q'));\n"
    "REPLACE INTO `x` (`a`, `b`) VALUES ('{\"ssn\": \"536-22-8726\"}','p');\n"
    "INSERT IGNORE INTO `x` VALUES ('[]','q') ON DUPLICATE KEY UPDATE `b`=VALUES(`b`);\n",
    "DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET @a = 'x;'; END ;;\n"
    "DELIMITER ;\nINSERT INTO `t` VALUES (1,'SSN 536-22-8726');\n",
]

CSV_SEEDS = [
    "id,name,ssn,notes\n1,Jane Doe,536-22-8726,\"called, back \"\"x\"\"\"\n2,Bob,219-09-9999,\n",
    "a;b;email\r\n1;2;jane@mercy-health.org\r\n",
    "mrn\tdob\tzip\n12345678\t1961-04-03\t02139\n",
    "\ufeffname|phone\n\"Carl\r\nSmith\"|(617) 555-0199\n",
    "a,b\n1,2,3,536-22-8726\n4\n",
    "",
    "a,ssn\r\n",
]

JSONL_SEEDS = [
    '{"ssn":"536-22-8726","name":"Jane Doe","n":1}\n{"ssn":"219-09-9999","tags":["a","b"],"x":{"email":"j@x.org"}}\n',
    '{"note":"SSN \\u0035\\u0033\\u0036-22-8726 \\ud83d\\ude00","dob":"1961-04-03","v":null,"b":true}\r\n',
    '\ufeff{"a":[{"phone":"(617) 555-0199"},1.5e3,-0]}\n\n',
    '{"nested":"{\\"ssn\\":\\"536-22-8726\\"}"}\n',
]

PG_COPY_FIELDS = [
    b"1\tO\\'Brien\\tJr\t\\N",
    b"\\x41\\101\\\\N\t\xe2\x82\xac\\t\t\\N",
    b"\x95\x5c\t\x95\x5c\\t",
    b"\x81\x30\x81\x30\\\t",
    b"\\.",
    b"a\\",
]

CODEC_VALUES = [
    b"O'Neil\n\\",
    b"it''s \"q\" ; x",
    b"\x95\x5c\\'",
    b"\xbf\x5c",
    b"a,b\xff\"c\"\xff \xff\r\n",
    b"E'\\x41\\101\\u00e9'",
]


def parquet_seeds():
    try:
        import datetime
        import decimal

        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        print("note: pyarrow not installed; Parquet seeds are the fixtures only")
        return []
    names = ["Jane Doe", "Bob O'Neil", None, "Carl Smith"]
    t = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "ssn": pa.array(["536-22-8726", "219-09-9999", None, "078-05-1120"]),
            "name": pa.array(names),
            "dob": pa.array(
                [datetime.date(1961, 4, 3), None, datetime.date(1970, 1, 2), datetime.date(2001, 1, 1)]
            ),
            "seen": pa.array(
                [datetime.datetime(2020, 1, 1, 10, 0), None, None, datetime.datetime(2021, 5, 6)],
                pa.timestamp("us", tz="UTC"),
            ),
            "cost": pa.array(
                [decimal.Decimal("1.50"), None, decimal.Decimal("-2.25"), decimal.Decimal("0")],
                pa.decimal128(10, 2),
            ),
            "x": pa.array([1.5, None, 2.0, -0.0], pa.float64()),
            "h": pa.array([1.0, 2.0, None, 0.5], pa.float16()),
            "photo": pa.array([b"\x89PNG\r\n\x1a\n", None, b"", b"\x00\xff"], pa.binary()),
            "tags": pa.array([["a", "536-22-8726"], [], None, ["x"]], pa.list_(pa.string())),
            "addr": pa.array(
                [{"zip": "02139", "city": "Boston"}, None, {"zip": None, "city": "x"}, {"zip": "1", "city": ""}],
                pa.struct([("zip", pa.string()), ("city", pa.string())]),
            ),
            "mrn": pa.array([12345678, 23456789, None, 34567890], pa.int32()),
            "note": pa.array(["call (617) 555-0199", "mail a@b.org", "", None]).dictionary_encode(),
            "flag": pa.array([True, False, None, True]),
        }
    )
    out = []
    for kw in [
        dict(compression="none"),
        dict(compression="snappy"),
        dict(compression="gzip", data_page_version="2.0"),
        dict(compression="zstd", use_dictionary=False),
        dict(compression="lz4", row_group_size=2),
        dict(compression="none", write_statistics=False, use_dictionary=True, data_page_size=64),
    ]:
        buf = io.BytesIO()
        pq.write_table(t, buf, **kw)
        out.append(buf.getvalue())
    small = pa.table({"ssn": ["536-22-8726"], "n": pa.array([1], pa.int8())})
    buf = io.BytesIO()
    pq.write_table(small, buf, compression="none")
    out.append(buf.getvalue())
    buf = io.BytesIO()
    pq.write_table(pa.table({"n": pa.array([536228726, 2, 3], pa.int64())}), buf, compression="none")
    out.append(buf.getvalue())
    return out


def main():
    for s in PG_SEEDS:
        put("pgdump_scrub", s)
    for s in MY_SEEDS:
        put("mysqldump_scrub", s)
    for name in ["patients.csv", "notes.csv", "encounters.csv"]:
        data = fixture(name)
        put("csv_scrub", b"\x07" + data)  # sniffed
        put("csv_scrub", b"\x00" + data[:4096])  # comma, and a cut mid-file
    for s in CSV_SEEDS:
        s = s.encode()
        put("csv_scrub", b"\x07" + s)
        put("csv_scrub", b"\x01" + s.replace(b",", b"\t"))
    for name in ["patients.jsonl", "notes.jsonl", "encounters.jsonl"]:
        data = fixture(name)
        put("jsonl_scrub", b"\x00" + data)
        put("jsonl_scrub", b"\x00" + data[:4096])
    put("jsonl_scrub", b"\x01" + fixture("planted.json"))
    put("jsonl_scrub", b'\x01{"a":{"ssn":"536-22-8726"},"b":[1,"Jane Doe"]}')
    for s in JSONL_SEEDS:
        put("jsonl_scrub", b"\x00" + s.encode())
    for name in ["patients.parquet", "notes.parquet", "encounters.parquet"]:
        put("parquet_scrub", fixture(name))
    for data in parquet_seeds():
        put("parquet_scrub", data)
    for i, f in enumerate(PG_COPY_FIELDS):
        for enc in range(5):
            put("pg_copy_roundtrip", bytes([enc]) + f)
    for v in CODEC_VALUES + [f for f in PG_COPY_FIELDS]:
        for sel in range(0, 256, 7):
            put("codec_roundtrip", bytes([sel]) + (bytes([128]) if sel % 3 == 2 else b"") + v)
    for target in sorted(os.listdir(os.path.join(FUZZ, "corpus"))):
        n = len(os.listdir(os.path.join(FUZZ, "corpus", target)))
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    sys.exit(main())
