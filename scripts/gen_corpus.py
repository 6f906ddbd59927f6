#!/usr/bin/env python3
"""Generate labelled synthetic text for measuring phiscrub (clinical notes, app logs, clean logs).

Usage::

    python3 scripts/gen_corpus.py --out /tmp/corpus [--seed 7] [--notes 2000] [--logs 20000] \\
                                  [--clean-lines 20000]
    python3 scripts/gen_corpus.py --fixtures testdata        # the small committed fixtures

Output is deterministic for the same arguments (and the Faker version pinned in
``scripts/requirements.txt``): ``Faker.seed`` and ``random.Random`` are seeded from ``--seed``,
each corpus from its own stream, so ``--notes 10`` gives the first ten notes of ``--notes 2000``.

Files written into ``--out``:

* ``notes.txt`` + ``notes.gold.jsonl``: clinical-note-like paragraphs, one note per line.
* ``logs.txt`` + ``logs.gold.jsonl``: application log lines; some carry planted identifiers
  (key=value, JSON or free text) and some carry secrets (cloud keys, tokens, passwords,
  connection URLs, PEM private keys whose lines are consecutive log lines).
* ``clean.txt`` + ``clean.gold.jsonl``: log lines with no identifier at all (all span lists
  empty), full of look-alikes: version numbers like 1.2.3.4, hex ids, UUIDs, long numbers,
  capitalized log words, hostnames, paths, sizes, durations.

``--fixtures DIR`` writes ``sample_notes.txt`` (30 notes), ``sample_app.log`` (200 lines) and
``clean.log`` (200 lines), each with ``<stem>.gold.jsonl`` (``sample_notes.gold.jsonl``,
``sample_app.gold.jsonl``, ``clean.gold.jsonl``): shorter notes, a log denser in identifiers
(so that together they cover all 21 entity types) and compact JSON. scripts/eval.py scores
them by default.

The clean corpus is adversarial on purpose: about a third of its lines carry a look-alike field
(``version=5.0.23.24``, nine-, ten- and sixteen-digit counters, capitalized phrases such as
``Young Gen collection``), so its false-positive rate is a stress figure, not the rate of an
ordinary log.

CLEAN CORPUS AND DATES (the choice scripts/eval.py relies on): timestamps are dates, so the
clean corpus uses ONLY timestamps that carry no date: epoch milliseconds (``1709547721123``)
and time-of-day (``10:22:01.123``). clean.txt therefore contains no entity of any type, DATE
included, and every finding on it is a false positive. The labelled logs.txt does use dated
timestamps (ISO 8601, ``2024-03-04 10:22:01,123``, syslog ``Mar  4 10:22:01``, access-log
``04/Mar/2024:10:22:01 +0000``) and labels each as DATE.

Gold format, one JSON object per document (document n = line n of the text file)::

    {"id": "notes-17", "text": "...", "spans": [{"start": 0, "end": 5, "type": "NAME",
                                                 "text": "..."}]}

Offsets are CHARACTER offsets (Python ``str`` indices, end exclusive) into ``text``, recorded
while the text is built piece by piece: never found by searching afterwards. Documents never
contain ``\\n`` or ``\\r``; a few contain non-ASCII characters (``°``, ``₂``, ``é``, ``–``) so
byte/character conversions get exercised.

Labelling conventions:

* NAME is the person's name without title or credentials: ``Dr. [Jane Doe], MD``; ``Mr.
  [Smith]``. In ``Smith, John`` the whole ``Smith, John`` is one span.
* An address is LOCATION for the street line (with its unit: ``[123 Main St Apt 4B]``), LOCATION
  for the city, ZIP for the ZIP code; the state (not PHI) is unlabelled. ``PO Box 12`` is
  LOCATION.
* DATE covers any date more precise than a year (with its attached time when written as one
  timestamp); a year alone is never labelled. AGE_OVER_89 covers only the number (``[92]-year-
  old``); ages of 89 or less are unlabelled.
* Key=value and JSON fields label only the value. Secrets label the secret itself: the value
  after ``password=``, the password inside ``postgres://user:PASSWORD@host``, the whole token, and
  each line of a PEM private key block (header, body and footer lines).
* Type mapping for identifiers with their own validator in phiscrub: NPI, DEA, driver's licence,
  medical licence and passport numbers -> LICENSE_NUMBER; MBI, member, group and policy numbers
  -> HEALTH_PLAN_ID; card numbers, IBAN and ABA routing numbers -> ACCOUNT_NUMBER; VIN and
  plates -> VEHICLE_ID; serials, UDI, IMEI and MAC addresses -> DEVICE_ID; patient, encounter,
  claim, accession ids and UUIDs said to be a patient's -> OTHER_ID; faces as base64 JPEG ->
  PHOTO; fingerprint templates -> BIOMETRIC.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import ipaddress
import json
import random
import re
import string
import sys
import unicodedata
from pathlib import Path

try:
    from faker import Faker
except ImportError:  # pragma: no cover
    sys.exit("error: faker is not installed (pip install -r scripts/requirements.txt)")

TYPES = (
    "NAME", "LOCATION", "ZIP", "DATE", "AGE_OVER_89", "PHONE", "FAX", "EMAIL", "SSN", "MRN",
    "HEALTH_PLAN_ID", "ACCOUNT_NUMBER", "LICENSE_NUMBER", "VEHICLE_ID", "DEVICE_ID", "URL",
    "IP_ADDRESS", "BIOMETRIC", "PHOTO", "OTHER_ID", "SECRET",
)
TYPE_SET = frozenset(TYPES)

Piece = tuple  # (text, type-or-None)


# =============================================================================================
# Document builder: text assembled piecewise, spans recorded as pieces are appended.
# =============================================================================================
class Doc:
    """One document (one line). ``add`` appends text and, with a type, records its span."""

    __slots__ = ("parts", "spans", "n")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[dict] = []
        self.n = 0

    def add(self, text: str, typ: str | None = None) -> "Doc":
        if "\n" in text or "\r" in text:
            raise ValueError(f"newline inside a document piece: {text!r}")
        if typ is not None:
            if typ not in TYPE_SET:
                raise ValueError(f"unknown type {typ}")
            if text:
                self.spans.append({"start": self.n, "end": self.n + len(text), "type": typ,
                                   "text": text})
        self.parts.append(text)
        self.n += len(text)
        return self

    def extend(self, pieces) -> "Doc":
        for p in pieces:
            self.add(p[0], p[1] if len(p) > 1 else None)
        return self

    def text(self) -> str:
        return "".join(self.parts)

    def record(self, doc_id: str) -> dict:
        text = self.text()
        for s in self.spans:  # construction invariant
            assert text[s["start"]:s["end"]] == s["text"], (doc_id, s)
        return {"id": doc_id, "text": text, "spans": self.spans}


# =============================================================================================
# Check digits and structured identifiers.
# =============================================================================================
def luhn_check_digit(payload: str) -> str:
    """Digit that makes ``payload + digit`` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
VIN_TRANSLIT = {**{str(d): d for d in range(10)},
                **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))),
                "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_WMI = ("1HG", "1FT", "1G1", "2T1", "3VW", "4T1", "5YJ", "JTD", "JHM", "KMH", "WBA", "WVW",
           "1FA", "1C4", "5NP", "2HG", "3FA", "JN1", "YV1", "SAL")
VIN_YEAR = "ABCDEFGHJKLMNPRSTVWXY123456789"


def vin_check(vin16: str) -> str:
    """VIN with its check digit (position 9) computed; ``vin16`` lacks position 9."""
    full = vin16[:8] + "0" + vin16[8:]
    total = sum(VIN_TRANSLIT[c] * w for c, w in zip(full, VIN_WEIGHTS))
    r = total % 11
    return vin16[:8] + ("X" if r == 10 else str(r)) + vin16[8:]


def iban_with_check(country: str, bban: str) -> str:
    """IBAN with valid mod-97 check digits."""
    rearranged = bban + country + "00"
    num = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def aba_ok(n: str) -> bool:
    """The ABA checksum (the Federal Reserve prefix is chosen by the caller)."""
    d = [int(c) for c in n]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


def dea_check(digits6: str) -> str:
    d = [int(c) for c in digits6]
    return str((d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10)


def ssn_ok(ssn: str) -> bool:
    d = re.sub(r"\D", "", ssn)
    area, group, serial = int(d[:3]), int(d[3:5]), int(d[5:])
    return 1 <= area <= 899 and area != 666 and group != 0 and serial != 0


# =============================================================================================
# Static vocabulary (hand-written, not PHI).
# =============================================================================================
CITIES = [
    ("Springfield", "IL"), ("Chicago", "IL"), ("Peoria", "IL"), ("Boston", "MA"),
    ("Worcester", "MA"), ("Cambridge", "MA"), ("New York", "NY"), ("Buffalo", "NY"),
    ("Rochester", "NY"), ("Albany", "NY"), ("Philadelphia", "PA"), ("Pittsburgh", "PA"),
    ("Baltimore", "MD"), ("Richmond", "VA"), ("Charlotte", "NC"), ("Raleigh", "NC"),
    ("Atlanta", "GA"), ("Savannah", "GA"), ("Miami", "FL"), ("Tampa", "FL"),
    ("Orlando", "FL"), ("Jacksonville", "FL"), ("Nashville", "TN"), ("Memphis", "TN"),
    ("Louisville", "KY"), ("Columbus", "OH"), ("Cleveland", "OH"), ("Dayton", "OH"),
    ("Detroit", "MI"), ("Grand Rapids", "MI"), ("Indianapolis", "IN"), ("Milwaukee", "WI"),
    ("Madison", "WI"), ("Minneapolis", "MN"), ("Saint Paul", "MN"), ("Des Moines", "IA"),
    ("Omaha", "NE"), ("Kansas City", "MO"), ("St. Louis", "MO"), ("Wichita", "KS"),
    ("Tulsa", "OK"), ("Dallas", "TX"), ("Houston", "TX"), ("San Antonio", "TX"),
    ("El Paso", "TX"), ("Austin", "TX"), ("Albuquerque", "NM"), ("Phoenix", "AZ"),
    ("Tucson", "AZ"), ("Denver", "CO"), ("Boulder", "CO"), ("Salt Lake City", "UT"),
    ("Boise", "ID"), ("Las Vegas", "NV"), ("Reno", "NV"), ("Los Angeles", "CA"),
    ("San Diego", "CA"), ("San Jose", "CA"), ("Fresno", "CA"), ("Sacramento", "CA"),
    ("Oakland", "CA"), ("Portland", "OR"), ("Eugene", "OR"), ("Seattle", "WA"),
    ("Spokane", "WA"), ("Tacoma", "WA"), ("Anchorage", "AK"), ("Honolulu", "HI"),
    ("Burlington", "VT"), ("Manchester", "NH"), ("Providence", "RI"), ("Hartford", "CT"),
    ("New Haven", "CT"), ("Newark", "NJ"), ("Trenton", "NJ"), ("Wilmington", "DE"),
    ("Charleston", "SC"), ("Birmingham", "AL"), ("Jackson", "MS"), ("Little Rock", "AR"),
    ("New Orleans", "LA"), ("Baton Rouge", "LA"), ("Fargo", "ND"), ("Sioux Falls", "SD"),
    ("Billings", "MT"), ("Cheyenne", "WY"), ("Lexington", "KY"), ("Knoxville", "TN"),
    ("Ann Arbor", "MI"), ("Rockford", "IL"), ("Lowell", "MA"), ("Green Bay", "WI"),
]
STREET_NAMES = ["Main", "Oak", "Maple", "Cedar", "Elm", "Pine", "Washington", "Lake", "Hill",
                "Park", "Lincoln", "Jefferson", "Madison", "Franklin", "Church", "Walnut",
                "Chestnut", "Spring", "Ridge", "Highland", "Sunset", "Meadow", "Forest",
                "Prospect", "Mill", "Center", "Union", "Broad", "Market", "River", "Grove",
                "Willow", "Birch", "Cherry", "Hickory", "Summit", "Dogwood", "Magnolia",
                "Martin Luther King Jr", "Old Mill", "Fox Run", "Oak Crossing"]
STREET_SUFFIX = ["St", "St.", "Street", "Ave", "Ave.", "Avenue", "Rd", "Road", "Blvd", "Dr",
                 "Drive", "Ln", "Lane", "Ct", "Court", "Way", "Pl", "Terrace", "Pkwy", "Cir"]
UNITS = ["Apt 4B", "Apt. 12", "Unit 3", "Suite 200", "#5", "Apt 101", "Fl 2", "Apt 7C"]
PAYERS = ["Blue Cross Blue Shield", "Aetna", "Cigna", "UnitedHealthcare", "Humana", "Kaiser",
          "Medicare", "Medicaid", "Tricare", "Anthem", "Molina", "Centene"]
CONDITIONS = ["type 2 diabetes", "hypertension", "CHF", "COPD", "atrial fibrillation",
              "CKD stage 3", "asthma", "hyperlipidemia", "osteoarthritis", "major depression",
              "hypothyroidism", "GERD", "coronary artery disease", "Parkinson disease",
              "Alzheimer dementia", "Crohn disease", "Graves disease", "Hodgkin lymphoma",
              "Guillain-Barré syndrome", "Bell palsy", "Addison disease", "prior stroke"]
SYMPTOMS = ["chest pain", "shortness of breath", "productive cough", "fever and chills",
            "abdominal pain", "dizziness", "a fall at home", "confusion", "palpitations",
            "lower extremity edema", "nausea and vomiting", "headache", "syncope",
            "right knee pain", "dysuria", "fatigue", "back pain", "a rash"]
DRUGS = [("metoprolol", "25 mg PO BID"), ("lisinopril", "10 mg daily"),
         ("metformin", "500 mg BID"), ("atorvastatin", "40 mg qHS"), ("furosemide", "40 mg IV"),
         ("apixaban", "5 mg BID"), ("insulin glargine", "18 units qHS"),
         ("acetaminophen", "650 mg q6h PRN"), ("ceftriaxone", "1 g IV q24h"),
         ("levothyroxine", "75 mcg daily"), ("albuterol", "2 puffs q4h PRN"),
         ("sertraline", "50 mg daily"), ("pantoprazole", "40 mg daily"),
         ("heparin", "5000 units SC q8h"), ("lorazepam", "0.5 mg PO q8h PRN")]
UNITS_HOSP = ["4 West", "the MICU", "telemetry", "the step-down unit", "5 North", "the ED",
              "pre-op holding", "the cardiac unit", "observation", "the rehab floor"]
RELATIONS = ["daughter", "son", "wife", "husband", "sister", "brother", "niece", "nephew",
             "mother", "father", "partner", "granddaughter", "grandson", "friend"]
CREDENTIALS = ["MD", "MD", "MD", "DO", "NP", "PA-C", "RN", "MD, PhD"]

# PHI-free clinical sentences: look-alikes on purpose (capitalized common words that are also
# names, eponyms, fractions and vitals that resemble dates, bare years, ages under 90, units).
CLEAN_CLINICAL = [
    "Lungs clear to auscultation bilaterally.",
    "No acute distress; alert and oriented x3.",
    "Will follow up in 2 weeks with repeat labs.",
    "May resume regular diet as tolerated.",
    "Mark the operative site prior to the procedure.",
    "Patient tolerated the procedure well without complications.",
    "Chest Pain protocol initiated; troponin pending.",
    "Normal Sinus Rhythm on EKG, rate 72.",
    "BP 132/84, HR 88, RR 18, SpO\u2082 96% on RA, T 37.8 \u00b0C.",
    "WBC 11.2, Hgb 9.8, Plt 214, Cr 1.4 (baseline 1.1).",
    "Pain 4/10 this morning, improved from 8/10 overnight.",
    "Given 1/2 tab of lorazepam at bedtime.",
    "Blood cultures x2 drawn; results expected in 48\u201372 h.",
    "Discussed risks, benefits and alternatives; questions answered.",
    "Code status: Full Code.",
    "Follow-up with Cardiology and Nephrology as outpatient.",
    "Rose to chair with assistance of one; gait steady with walker.",
    "Hope to wean oxygen to room air tomorrow.",
    "Faith-based support offered via chaplaincy.",
    "Bill to insurance on file; no copay collected today.",
    "Long-term care placement under discussion with Case Management.",
    "Hill-Sachs lesion noted on shoulder imaging.",
    "History notable for Parkinson disease and Bell palsy.",
    "Diagnosed with asthma in 2009; no intubations since.",
    "Colonoscopy in 2019 was unremarkable.",
    "Foley removed at 06:00; voiding spontaneously.",
    "Dose adjusted to 0.5 mg/kg q6h per Pharmacy.",
    "Young adult sibling reported no similar symptoms.",
    "Grace period for prior authorization is 30 days.",
    "Neuro: CN II\u2013XII intact, strength 5/5 throughout.",
    "Abdomen soft, non-tender, non-distended; bowel sounds present.",
    "Incision clean, dry and intact; no erythema.",
    "Heparin drip titrated per protocol to goal aPTT 60\u201380.",
    "Continue current regimen; recheck BMP in 3 days.",
    "Patient educated on low-sodium diet and daily weights.",
    "Physical Therapy recommends home with outpatient PT.",
    "Denies fever, chills, night sweats or weight loss.",
    "Skin warm and dry; no rashes or lesions.",
    "Echo shows EF 35\u201340% with mild MR.",
    "CT head without contrast negative for acute process.",
    "A1c 7.9% in 2022, up from 7.1% the prior year.",
    "Green sputum noted; sample sent for culture.",
    "White count trending down on antibiotics.",
    "Guillain-Barr\u00e9 syndrome considered and ruled out.",
    "Stable for transfer to the floor.",
    "Smoking history of 20 pack-years; quit 10 years ago.",
    "Wound vac changed every 3 days; granulation tissue healthy.",
    "Room 12 cleaned and prepared for next admission.",
]

# ---------------------------------------------------------------------------------------------
# PHI templates for notes. {NAME} placeholders are filled by NoteGen.fill, which returns pieces
# (text, type). Sentences end with their own punctuation.
# ---------------------------------------------------------------------------------------------
NOTE_HEADERS = [
    "Patient {PT}, DOB {DOB}, MRN {MRN}, seen at {ADDR}.",
    "DISCHARGE SUMMARY. Patient: {PT_FULL}. MRN: {MRN}. Admission date: {DATE}. "
    "Discharge date: {DATE}.",
    "Progress note for {PT_LASTFIRST} (DOB {DOB}) on {DATE}.",
    "ED NOTE {DATETIME}. Pt name: {PT_FULL}; MRN {MRN}; age: {PTAGE}.",
    "Telephone encounter {DATE}: {PT_TITLED} called from {PHONE}.",
    "Referral letter re: {PT_FULL}, DOB {DOB}, Member ID: {MEMBER}.",
    "Clinic visit {DATE_ISO}. {PT_FULL} is a {PTAGE}-year-old {SEX} here for follow-up.",
    "Admission H&P. Name: {PT_FULL}  DOB: {DOB}  MRN: {MRN}  Acct #: {ACCT}.",
    "Consult note, {DATE}. Requested by Dr. {DR_FULL} for {PT_TITLED}.",
    "Operative report for {PT_FULL}, MRN {MRN}, date of surgery {DATE_LONG}.",
]
NOTE_TEMPLATES = [
    "Pt is a {PTAGE}-year-old {SEX} with a history of {COND} presenting with {SYMPTOM}.",
    "{PT_FULL} is a {PTAGE} yo {SEX} admitted on {DATE} for {COND}.",
    "Aged {PTAGE}, the patient lives alone at {STREET}, {CITY}.",
    "age: {PTAGE}; sex: {SEX}; code status: full.",
    "The patient is {PTAGE} years old and ambulates with a walker.",
    "Contact: {PHONE}.",
    "Best callback number is {PHONE}; alternate {PHONE2}.",
    "Please fax records to {FAX} attn: {DR_FULL}.",
    "Records faxed to Dr. {DR_LAST}'s office (fax {FAX}) on {DATE}.",
    "Dr. {DR} evaluated the patient on {DATE}.",
    "Electronically signed by: {DR_FULL}, {CRED} on {DATETIME}.",
    "Signed: {DR_FULL}, {CRED}, pager {PHONE}.",
    "Seen and examined with Dr. {DR_LAST}; agree with the plan above.",
    "SSN: {SSN}.",
    "Social security number {SSN} verified by registration.",
    "Insurance: {PAYER}, Member ID: {MEMBER}, Group #: {GROUP}.",
    "Medicare MBI {MBI} verified at check-in.",
    "Emergency contact: {REL_FULL} ({RELTYPE}), {PHONE}.",
    "Patient's {RELTYPE}, {REL_FIRST}, was at bedside and updated.",
    "Spoke with {REL_FULL} by phone at {PHONE} regarding the discharge plan.",
    "Her {RELTYPE} {REL_FULL} ({EMAIL}) is the healthcare proxy.",
    "Email follow-up sent to {EMAIL}.",
    "Patient portal: {URL} (activation sent {DATE}).",
    "Results released via {URL} on {DATETIME}.",
    "{PT_TITLED} reports {SYMPTOM} since {DATE_NOYEAR}.",
    "Per {PT_FIRST}, symptoms began on {DATE}.",
    "{PT_LASTFIRST} was transferred to {UNIT} on {DATE}.",
    "Copay paid with card {CARD}.",
    "Billing account #{ACCT}; balance $%d.%02d." ,
    "Reimbursement to routing number {ABA}, account {ACCT}.",
    "Refund issued to IBAN {IBAN}.",
    "Driver's license ({STATE}) {DL} copied for identity verification.",
    "Passport {PASSPORT} presented at registration.",
    "Referring provider NPI {NPI}.",
    "Prescriber DEA # {DEA}; NPI: {NPI}.",
    "State medical license no. {MEDLIC}.",
    "Involved in an MVC; vehicle VIN {VIN}, plate {PLATE}.",
    "Pacemaker serial number {SERIAL} interrogated; battery adequate.",
    "Insulin pump S/N: {SERIAL}; basal rates reviewed.",
    "Implant UDI {UDI} recorded in the chart.",
    "Home monitor IMEI {IMEI} registered to the patient.",
    "Telehealth session connected from IP {IPV4}.",
    "Remote monitoring hub at {IPV6}, MAC {MAC}.",
    "Lab accession no. {ACCESSION} collected {DATETIME}.",
    "Claim #: {CLAIM} submitted {DATE}.",
    "Encounter {ENCOUNTER} opened by {DR_FULL}.",
    "Research consent for patient {PT_UUID} on file.",
    "Patient ID {PATIENT_ID} linked to the new MRN {MRN}.",
    "Mailing address: {POBOX}, {CITY}, {STATE} {ZIP}.",
    "Home address {STREET}, {CITY}, {STATE} {ZIP}; phone {PHONE}.",
    "Transferred from an outside hospital in {CITY}, {STATE} on {DATE}.",
    "Born {DOB}; lives with {RELTYPE} in {CITY}.",
    "DOB: {DOB}   Age: {PTAGE}",
    "Follow-up appointment {DATE} at {TIME} with Dr. {DR_LAST}.",
    "Surgery scheduled for {DATE_LONG} with {DR_FULL}, {CRED}.",
    "Seen {DATE_ISO} in clinic; next visit {DATE}.",
    "cc: Dr. {DR_FULL}, {EMAIL_DR}",
    "{PT_TITLED} was called at {PHONE} on {DATE} at {TIME}; left voicemail.",
    "Ambulance with plate {PLATE} transported the patient from {STREET}.",
    "Hearing aid serial {SERIAL} replaced under warranty.",
    "{PT_FIRST} {PT_LAST} called on {DATE_NOYEAR} asking about refills.",
    "Last dose of {DRUG} given {DATETIME}.",
]

# =============================================================================================
# Generator state shared by all corpora.
# =============================================================================================


class Persona:
    """A person: name parts, sex, birth date, address, contacts."""

    __slots__ = ("first", "last", "middle", "sex", "dob", "age", "street", "city", "state",
                 "zip", "phone", "email")


class Gen:
    """Random identifiers and formatted values; all randomness from ``rng`` and Faker."""

    TODAY = dt.date(2024, 3, 15)

    def __init__(self, seed: int, stream: int) -> None:
        Faker.seed(seed * 1000 + stream)
        self.rng = random.Random(seed * 1000 + stream)
        self.fake = Faker("en_US")
        self.fake_es = Faker("es_MX")
        self.fake_fr = Faker("fr_FR")

    # -- small helpers -------------------------------------------------------------------
    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def letters(self, n: int, alphabet: str = string.ascii_uppercase) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def alnum(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def hexs(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def uuid(self) -> str:
        h = self.hexs(32)
        h = h[:12] + "4" + h[13:16] + self.rng.choice("89ab") + h[17:]
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- people --------------------------------------------------------------------------
    def name_parts(self, sex: str | None = None) -> tuple[str, str]:
        sex = sex or self.rng.choice("FM")
        r = self.rng.random()
        if r < 0.07:
            f = self.fake_es
        elif r < 0.09:
            f = self.fake_fr
        else:
            f = self.fake
        first = f.first_name_female() if sex == "F" else f.first_name_male()
        last = f.last_name()
        r = self.rng.random()
        if r < 0.03:
            last = self.rng.choice(["O'Brien", "O'Neil", "O'Connor", "McDonald", "MacArthur",
                                    "D'Angelo", "McKenzie", "DeLuca"])
        elif r < 0.06:
            last = f"{last}-{self.fake.last_name()}"
        return first.split()[0], last.split()[-1]

    def persona(self) -> Persona:
        p = Persona()
        p.sex = self.rng.choice("FM")
        p.first, p.last = self.name_parts(p.sex)
        p.middle = self.rng.choice(string.ascii_uppercase)
        p.age = self.rng.randint(90, 104) if self.chance(0.3) else self.rng.randint(19, 89)
        born = self.TODAY.year - p.age - 1
        p.dob = dt.date(born, 1, 1) + dt.timedelta(days=self.rng.randint(0, 364))
        p.street = self.street()
        p.city, p.state = self.city_state()
        p.zip = self.zipcode(p.state)
        p.phone = self.phone()
        p.email = self.email_for(p.first, p.last)
        return p

    # -- places --------------------------------------------------------------------------
    def street(self) -> str:
        if self.chance(0.35):
            s = self.fake.street_address()
            return re.sub(r"\s+", " ", s)
        num = str(self.rng.randint(1, 19999))
        pre = self.rng.choice(["", "", "", "N. ", "S. ", "E. ", "W. ", "North ", "West "])
        s = f"{num} {pre}{self.rng.choice(STREET_NAMES)} {self.rng.choice(STREET_SUFFIX)}"
        if self.chance(0.2):
            s += self.rng.choice([" ", ", "]) + self.rng.choice(UNITS)
        return s

    def city_state(self) -> tuple[str, str]:
        if self.chance(0.25):
            return self.fake.city(), self.fake.state_abbr(include_territories=False)
        return self.rng.choice(CITIES)

    def zipcode(self, state: str) -> str:
        try:
            z = self.fake.zipcode_in_state(state)
        except Exception:
            z = self.fake.zipcode()
        if self.chance(0.15):
            z = f"{z}-{self.rng.randint(1, 9999):04d}"
        return z

    def pobox(self) -> str:
        return self.rng.choice(["PO Box ", "P.O. Box ", "P O Box ", "POB "]) + str(
            self.rng.randint(1, 99999))

    # -- contact -------------------------------------------------------------------------
    def nanp_parts(self) -> tuple[str, str, str]:
        """Area code, exchange and line valid under NANP rules (NXX, not N11, no N9X area)."""
        if self.chance(0.15):  # the fictional 555-01XX range
            area = self.rng.choice(["217", "312", "617", "415", "212", "713", "206", "303"])
            return area, "555", f"01{self.rng.randint(0, 99):02d}"
        while True:
            a, b, c = self.rng.randint(2, 9), self.rng.randint(0, 8), self.rng.randint(0, 9)
            if not (b == 1 and c == 1):
                break
        while True:
            e1, e2, e3 = self.rng.randint(2, 9), self.rng.randint(0, 9), self.rng.randint(0, 9)
            if not (e2 == 1 and e3 == 1):
                break
        return f"{a}{b}{c}", f"{e1}{e2}{e3}", f"{self.rng.randint(0, 9999):04d}"

    def phone(self, ext_ok: bool = True) -> str:
        if self.chance(0.1):  # a Faker number, kept only if it follows NANP rules
            for _ in range(5):
                raw = self.fake.phone_number()
                if "x" in raw:
                    continue
                d = re.sub(r"\D", "", raw)
                d = d[1:] if len(d) == 11 and d[0] == "1" else d
                if len(d) == 10 and d[0] in "23456789" and d[3] in "23456789" \
                        and d[1:3] != "11" and d[4:6] != "11" and d[1] != "9":
                    return raw
        a, e, n = self.nanp_parts()
        fmt = self.rng.choice([
            "({a}) {e}-{n}", "({a}) {e}-{n}", "{a}-{e}-{n}", "{a}-{e}-{n}", "{a}.{e}.{n}",
            "+1 {a} {e} {n}", "+1-{a}-{e}-{n}", "1-{a}-{e}-{n}", "({a}){e}-{n}",
            "+1 ({a}) {e}-{n}",
        ])
        s = fmt.format(a=a, e=e, n=n)
        if ext_ok and self.chance(0.05):
            s += self.rng.choice([" ext. ", " x", " ext "]) + str(self.rng.randint(2, 9999))
        return s

    def phone_digits(self) -> str:
        a, e, n = self.nanp_parts()
        return a + e + n

    def email_for(self, first: str, last: str) -> str:
        def ascii_fold(s: str) -> str:
            s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
            return re.sub(r"[^A-Za-z]", "", s).lower()
        f, l = ascii_fold(first), ascii_fold(last)
        local = self.rng.choice([f"{f}.{l}", f"{f[0]}{l}", f"{f}{l}{self.rng.randint(1, 99)}",
                                 f"{f}_{l}", f"{l}.{f}", f"{f}{self.rng.randint(1950, 2005)}"])
        domain = self.rng.choice([self.fake.free_email_domain()] * 3 + [self.fake.domain_name()])
        return f"{local}@{domain}"

    def url(self, who: str | None = None) -> str:
        dom = self.fake.domain_name()
        r = self.rng.random()
        if r < 0.3:
            return f"https://portal.{dom}/patients/{self.rng.randint(10000, 9999999)}"
        if r < 0.5:
            return f"https://mychart.{dom}/visit/{self.hexs(12)}"
        if r < 0.65 and who:
            return f"www.{who.lower()}-family.net"
        if r < 0.8:
            return f"https://{dom}/share/{self.alnum(10)}"
        return self.fake.url().rstrip("/") + "/" + self.fake.uri_path()

    # -- identifiers ---------------------------------------------------------------------
    def ssn(self) -> str:
        area = self.rng.choice([self.rng.randint(1, 665), self.rng.randint(667, 899)])
        return f"{area:03d}-{self.rng.randint(1, 99):02d}-{self.rng.randint(1, 9999):04d}"

    def mrn(self) -> str:
        return self.rng.choice([
            lambda: self.digits(8), lambda: "00" + self.digits(6),
            lambda: self.letters(1) + self.digits(7), lambda: f"{self.digits(3)}-{self.digits(4)}",
            lambda: f"{self.rng.randint(15, 23)}-{self.digits(6)}",
            lambda: self.digits(7), lambda: f"{self.digits(2)}-{self.digits(3)}-{self.digits(3)}",
        ])()

    def member_id(self) -> str:
        return self.rng.choice([
            lambda: self.letters(3) + self.digits(9), lambda: "W" + self.digits(9),
            lambda: f"{self.letters(3)}-{self.digits(5)}-{self.digits(2)}",
            lambda: self.letters(2) + self.digits(8), lambda: "XJH" + self.digits(8),
        ])()

    def group_no(self) -> str:
        return self.rng.choice([lambda: self.digits(6), lambda: f"GRP-{self.digits(5)}",
                                lambda: self.letters(1) + self.digits(5)])()

    def mbi(self) -> str:
        al = "ACDEFGHJKMNPQRTUVWXY"
        an = al + string.digits
        s = (str(self.rng.randint(1, 9)) + self.rng.choice(al) + self.rng.choice(an) +
             self.rng.choice(string.digits) + self.rng.choice(al) + self.rng.choice(an) +
             self.rng.choice(string.digits) + self.rng.choice(al) + self.rng.choice(al) +
             self.digits(2))
        return f"{s[:4]}-{s[4:7]}-{s[7:]}" if self.chance(0.5) else s

    def account(self) -> str:
        return self.rng.choice([
            lambda: self.digits(8), lambda: "00" + self.digits(7),
            lambda: f"{self.letters(2)}-{self.digits(7)}",
            lambda: f"{self.digits(4)}-{self.digits(4)}",
            lambda: f"ACCT-{self.digits(7)}", lambda: self.digits(10),
        ])()

    def card(self) -> str:
        kind = self.rng.choice(["visa", "visa", "mc", "mc2", "amex", "disc"])
        if kind == "visa":
            body = "4" + self.digits(14)
        elif kind == "mc":
            body = "5" + str(self.rng.randint(1, 5)) + self.digits(13)
        elif kind == "mc2":
            body = str(self.rng.randint(2221, 2720)) + self.digits(11)
        elif kind == "amex":
            body = self.rng.choice(["34", "37"]) + self.digits(12)
        else:
            body = "6011" + self.digits(11)
        n = body + luhn_check_digit(body)
        assert luhn_ok(n)
        sep = self.rng.choice(["", " ", "-", " "])
        if len(n) == 15:
            return sep.join([n[:4], n[4:10], n[10:]])
        return sep.join(n[i:i + 4] for i in range(0, 16, 4))

    def aba(self) -> str:
        while True:
            # Federal Reserve prefixes: 00-12, 21-32 (thrift), 61-72 (electronic), 80.
            prefix = self.rng.choice([*range(0, 13), *range(21, 33), *range(61, 73), 80])
            n = f"{prefix:02d}" + self.digits(7)
            if aba_ok(n):
                return n

    def iban(self) -> str:
        if self.chance(0.5):
            s = iban_with_check("DE", self.digits(8) + self.digits(10))
        else:
            s = iban_with_check("GB", self.letters(4) + self.digits(6) + self.digits(8))
        assert iban_ok(s)
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4)) if self.chance(0.5) else s

    def drivers_license(self) -> str:
        return self.rng.choice([
            lambda: self.letters(1) + self.digits(7),
            lambda: f"{self.letters(1)}{self.digits(3)}-{self.digits(4)}-{self.digits(4)}",
            lambda: f"{self.digits(3)} {self.digits(3)} {self.digits(3)}",
            lambda: self.digits(8),
            lambda: f"{self.letters(1)}{self.digits(3)}-{self.digits(3)}-{self.digits(2)}-"
                    f"{self.digits(3)}-{self.digits(1)}",
        ])()

    def passport(self) -> str:
        return self.rng.choice([lambda: self.letters(1) + self.digits(8),
                                lambda: self.digits(9)])()

    def npi(self) -> str:
        base = self.rng.choice("12") + self.digits(8)
        n = base + luhn_check_digit("80840" + base)
        assert luhn_ok("80840" + n)
        return n

    def dea(self, last: str) -> str:
        d6 = self.digits(6)
        second = last[0].upper() if last[0].isascii() and last[0].isalpha() else "9"
        return self.rng.choice("ABFGMPRX") + second + d6 + dea_check(d6)

    def med_license(self) -> str:
        return self.rng.choice([lambda: f"MD-{self.digits(5)}", lambda: "A" + self.digits(5),
                                lambda: "G" + self.digits(5), lambda: f"RN{self.digits(7)}",
                                lambda: f"{self.digits(2)}-{self.digits(6)}"])()

    def vin(self) -> str:
        wmi = self.rng.choice(VIN_WMI)
        vds = "".join(self.rng.choice(VIN_CHARS) for _ in range(5))
        year = self.rng.choice(VIN_YEAR)
        rest = "".join(self.rng.choice(VIN_CHARS) for _ in range(1)) + self.digits(6)
        return vin_check(wmi + vds + year + rest)

    def plate(self) -> str:
        return self.rng.choice([lambda: f"{self.rng.randint(1, 9)}{self.letters(3)}"
                                        f"{self.digits(3)}",
                                lambda: f"{self.letters(3)}-{self.digits(4)}",
                                lambda: f"{self.letters(3)} {self.digits(4)}",
                                lambda: f"{self.letters(2)}{self.digits(5)}"])()

    def serial(self) -> str:
        return self.rng.choice([
            lambda: f"{self.letters(2)}{self.digits(4)}-{self.digits(4)}{self.letters(1)}",
            lambda: f"SN-{self.hexs(4).upper()}-{self.digits(5)}",
            lambda: f"{self.letters(3)}{self.digits(6)}{self.letters(1)}",
            lambda: f"INS-{self.digits(5)}-{self.letters(1)}",
            lambda: f"{self.digits(4)}{self.letters(2)}{self.digits(4)}",
        ])()

    def udi(self) -> str:
        gtin = "008" + self.digits(10)
        gtin += str((10 - sum(int(c) * (3 if i % 2 == 0 else 1)
                              for i, c in enumerate(reversed(gtin))) % 10) % 10)
        yy, mm, dd = self.rng.randint(24, 29), self.rng.randint(1, 12), self.rng.randint(1, 28)
        exp = f"{yy}{mm:02d}{dd:02d}"
        return f"(01){gtin}(17){exp}(10){self.digits(7)}{self.letters(1)}"

    def imei(self) -> str:
        body = self.rng.choice(["35", "49", "86", "01"]) + self.digits(12)
        n = body + luhn_check_digit(body)
        return n if self.chance(0.7) else f"{n[:2]}-{n[2:8]}-{n[8:14]}-{n[14]}"

    def mac(self) -> str:
        b = [self.rng.randint(0, 255) for _ in range(6)]
        sep = self.rng.choice([":", ":", "-"])
        s = sep.join(f"{x:02x}" for x in b)
        return s.upper() if self.chance(0.4) else s

    def ipv4(self) -> str:
        return self.fake.ipv4_public() if self.chance(0.75) else self.fake.ipv4_private()

    def ipv6(self) -> str:
        if self.chance(0.3):
            return "fe80::" + ":".join(self.hexs(4).lstrip("0") or "0" for _ in range(4))
        a = ipaddress.IPv6Address(self.fake.ipv6())
        if self.chance(0.4):  # a typical compressed global address
            a = ipaddress.IPv6Address(int(a) & ~((1 << 64) - 1) | self.rng.randint(1, 0xffff))
            return a.compressed
        return a.exploded if self.chance(0.5) else a.compressed

    def other_id(self, kind: str) -> str:
        y = self.rng.randint(2018, 2024)
        return {
            "encounter": lambda: self.rng.choice([f"E{self.digits(7)}", f"ENC-{self.digits(8)}"]),
            "claim": lambda: self.rng.choice([f"CLM-{y}-{self.digits(5)}", f"C{self.digits(10)}"]),
            "accession": lambda: self.rng.choice([f"S{y % 100}-{self.digits(4)}",
                                                  f"ACC{self.digits(8)}"]),
            "patient": lambda: self.rng.choice([f"P-{self.digits(7)}", f"PID{self.digits(6)}"]),
        }[kind]()

    # -- dates ---------------------------------------------------------------------------
    @staticmethod
    def ordinal(n: int) -> str:
        suf = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suf}"

    def rand_date(self, start_year: int = 2017) -> dt.date:
        start = dt.date(start_year, 1, 1)
        return start + dt.timedelta(days=self.rng.randint(0, (self.TODAY - start).days))

    def rand_time(self) -> dt.time:
        return dt.time(self.rng.randint(0, 23), self.rng.randint(0, 59), self.rng.randint(0, 59))

    def date_pieces(self, d: dt.date, style: str | None = None) -> list[Piece]:
        """A date written one of many ways, as pieces (the span excludes a leading 'the')."""
        B, b = d.strftime("%B"), d.strftime("%b")
        m, dd, y = d.month, d.day, d.year
        style = style or self.rng.choice([
            "mdy", "mdy", "mdy_short", "mdy2", "iso", "iso", "d-b-y", "B d, y", "B dth, y",
            "b. d y", "d b y", "D B Y", "the dth of B y", "b-dd-y", "dmy_dots", "iso_slash",
        ])
        s = {
            "mdy": f"{m:02d}/{dd:02d}/{y}",
            "mdy_short": f"{m}/{dd}/{y}",
            "mdy2": f"{m}/{dd}/{y % 100:02d}",
            "iso": d.isoformat(),
            "iso_slash": f"{y}/{m:02d}/{dd:02d}",
            "d-b-y": f"{dd}-{b}-{y}",
            "B d, y": f"{B} {dd}, {y}",
            "B dth, y": f"{B} {self.ordinal(dd)}, {y}",
            "b. d y": f"{b}. {dd} {y}",
            "d b y": f"{dd:02d} {b} {y}",
            "D B Y": f"{dd:02d} {b.upper()} {y % 100:02d}",
            "the dth of B y": f"{self.ordinal(dd)} of {B} {y}",
            "b-dd-y": f"{b}-{dd:02d}-{y}",
            "dmy_dots": f"{dd:02d}.{m:02d}.{y}",
        }[style]
        if style == "the dth of B y":
            return [("the ", None), (s, "DATE")]
        return [(s, "DATE")]

    def date_noyear(self, d: dt.date) -> str:
        return self.rng.choice([f"{d.strftime('%B')} {self.ordinal(d.day)}",
                                f"{d.strftime('%B')} {d.day}", f"{d.strftime('%b')} {d.day}"])

    def datetime_str(self, d: dt.date) -> str:
        t = self.rand_time()
        return self.rng.choice([
            f"{d.isoformat()}T{t.isoformat()}Z", f"{d.isoformat()} {t.strftime('%H:%M')}",
            f"{d.month:02d}/{d.day:02d}/{d.year} {t.strftime('%H:%M')}",
            f"{d.month}/{d.day}/{d.year} {t.strftime('%I:%M %p').lstrip('0')}",
        ])

    # -- secrets -------------------------------------------------------------------------
    def aws_key_id(self) -> str:
        return self.rng.choice(["AKIA", "AKIA", "AKIA", "ASIA"]) + self.letters(
            16, string.ascii_uppercase + "234567")

    def aws_secret(self) -> str:
        return self.alnum(40, string.ascii_letters + string.digits + "/+")

    def github_token(self) -> str:
        return self.rng.choice(["ghp_", "ghp_", "gho_", "ghs_"]) + self.alnum(36)

    def gitlab_token(self) -> str:
        return "glpat-" + self.alnum(20, string.ascii_letters + string.digits + "_-")

    def slack_token(self) -> str:
        return (f"{self.rng.choice(['xoxb', 'xoxb', 'xoxp'])}-{self.digits(11)}-"
                f"{self.digits(13)}-{self.alnum(24)}")

    def stripe_key(self) -> str:
        return self.rng.choice(["sk_live_", "sk_live_", "rk_live_"]) + self.alnum(24)

    def google_key(self) -> str:
        return "AIza" + self.alnum(35, string.ascii_letters + string.digits + "_-")

    def jwt(self) -> str:
        def b64(obj) -> str:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        header = b64({"alg": self.rng.choice(["HS256", "RS256"]), "typ": "JWT"})
        payload = b64({"sub": self.hexs(12), "iat": 1709500000 + self.rng.randint(0, 10**6),
                       "scope": self.rng.choice(["read", "read write", "admin"])})
        sig = base64.urlsafe_b64encode(
            hashlib.sha256(self.hexs(16).encode()).digest()).rstrip(b"=").decode()
        return f"{header}.{payload}.{sig}"

    def password(self, url_safe: bool = False) -> str:
        alphabet = string.ascii_letters + string.digits + ("_-~" if url_safe else "!#$%^*_-+~")
        while True:
            p = self.alnum(self.rng.randint(14, 24), alphabet)
            if (any(c.isdigit() for c in p) and any(c.isupper() for c in p)
                    and any(c.islower() for c in p)):
                return p

    def pem_lines(self) -> list[str]:
        kind = self.rng.choice(["RSA PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY",
                                "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        raw = bytes(self.rng.randint(0, 255) for _ in range(48 * self.rng.randint(3, 6)))
        body = base64.b64encode(b"\x30\x82" + raw).decode()
        lines = [f"-----BEGIN {kind}-----"]
        lines += [body[i:i + 64] for i in range(0, len(body), 64)]
        lines.append(f"-----END {kind}-----")
        return lines

    def photo_b64(self) -> str:
        raw = bytes.fromhex("ffd8ffe000104a46494600010101004800480000ffdb0043") + bytes(
            self.rng.randint(0, 255) for _ in range(45))
        return base64.b64encode(raw).decode()

    def fingerprint_b64(self) -> str:
        raw = b"FMR\x00 20\x00\x00" + bytes(self.rng.randint(0, 255) for _ in range(33))
        return base64.b64encode(raw).decode()


# =============================================================================================
# Notes.
# =============================================================================================
PLACEHOLDER = re.compile(r"\{([A-Z0-9_]+)\}")


class NoteGen(Gen):
    """Clinical notes: a header sentence then a mix of PHI and PHI-free sentences."""

    def __init__(self, seed: int, stream: int = 1) -> None:
        super().__init__(seed, stream)
        self.pt: Persona
        self.dr: tuple[str, str]
        self.rel: tuple[str, str]
        self.reltype = "daughter"

    def new_note(self) -> None:
        self.pt = self.persona()
        self.dr = self.name_parts()
        rel_first = self.name_parts()[0]
        self.rel = (rel_first, self.pt.last if self.chance(0.6) else self.name_parts()[1])
        self.reltype = self.rng.choice(RELATIONS)

    def fill(self, key: str) -> list[Piece]:
        pt, rng = self.pt, self.rng
        if key == "PT":
            return self.fill(rng.choice(["PT_FULL", "PT_FULL", "PT_MIDDLE", "PT_LASTFIRST",
                                         "PT_UPPER"]))
        if key == "PT_FULL":
            return [(f"{pt.first} {pt.last}", "NAME")]
        if key == "PT_MIDDLE":
            return [(f"{pt.first} {pt.middle}. {pt.last}", "NAME")]
        if key == "PT_UPPER":
            return [(f"{pt.first} {pt.last}".upper(), "NAME")]
        if key == "PT_LASTFIRST":
            return [(f"{pt.last}, {pt.first}", "NAME")]
        if key == "PT_FIRST":
            return [(pt.first, "NAME")]
        if key == "PT_LAST":
            return [(pt.last, "NAME")]
        if key == "PT_TITLED":
            title = rng.choice(["Mr."] if pt.sex == "M" else ["Ms.", "Mrs."])
            if self.chance(0.3):
                return [(f"{title} ", None), (f"{pt.first} {pt.last}", "NAME")]
            return [(f"{title} ", None), (pt.last, "NAME")]
        if key == "PT_UUID":
            return [(self.uuid(), "OTHER_ID")]
        if key == "PTAGE":
            return [(str(pt.age), "AGE_OVER_89" if pt.age > 89 else None)]
        if key == "SEX":
            return [(rng.choice(["female", "woman"] if pt.sex == "F" else ["male", "man"]),
                     None)]
        if key == "DR":
            return self.fill(rng.choice(["DR_FULL", "DR_LAST"]))
        if key == "DR_FULL":
            return [(f"{self.dr[0]} {self.dr[1]}", "NAME")]
        if key == "DR_LAST":
            return [(self.dr[1], "NAME")]
        if key == "CRED":
            return [(rng.choice(CREDENTIALS), None)]
        if key == "REL_FULL":
            return [(f"{self.rel[0]} {self.rel[1]}", "NAME")]
        if key == "REL_FIRST":
            return [(self.rel[0], "NAME")]
        if key == "RELTYPE":
            return [(self.reltype, None)]
        if key == "DOB":
            return self.date_pieces(pt.dob)
        if key == "DATE":
            return self.date_pieces(self.rand_date())
        if key == "DATE_ISO":
            return self.date_pieces(self.rand_date(), "iso")
        if key == "DATE_LONG":
            return self.date_pieces(self.rand_date(), rng.choice(["B d, y", "B dth, y",
                                                                  "the dth of B y"]))
        if key == "DATE_NOYEAR":
            return [(self.date_noyear(self.rand_date()), "DATE")]
        if key == "DATETIME":
            return [(self.datetime_str(self.rand_date()), "DATE")]
        if key == "TIME":
            t = self.rand_time()
            return [(rng.choice([t.strftime("%H:%M"), t.strftime("%I:%M %p").lstrip("0")]),
                     None)]
        if key == "ADDR":
            return (self.fill("STREET") + [(", ", None)] + self.fill("CITY") +
                    [(", ", None)] + self.fill("STATE") + [(" ", None)] + self.fill("ZIP"))
        if key == "STREET":
            return [(pt.street, "LOCATION")]
        if key == "CITY":
            return [(pt.city, "LOCATION")]
        if key == "STATE":
            return [(pt.state, None)]
        if key == "ZIP":
            return [(pt.zip, "ZIP")]
        if key == "POBOX":
            return [(self.pobox(), "LOCATION")]
        if key == "PHONE":
            return [(pt.phone if self.chance(0.5) else self.phone(), "PHONE")]
        if key == "PHONE2":
            return [(self.phone(ext_ok=False), "PHONE")]
        if key == "FAX":
            return [(self.phone(ext_ok=False), "FAX")]
        if key == "EMAIL":
            return [(pt.email if self.chance(0.5) else self.email_for(*self.rel), "EMAIL")]
        if key == "EMAIL_DR":
            return [(self.email_for(*self.dr).split("@")[0] + "@" + self.fake.domain_name(),
                     "EMAIL")]
        if key == "URL":
            return [(self.url(pt.last if pt.last.isascii() and pt.last.isalpha() else None),
                     "URL")]
        simple = {
            "SSN": (self.ssn, "SSN"), "MRN": (self.mrn, "MRN"),
            "MEMBER": (self.member_id, "HEALTH_PLAN_ID"),
            "GROUP": (self.group_no, "HEALTH_PLAN_ID"),
            "MBI": (self.mbi, "HEALTH_PLAN_ID"), "ACCT": (self.account, "ACCOUNT_NUMBER"),
            "CARD": (self.card, "ACCOUNT_NUMBER"), "ABA": (self.aba, "ACCOUNT_NUMBER"),
            "IBAN": (self.iban, "ACCOUNT_NUMBER"), "DL": (self.drivers_license, "LICENSE_NUMBER"),
            "PASSPORT": (self.passport, "LICENSE_NUMBER"), "NPI": (self.npi, "LICENSE_NUMBER"),
            "MEDLIC": (self.med_license, "LICENSE_NUMBER"), "VIN": (self.vin, "VEHICLE_ID"),
            "PLATE": (self.plate, "VEHICLE_ID"), "SERIAL": (self.serial, "DEVICE_ID"),
            "UDI": (self.udi, "DEVICE_ID"), "IMEI": (self.imei, "DEVICE_ID"),
            "MAC": (self.mac, "DEVICE_ID"), "IPV4": (self.ipv4, "IP_ADDRESS"),
            "IPV6": (self.ipv6, "IP_ADDRESS"),
        }
        if key in simple:
            fn, typ = simple[key]
            return [(fn(), typ)]
        if key == "DEA":
            return [(self.dea(self.dr[1]), "LICENSE_NUMBER")]
        if key in ("ACCESSION", "CLAIM", "ENCOUNTER", "PATIENT_ID"):
            kind = {"ACCESSION": "accession", "CLAIM": "claim", "ENCOUNTER": "encounter",
                    "PATIENT_ID": "patient"}[key]
            return [(self.other_id(kind), "OTHER_ID")]
        plain = {
            "COND": lambda: rng.choice(CONDITIONS), "SYMPTOM": lambda: rng.choice(SYMPTOMS),
            "UNIT": lambda: rng.choice(UNITS_HOSP), "PAYER": lambda: rng.choice(PAYERS),
            "DRUG": lambda: " ".join(rng.choice(DRUGS)),
        }
        if key in plain:
            return [(plain[key](), None)]
        raise KeyError(f"unknown placeholder {{{key}}}")

    def render(self, doc: Doc, template: str) -> None:
        if "%d" in template:  # money amounts in a few templates
            template = template % (self.rng.randint(0, 4999), self.rng.randint(0, 99))
        pos = 0
        for m in PLACEHOLDER.finditer(template):
            doc.add(template[pos:m.start()])
            doc.extend(self.fill(m.group(1)))
            pos = m.end()
        doc.add(template[pos:])

    def note(self, n_sentences: int) -> Doc:
        self.new_note()
        doc = Doc()
        self.render(doc, self.rng.choice(NOTE_HEADERS))
        # Draw without repetition inside one note.
        phi = self.rng.sample(NOTE_TEMPLATES, n_sentences)
        clean = self.rng.sample(CLEAN_CLINICAL, n_sentences)
        for i in range(n_sentences):
            doc.add(" ")
            if self.chance(0.55):
                self.render(doc, phi[i])
            else:
                doc.add(clean[i])
        return doc


def gen_notes(seed: int, count: int, min_s: int = 4, max_s: int = 10) -> list[dict]:
    g = NoteGen(seed, 1)
    return [g.note(g.rng.randint(min_s, max_s)).record(f"notes-{i + 1}") for i in range(count)]


# =============================================================================================
# Logs.
# =============================================================================================
LEVELS = ["INFO"] * 12 + ["DEBUG"] * 4 + ["WARN"] * 3 + ["ERROR"] * 2 + ["TRACE"]
LOGGERS = ["c.e.api.PatientController", "c.e.billing.ClaimService", "o.h.engine.jdbc.SQL",
           "c.e.sched.ReminderJob", "c.e.auth.LoginFilter", "c.e.fhir.BundleWriter",
           "o.s.web.servlet.DispatcherServlet", "c.e.cache.RedisStore",
           "c.e.integration.HL7Listener", "c.e.export.CsvExporter"]
PROCS = ["nginx", "sshd", "kubelet", "dockerd", "postgres", "cron", "systemd", "haproxy"]
SERVICES = ["api", "billing", "scheduler", "auth", "ingest", "fhir-gw", "export", "notify"]
PATHS = ["/api/v1/orders", "/api/v2/items", "/healthz", "/metrics", "/api/v1/reports",
         "/static/js/app.{h}.js", "/api/v1/schedules", "/api/v2/inventory", "/login",
         "/api/v1/search", "/api/v1/jobs/{h}", "/assets/img/logo.{h}.png", "/readyz"]
METHODS = ["GET"] * 6 + ["POST"] * 3 + ["PUT", "DELETE", "PATCH"]
STATUS = [200] * 14 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 409, 429, 500, 502, 503]
UAS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.4.0", "kube-probe/1.28",
       "python-requests/2.31.0", "Go-http-client/1.1", "okhttp/4.12.0"]
CAP_PHRASES = ["Connection Reset by peer", "Will retry", "May be stale", "Mark Sweep completed",
               "Young Gen collection", "Grace Period expired", "Long Poll timeout",
               "Rose Tree rebuilt", "Bill Run scheduled", "Chase Redirect disabled",
               "Hope Handler registered", "Green Blue deploy switch", "King Pin rotated",
               "Summer Time adjustment skipped", "Park Worker idle", "Hunter Loop stopped",
               "Faith Check ok", "Frank Error handler", "Jack Plug probe", "Penny Cache warm"]


def fld(key: str, text: str, typ: str | None = None) -> tuple[str, list[Piece]]:
    """A log field whose value is a single piece."""
    return (key, [(text, typ)])


class LogGen(Gen):
    """Application log lines. ``dated`` decides whether timestamps carry a date."""

    def __init__(self, seed: int, stream: int, dated: bool) -> None:
        super().__init__(seed, stream)
        self.dated = dated
        self.t = dt.datetime(2024, 3, 4, 8, 0, 0) + dt.timedelta(
            seconds=self.rng.randint(0, 86400 * 30))
        self.pending: list[str] = []  # queued raw lines (PEM bodies)

    def tick(self) -> dt.datetime:
        self.t += dt.timedelta(milliseconds=self.rng.randint(1, 4000))
        return self.t

    def host(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            return f"worker-{self.rng.randint(1, 40)}"
        if r < 0.55:
            pod = self.alnum(5, string.ascii_lowercase + string.digits)
            return f"{self.rng.choice(SERVICES)}-{self.hexs(9)}-{pod}"
        if r < 0.8:
            return f"web-{self.rng.randint(1, 12):02d}"
        return f"db-prod-{self.rng.randint(1, 4)}"

    # -- non-PHI message bodies: list of fields (key, pieces) or ("msg", pieces) ---------
    def noise_fields(self) -> list[tuple[str, list[Piece]]]:
        rng = self.rng
        path = rng.choice(PATHS).replace("{h}", self.hexs(8))
        if path.endswith(("orders", "items", "reports", "inventory")):
            path += f"/{rng.randint(1, 999999)}"
        k = rng.randint(0, 15)
        size = rng.choice([rng.randint(80, 999), rng.randint(1000, 99999),
                           rng.randint(10**5, 10**7)])
        if k <= 4:
            return [fld("msg", f"{rng.choice(METHODS)} {path} {rng.choice(STATUS)}"),
                    fld("size", str(size)), fld("dur", f"{rng.randint(1, 3000)}ms"),
                    fld("request_id", self.hexs(12))]
        if k == 5:
            return [fld("msg", "cache miss"), fld("key", f"sess:{self.hexs(24)}"),
                    fld("ttl", f"{rng.randint(1, 3600)}s")]
        if k == 6:
            return [fld("msg", f"retrying upstream request attempt={rng.randint(1, 5)}"),
                    fld("backoff", f"{rng.randint(10, 5000)}ms"),
                    fld("upstream", f"{rng.choice(SERVICES)}:{rng.choice([80, 443, 8080, 9090])}")]
        if k == 7:
            return [fld("msg", rng.choice(CAP_PHRASES)),
                    fld("thread", f"pool-{rng.randint(1, 9)}-thread-{rng.randint(1, 64)}")]
        if k == 8:
            return [fld("msg", "slow query"), fld("duration", f"{rng.randint(500, 30000)}ms"),
                    fld("table", rng.choice(["encounters", "orders", "audit_log", "jobs"])),
                    fld("rows", str(rng.randint(0, 500000)))]
        if k == 9:
            return [fld("msg", "uploaded object"), fld("sha256", self.hexs(64)),
                    fld("bytes", str(size))]
        if k == 10:
            job = rng.choice(["reindex", "nightly-export", "gc-sweep", "reconcile"])
            return [fld("msg", "job finished"), fld("job", job),
                    fld("trace_id", self.hexs(32)), fld("processed", str(rng.randint(0, 10**6))),
                    fld("elapsed", f"{rng.uniform(0.01, 900):.3f}s")]
        if k == 11:
            v = ".".join(str(rng.randint(0, hi)) for hi in (12, 40, 20, 9999))
            return [fld("msg", "service started"), fld("version", v),
                    fld("build", self.hexs(7)), fld("pid", str(rng.randint(100, 99999)))]
        if k == 12:
            return [fld("msg", "event published"), fld("event_id", self.uuid()),
                    fld("topic", rng.choice(["orders.v1", "audit", "metrics", "jobs.retry"])),
                    fld("offset", str(rng.randint(10**8, 10**10)))]
        if k == 13:
            return [fld("msg", "GC pause"), fld("young_ms", str(rng.randint(1, 300))),
                    fld("heap_used", f"{rng.randint(100, 8000)}M"),
                    fld("seq", str(rng.randint(10**8, 10**9 - 1)))]
        if k == 14:
            return [fld("msg", "health check ok"), fld("latency_us", str(rng.randint(50, 99999))),
                    fld("checks", str(rng.randint(1, 12)))]
        return [fld("msg", "connection pool stats"), fld("active", str(rng.randint(0, 64))),
                fld("idle", str(rng.randint(0, 64))), fld("waiters", str(rng.randint(0, 9))),
                fld("conn_id", self.uuid())]

    # -- PHI bodies ----------------------------------------------------------------------
    def phi_fields(self) -> list[tuple[str, list[Piece]]]:
        rng = self.rng
        p = self.persona()
        full = f"{p.first} {p.last}"
        k = rng.randint(0, 17)
        rid = fld("request_id", self.hexs(12))
        if k == 0:
            return [fld("msg", "patient lookup"), fld("mrn", self.mrn(), "MRN"), rid]
        if k == 1:
            return [fld("msg", "registration created"), fld("patient_name", full, "NAME"),
                    ("dob", self.date_pieces(p.dob, rng.choice(["iso", "iso", "mdy"]))),
                    fld("phone", self.phone(ext_ok=False) if self.chance(0.6)
                        else self.phone_digits(), "PHONE")]
        if k == 2:
            return [fld("msg", "eligibility check"),
                    fld("member_id", self.member_id(), "HEALTH_PLAN_ID"),
                    fld("payer", rng.choice(PAYERS)), rid]
        if k == 3:
            return [fld("msg", "address updated"),
                    ("address", [(p.street, "LOCATION"), (", ", None), (p.city, "LOCATION"),
                                 (", ", None), (p.state, None), (" ", None), (p.zip, "ZIP")])]
        if k == 4:
            return [fld("msg", "login ok"), fld("email", p.email, "EMAIL"),
                    fld("client_ip", self.ipv4() if self.chance(0.8) else self.ipv6(),
                        "IP_ADDRESS")]
        if k == 5:
            ssn = self.ssn()
            if self.chance(0.25):
                ssn = ssn.replace("-", "")
            return [fld("msg", "export row"), fld("ssn", ssn, "SSN"),
                    fld("first_name", p.first, "NAME"), fld("last_name", p.last, "NAME")]
        if k == 6:
            return [fld("msg", "device paired"), fld("device_id", self.serial(), "DEVICE_ID"),
                    fld("mac", self.mac(), "DEVICE_ID")]
        if k == 7:
            return [("msg", [("appointment reminder sent to ", None), (full, "NAME"),
                             (" at ", None), (self.phone(ext_ok=False), "PHONE")]), rid]
        if k == 8:
            return [fld("msg", "claim submitted"),
                    fld("claim_id", self.other_id("claim"), "OTHER_ID"),
                    fld("account", self.account(), "ACCOUNT_NUMBER")]
        if k == 9:
            return [fld("msg", "age check"),
                    fld("age", str(p.age), "AGE_OVER_89" if p.age > 89 else None),
                    fld("patient_id", self.uuid(), "OTHER_ID")]
        if k == 10:
            return [fld("msg", "payment authorized"),
                    fld("card", self.card().replace(" ", ""), "ACCOUNT_NUMBER"),
                    fld("amount", f"{rng.randint(5, 900)}.{rng.randint(0, 99):02d}")]
        if k == 11:
            dr = self.name_parts()
            return [fld("msg", "provider resolved"), fld("npi", self.npi(), "LICENSE_NUMBER"),
                    fld("provider", f"{dr[0]} {dr[1]}", "NAME")]
        if k == 12:
            return [fld("msg", "fhir bundle written"),
                    fld("patient_id", self.other_id("patient"), "OTHER_ID"),
                    fld("encounter_id", self.other_id("encounter"), "OTHER_ID"),
                    fld("zip", p.zip, "ZIP")]
        if k == 13:
            return [fld("msg", "portal link generated"), fld("url", self.url(), "URL"), rid]
        if k == 14:
            return [fld("msg", "fax queued"), fld("fax", self.phone(ext_ok=False), "FAX"),
                    fld("recipient", f"{self.name_parts()[0]} {self.name_parts()[1]}", "NAME")]
        if k == 15:
            return [fld("msg", "vehicle record"), fld("vin", self.vin(), "VEHICLE_ID"),
                    fld("imei", self.imei().replace("-", ""), "DEVICE_ID")]
        if k == 16:
            return [fld("msg", "enrollment"),
                    fld("fingerprint_template", self.fingerprint_b64(), "BIOMETRIC"),
                    fld("subject", self.other_id("patient"), "OTHER_ID")]
        return [fld("msg", "profile photo stored"), fld("photo", self.photo_b64(), "PHOTO"),
                fld("mrn", self.mrn(), "MRN")]

    # -- secret bodies -------------------------------------------------------------------
    def secret_fields(self) -> list[tuple[str, list[Piece]]]:
        rng = self.rng
        k = rng.randint(0, 10)
        if k == 0:
            return [fld("msg", "using static credentials"),
                    fld("aws_access_key_id", self.aws_key_id(), "SECRET")]
        if k == 1:
            return [fld("msg", "loaded env"),
                    fld("aws_secret_access_key", self.aws_secret(), "SECRET")]
        if k == 2:
            return [fld("msg", "git fetch"), fld("GITHUB_TOKEN", self.github_token(), "SECRET")]
        if k == 3:
            return [fld("msg", "slack notify"), fld("token", self.slack_token(), "SECRET"),
                    fld("channel", f"#{rng.choice(['alerts', 'ops', 'deploys'])}")]
        if k == 4:
            return [fld("msg", "payment client init"),
                    fld("stripe_key", self.stripe_key(), "SECRET")]
        if k == 5:
            return [fld("msg", "geocoder ready"), fld("api_key", self.google_key(), "SECRET")]
        if k == 6:
            return [fld("msg", "auth header"),
                    ("authorization", [("Bearer ", None), (self.jwt(), "SECRET")])]
        if k == 7:
            return [fld("msg", "config loaded"), fld("db_user", "app"),
                    fld("password", self.password(), "SECRET")]
        if k == 8:
            user = rng.choice(["app", "ehr_rw", "postgres", "svc_billing"])
            host = f"db-{rng.randint(1, 9)}.internal"
            secret = self.password(url_safe=True)
            db = rng.choice(["ehr", "billing", "app"])
            return [fld("msg", "connecting"),
                    ("dsn", [(f"postgres://{user}:", None), (secret, "SECRET"),
                             (f"@{host}:5432/{db}", None)])]
        if k == 9:
            return [fld("msg", "registry login"),
                    fld("GITLAB_TOKEN", self.gitlab_token(), "SECRET")]
        return [fld("msg", "signing key loaded; dumping key material (debug)")]  # + PEM

    # -- rendering -----------------------------------------------------------------------
    def timestamp(self, doc: Doc, style: str) -> None:
        t = self.tick()
        ms = t.microsecond // 1000
        if not self.dated:
            if style == "epoch" or (style != "iso" and self.chance(0.5)):
                doc.add(str(int(t.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)))
            else:
                doc.add(f"{t:%H:%M:%S}.{ms:03d}")
            return
        if style == "iso":
            doc.add(f"{t:%Y-%m-%dT%H:%M:%S}.{ms:03d}Z", "DATE")
        elif style == "java":
            doc.add(f"{t:%Y-%m-%d %H:%M:%S},{ms:03d}", "DATE")
        elif style == "syslog":
            doc.add(f"{t:%b} {t.day:>2} {t:%H:%M:%S}", "DATE")
        elif style == "epoch":
            doc.add(str(int(t.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)))
        else:
            doc.add(f"{t:%Y-%m-%dT%H:%M:%S}.{ms:03d}Z", "DATE")

    @staticmethod
    def kv(doc: Doc, fields, json_like: bool = False) -> None:
        """Render fields as ``key=value`` (logfmt) or as a JSON object's members."""
        for i, (key, pieces) in enumerate(fields):
            value = "".join(p[0] for p in pieces)
            if json_like:
                doc.add(", " if i else "")
                is_num = re.fullmatch(r"-?\d{1,9}", value) is not None and key not in (
                    "mrn", "ssn", "phone", "zip", "account", "npi", "card", "imei")
                enc = json.dumps(value, ensure_ascii=False)
                if is_num:
                    doc.add(f'"{key}": ').extend(pieces)
                    continue
                if enc[1:-1] != value:  # needs escaping: never the case for labelled values
                    assert all(p[1] is None for p in pieces), value
                    doc.add(f'"{key}": {enc}')
                    continue
                doc.add(f'"{key}": "').extend(pieces).add('"')
            else:
                doc.add(" " if i else "")
                quote = '"' if (" " in value or "," in value or not value) else ""
                doc.add(f"{key}={quote}").extend(pieces).add(quote)

    def line(self, fields, doc: Doc | None = None) -> Doc:
        rng = self.rng
        doc = doc or Doc()
        style = rng.choice(["iso"] * 7 + ["java"] * 4 + ["json"] * 4 + ["logfmt"] * 2 +
                           ["syslog"] * 2 + ["epoch"])
        level = rng.choice(LEVELS)
        msg = next((p for k, p in fields if k == "msg"), [("event", None)])
        rest = [(k, p) for k, p in fields if k != "msg"]
        if style == "json":
            doc.add('{"ts": ')
            quoted = self.dated or self.chance(0.5)
            doc.add('"' if quoted else "")
            self.timestamp(doc, "iso" if quoted else "epoch")
            doc.add('", ' if quoted else ", ")
            doc.add(f'"level": "{level.lower()}", "host": "{self.host()}", ')
            self.kv(doc, [("msg", msg)] + rest, json_like=True)
            doc.add("}")
        elif style == "logfmt":
            doc.add("ts=")
            self.timestamp(doc, "iso")
            doc.add(f" level={level.lower()} svc={rng.choice(SERVICES)} ")
            self.kv(doc, [("msg", msg)] + rest)
        elif style == "syslog":
            self.timestamp(doc, "syslog")
            doc.add(f" {self.host()} {rng.choice(PROCS)}[{rng.randint(100, 65535)}]: ")
            doc.extend(msg)
            if rest:
                doc.add(" ")
                self.kv(doc, rest)
        elif style == "java":
            self.timestamp(doc, "java")
            doc.add(f" {level:<5} [pool-{rng.randint(1, 8)}-thread-{rng.randint(1, 32)}] "
                    f"{rng.choice(LOGGERS)} - ")
            doc.extend(msg)
            if rest:
                doc.add(" ")
                self.kv(doc, rest)
        else:
            self.timestamp(doc, style)
            doc.add(f" {level} [{self.host()}] ")
            doc.extend(msg)
            if rest:
                doc.add(" ")
                self.kv(doc, rest)
        return doc

    def access_line(self, planted: bool) -> Doc:
        """nginx/Apache combined log line; the client IP is planted only in labelled logs."""
        rng = self.rng
        doc = Doc()
        if planted:
            doc.add(self.ipv4(), "IP_ADDRESS")
        else:
            doc.add("-")
        doc.add(" - - [")
        t = self.tick()
        if self.dated:
            doc.add(f"{t:%d/%b/%Y:%H:%M:%S} +0000", "DATE")
        else:
            doc.add(f"{t:%H:%M:%S} +0000")
        path = rng.choice(PATHS).replace("{h}", self.hexs(8))
        doc.add(f'] "{rng.choice(METHODS)} {path} HTTP/1.1" {rng.choice(STATUS)} '
                f'{rng.randint(0, 200000)} "-" "{rng.choice(UAS)}" rt={rng.uniform(0, 3):.3f}')
        return doc

    def next_doc(self, p_phi: float = 0.18, p_secret: float = 0.05) -> Doc:
        if self.pending:
            doc = Doc()
            doc.add(self.pending.pop(0), "SECRET" if self.dated else None)
            return doc
        r = self.rng.random()
        if not self.dated:
            if r < 0.04:
                return self.access_line(planted=False)
            return self.line(self.noise_fields() + self.trap_fields())
        if r < 0.03:
            return self.access_line(planted=True)
        if r < 0.03 + p_phi:
            return self.line(self.phi_fields())
        if r < 0.03 + p_phi + p_secret:
            fields = self.secret_fields()
            if fields[0][1][0][0].startswith("signing key loaded"):
                self.pending = self.pem_lines()
            return self.line(fields)
        return self.line(self.noise_fields())

    def trap_fields(self) -> list[tuple[str, list[Piece]]]:
        """Look-alikes for the clean corpus: never identifiers."""
        rng = self.rng
        if not self.chance(0.35):
            return []
        k = rng.randint(0, 7)
        if k == 0:
            return [fld("bytes", str(rng.randint(10**8, 10**9 - 1)))]  # nine digits
        if k == 1:
            return [fld("offset", str(rng.randint(10**9, 10**10 - 1)))]  # ten digits
        if k == 2:
            return [fld("seq", str(rng.randint(10**15, 10**16 - 1)))]  # sixteen digits
        if k == 3:
            v = ".".join(str(rng.randint(0, 30)) for _ in range(4))
            return [fld("version", v)]
        if k == 4:
            return [fld("etag", self.hexs(32))]
        if k == 5:
            return [fld("span", self.hexs(16)), fld("parent", self.hexs(16))]
        if k == 6:
            return [fld("note", rng.choice(CAP_PHRASES))]
        return [fld("ratio", f"{rng.randint(1, 9)}/{rng.randint(10, 99)}"),
                fld("build", f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}")]


def gen_logs(seed: int, count: int, p_phi: float = 0.18, p_secret: float = 0.05) -> list[dict]:
    g = LogGen(seed, 2, dated=True)
    return [g.next_doc(p_phi, p_secret).record(f"logs-{i + 1}") for i in range(count)]


def gen_clean(seed: int, count: int) -> list[dict]:
    g = LogGen(seed, 3, dated=False)
    out = []
    for i in range(count):
        rec = g.next_doc().record(f"clean-{i + 1}")
        assert not rec["spans"]
        out.append(rec)
    return out


# =============================================================================================
# Output.
# =============================================================================================
def write_pair(out: Path, text_name: str, gold_name: str, docs: list[dict],
               compact: bool = False) -> tuple[int, int]:
    for d in docs:
        assert "\n" not in d["text"] and "\r" not in d["text"], d["id"]
    text = "\n".join(d["text"] for d in docs) + "\n"
    (out / text_name).write_text(text, encoding="utf-8", newline="\n")
    sep = (",", ":") if compact else (", ", ": ")
    gold = "".join(json.dumps(d, ensure_ascii=False, separators=sep) + "\n" for d in docs)
    (out / gold_name).write_text(gold, encoding="utf-8", newline="\n")
    return len(text.encode()), len(gold.encode())


def summarize(name: str, docs: list[dict], sizes: tuple[int, int]) -> None:
    counts: dict[str, int] = {}
    for d in docs:
        for s in d["spans"]:
            counts[s["type"]] = counts.get(s["type"], 0) + 1
    avg = sizes[0] / max(1, len(docs))
    by_type = ", ".join(f"{t}={counts[t]}" for t in TYPES if t in counts) or "no spans"
    print(f"{name}: {len(docs)} docs, {sizes[0]} + {sizes[1]} bytes (avg {avg:.0f} B/line); "
          f"{by_type}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate labelled synthetic PHI/secret corpora.")
    ap.add_argument("--out", type=Path, help="output folder for a full corpus")
    ap.add_argument("--fixtures", type=Path, metavar="DIR",
                    help="write the small committed fixtures into DIR instead")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--notes", type=int, default=2000)
    ap.add_argument("--logs", type=int, default=20000)
    ap.add_argument("--clean-lines", type=int, default=20000)
    args = ap.parse_args(argv)
    if not args.out and not args.fixtures:
        ap.error("give --out DIR or --fixtures DIR")

    if args.fixtures:
        out: Path = args.fixtures
        out.mkdir(parents=True, exist_ok=True)
        jobs = [
            ("sample_notes.txt", "sample_notes.gold.jsonl", gen_notes(args.seed, 30, 2, 4)),
            # denser in identifiers than the full corpus, so 200 lines cover every type
            ("sample_app.log", "sample_app.gold.jsonl", gen_logs(args.seed, 200, 0.4, 0.12)),
            ("clean.log", "clean.gold.jsonl", gen_clean(args.seed, 200)),
        ]
        total = 0
        for tname, gname, docs in jobs:
            sizes = write_pair(out, tname, gname, docs, compact=True)
            total += sum(sizes)
            summarize(tname, docs, sizes)
        print(f"fixtures total: {total} bytes in {out}")
        return 0

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    for tname, gname, docs in [
        ("notes.txt", "notes.gold.jsonl", gen_notes(args.seed, args.notes)),
        ("logs.txt", "logs.gold.jsonl", gen_logs(args.seed, args.logs)),
        ("clean.txt", "clean.gold.jsonl", gen_clean(args.seed, args.clean_lines)),
    ]:
        summarize(tname, docs, write_pair(out, tname, gname, docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
