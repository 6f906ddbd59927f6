#!/usr/bin/env python3
"""Streams a large synthetic MySQL/MariaDB dump (mariadb-dump layout) for throughput benchmarks.

Usage: python3 scripts/gen_mysqldump.py OUT --mb 2048 [--seed 7] [--insert-kb 1024]

One `patients` table with identifier columns (mrn, ssn, first_name, last_name, dob, phone,
email, zip), kept ones (state, total_cost) and a free-text `notes` column in which about one
row in five mentions a phone number, an SSN or a doctor's name; rows are written as extended
INSERTs of about --insert-kb each (mariadb-dump's default is about 1 MB), with the header,
LOCK TABLES and trailer mariadb-dump writes. Values are synthetic from a fixed seed; a block
of rows is generated once and repeated with fresh ids, so millions of rows stream out at disk
speed. OUT may be `-` for standard output.
"""
import argparse
import random
import sys

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "Ana", "Wei", "Gleason633", "Priya"]
LAST = ["Smith", "Johnson", "Garcia", "O\\'Neil-Smith", "Nguyen", "Okafor", "Kowalski", "Haddad", "Tanaka", "Patel"]
NOTES = ["stable, no change", "follow-up in 3 months", "BP reviewed; continue current regimen",
         "labs drawn, results pending", "\\\"patient declined\\\" flu shot, counselled\\nsee plan",
         "pain 3/10\\tambulating", "C:\\\\scans\\\\2019 reviewed"]
STATES = ["MA", "CT", "NY", "RI", "NH"]

HEADER = """/*M!999999\\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: localhost    Database: bench
-- ------------------------------------------------------
-- Server version	10.11.19-MariaDB-0+deb12u1

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;

--
-- Table structure for table `patients`
--

DROP TABLE IF EXISTS `patients`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `patients` (
  `id` int(11) NOT NULL,
  `mrn` varchar(12) NOT NULL,
  `ssn` varchar(11) DEFAULT NULL,
  `first_name` varchar(40) NOT NULL,
  `last_name` varchar(40) NOT NULL,
  `dob` date DEFAULT NULL,
  `phone` varchar(20) DEFAULT NULL,
  `email` varchar(80) DEFAULT NULL,
  `zip` char(5) DEFAULT NULL,
  `state` char(2) DEFAULT NULL,
  `total_cost` decimal(10,2) DEFAULT NULL,
  `notes` text DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `patients`
--

LOCK TABLES `patients` WRITE;
/*!40000 ALTER TABLE `patients` DISABLE KEYS */;
"""

TRAILER = """/*!40000 ALTER TABLE `patients` ENABLE KEYS */;
UNLOCK TABLES;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-12-01  6:00:00
"""


def nanp(r: random.Random) -> int:
    while True:
        n = r.randint(201, 999)
        if n % 100 != 11:
            return n


def row_tail(r: random.Random) -> str:
    """A row without its id: `,'mrn',…,'notes')`."""
    ssn = f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
    phone = f"({nanp(r)}) {nanp(r)}-{r.randint(0, 9999):04d}"
    first, last = r.choice(FIRST), r.choice(LAST)
    note = r.choice(NOTES)
    k = r.random()
    if k < 0.08:
        note = f"called {phone} re refill"
    elif k < 0.14:
        note = f"seen by Dr. {r.choice(LAST)}, {note}"
    elif k < 0.2:
        note = f"pt gave SSN {ssn} at desk"
    dob = f"19{r.randint(30, 99)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    email = f"{first.lower()[:6]}.{r.randint(1, 9999)}@example.org"
    ssn_v = "NULL" if k > 0.95 else f"'{ssn}'"
    notes_v = "NULL" if 0.9 < k <= 0.95 else f"'{note}'"
    return (f",'M{r.randint(0, 99999999):08d}',{ssn_v},'{first}','{last}','{dob}','{phone}',"
            f"'{email}','{r.randint(1000, 99999):05d}','{r.choice(STATES)}',"
            f"{r.uniform(0, 99999):.2f},{notes_v})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--insert-kb", type=int, default=1024)
    ap.add_argument("--block-rows", type=int, default=50000)
    a = ap.parse_args()
    r = random.Random(a.seed)
    tails = [row_tail(r) for _ in range(a.block_rows)]
    target = a.mb << 20
    per_insert = a.insert_kb << 10
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")
    with out:
        out.write(HEADER.encode())
        written, rid, k = len(HEADER), 0, 0
        while written < target:
            parts, size = [], 0
            while size < per_insert:
                rid += 1
                p = f"({rid}{tails[k]}"
                k = (k + 1) % len(tails)
                parts.append(p)
                size += len(p) + 2
            stmt = ("INSERT INTO `patients` VALUES " + ",".join(parts) + ";\n").encode()
            out.write(stmt)
            written += len(stmt)
        out.write(TRAILER.encode())
    print(f"{rid} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
