#!/usr/bin/env python3
"""Measure phiscrub's detection against gold-labelled corpora (standard library only).

Usage::

    cargo build --release
    python3 scripts/gen_corpus.py --out /tmp/corpus            # optional, a large corpus
    python3 scripts/eval.py [--bin target/release/phiscrub] [--corpus /tmp/corpus] \\
                            [--shared ../shared/corpora] [--min-score 0.5] [--json out.json] \\
                            [--examples 5]

What is scored:

* ``--corpus DIR`` (default: the committed fixtures in ``testdata/``): every ``X.gold.jsonl`` in
  DIR with its text file ``X.txt`` / ``X.log`` (line n of the text file is document n of the
  gold file). Corpora named ``clean*`` are PHI-free: see below.
* ``--shared DIR`` (default ``../shared/corpora`` next to the repository): public corpora, when
  the folder exists, read as documented in its README: ``text/physionet_dev.jsonl``,
  ``text/meddocan_dev.jsonl``, ``text/presidio_synth_dataset_v2.json``. Each document's text is
  written on one line of a temporary file (``\\n`` and ``\\r`` replaced by spaces, one
  character for one, so offsets are unchanged) and their labels are mapped to phiscrub's
  entities (tables ``PHYSIONET``, ``MEDDOCAN``, ``PRESIDIO`` below). Gold spans mapped to
  ``IGNORE`` (a year alone, an age of 89 or under, country, sex, profession, hospital names, ...)
  are neither misses nor hits: a finding overlapping one is dropped from precision.

The binary is run as ``BIN scan --report jsonl --min-score S FILE``; it prints one JSON object
per finding with BYTE offsets ``start``/``end`` from the start of the file (end exclusive). Exit
code 0 (nothing found) and 1 (findings) are success, anything else is an error. Byte offsets are
converted to per-line CHARACTER offsets (the gold offsets are characters; the files are UTF-8).
A finding that spans several lines (a PEM block) is cut into one segment per line and still
counts as one prediction.

Scoring, per entity type:

* recall: a gold span is found if a finding of the same entity overlaps it (any overlap);
  "any-entity recall" counts a finding of any entity.
* precision: a finding is correct if it overlaps a gold span of the same entity; "precision
  ignoring type" accepts a gold span of any entity.
* micro averages over all entities.
* clean corpora (``clean*``, every span list empty): false positives per 10,000 lines, as the
  number of findings and the number of lines with at least one finding, by entity and by rule.
  gen_corpus.py gives clean corpora timestamps without a date (epoch millis, time of day), so
  there every finding, DATE included, is a false positive.

Exit status: 0 when every scan ran, 2 when the binary is missing or a scan failed.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = (
    "NAME", "LOCATION", "ZIP", "DATE", "AGE_OVER_89", "PHONE", "FAX", "EMAIL", "SSN", "MRN",
    "HEALTH_PLAN_ID", "ACCOUNT_NUMBER", "LICENSE_NUMBER", "VEHICLE_ID", "DEVICE_ID", "URL",
    "IP_ADDRESS", "BIOMETRIC", "PHOTO", "OTHER_ID", "SECRET",
)
IGNORE = "IGNORE"

# --------------------------------------------------------------------------------------------
# Label mappings for the public corpora. A value is an entity, IGNORE, or a function of the
# span text returning one of those. Labels not listed map to IGNORE.
# --------------------------------------------------------------------------------------------


def _first_int(text: str) -> int | None:
    m = re.search(r"\d+", text)
    return int(m.group()) if m else None


def age_label(text: str) -> str:
    """An age is PHI only over 89; months, ages under 90 and unreadable ones are ignored."""
    n = _first_int(text)
    if n is None or re.search(r"(?i)\b(mes|meses|month|months|semana|d[ií]as?)\b", text):
        return IGNORE
    return "AGE_OVER_89" if n > 89 else IGNORE


def date_label(text: str) -> str:
    """A date more precise than the year; a year alone or a weekday alone is ignored."""
    t = text.strip()
    if not re.search(r"\d", t) or re.fullmatch(r"'?\d{2,4}", t):
        return IGNORE
    return "DATE"


def territory_label(text: str) -> str:
    """MEDDOCAN TERRITORIO holds cities, provinces and postal codes."""
    return "ZIP" if re.fullmatch(r"\d{5}", text.strip()) else "LOCATION"


PHYSIONET = {
    "HCPName": "NAME", "PTName": "NAME", "RelativeProxyName": "NAME", "PTNameInitial": "NAME",
    "Date": "DATE", "DateYear": IGNORE, "Location": "LOCATION", "Phone": "PHONE",
    "Age": age_label, "Other": "OTHER_ID",
}
MEDDOCAN = {
    "CORREO_ELECTRONICO": "EMAIL", "NUMERO_TELEFONO": "PHONE", "NUMERO_FAX": "FAX",
    "FECHAS": "DATE", "NOMBRE_SUJETO_ASISTENCIA": "NAME", "NOMBRE_PERSONAL_SANITARIO": "NAME",
    "CALLE": "LOCATION", "TERRITORIO": territory_label, "ID_SUJETO_ASISTENCIA": "MRN",
    "ID_ASEGURAMIENTO": "HEALTH_PLAN_ID", "ID_TITULACION_PERSONAL_SANITARIO": "LICENSE_NUMBER",
    "EDAD_SUJETO_ASISTENCIA": age_label,
    # "obviously ours" (rare or absent in the dev split):
    "ID_CONTACTO_ASISTENCIAL": "OTHER_ID", "NUMERO_IDENTIF": "OTHER_ID", "URL_WEB": "URL",
    "DIRECCION_IP": "IP_ADDRESS", "IDENTIF_VEHICULOS_NRSERIE_PLACAS": "VEHICLE_ID",
    "IDENTIF_DISPOSITIVOS_NRSERIE": "DEVICE_ID", "IDENTIF_BIOMETRICOS": "BIOMETRIC",
    # not PHI, or optional: PAIS, SEXO_SUJETO_ASISTENCIA, PROFESION, HOSPITAL, INSTITUCION,
    # CENTRO_SALUD, FAMILIARES_SUJETO_ASISTENCIA, OTROS_SUJETO_ASISTENCIA,
    # ID_EMPLEO_PERSONAL_SANITARIO -> IGNORE (default)
}
PRESIDIO = {
    "PERSON": "NAME", "STREET_ADDRESS": "LOCATION", "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL", "US_SSN": "SSN", "CREDIT_CARD": "ACCOUNT_NUMBER",
    "IBAN_CODE": "ACCOUNT_NUMBER", "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "LICENSE_NUMBER", "DATE_TIME": date_label,
    # "obviously ours", beyond the brief's list:
    "ZIP_CODE": "ZIP", "AGE": age_label,
    # GPE (countries and cities mixed), ORGANIZATION, TITLE, NRP, DOMAIN_NAME -> IGNORE
}


def map_label(table: dict, label: str, text: str) -> str:
    v = table.get(label, IGNORE)
    return v(text) if callable(v) else v


# --------------------------------------------------------------------------------------------
# Data model.
# --------------------------------------------------------------------------------------------
@dataclass
class Gold:
    doc: int
    start: int
    end: int
    type: str  # an entity or IGNORE
    text: str = ""


@dataclass
class Finding:
    entity: str
    rule: str
    score: float
    segments: list = field(default_factory=list)  # [(doc, start_char, end_char)]


@dataclass
class Corpus:
    name: str
    texts: list            # document texts (one line each)
    gold: list             # [Gold]
    path: Path | None = None  # text file to scan as is (else a temp file is written)
    clean: bool = False
    source: str = ""


# --------------------------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------------------------
def load_gold_jsonl(path: Path, name: str, mapping: dict | None = None,
                    text_file: Path | None = None) -> Corpus:
    texts, gold = [], []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            d = json.loads(line)
            text = d["text"]
            texts.append(text)
            doc = len(texts) - 1
            for s in d.get("spans", []):
                typ = s["type"] if mapping is None else map_label(
                    mapping, s["type"], text[s["start"]:s["end"]])
                gold.append(Gold(doc, s["start"], s["end"], typ, text[s["start"]:s["end"]]))
    return Corpus(name, texts, gold, path=text_file, source=str(path))


def load_presidio(path: Path) -> Corpus:
    texts, gold = [], []
    for d in json.loads(path.read_text(encoding="utf-8")):
        text = d["full_text"]
        texts.append(text)
        doc = len(texts) - 1
        for s in d.get("spans", []):
            st, en = s["start_position"], s["end_position"]
            gold.append(Gold(doc, st, en, map_label(PRESIDIO, s["entity_type"], text[st:en]),
                             text[st:en]))
    return Corpus("presidio_synth", texts, gold, source=str(path))


def discover_local(corpus_dir: Path) -> list[Corpus]:
    """Every ``X.gold.jsonl`` in the folder, with its text file when one matches."""
    out = []
    for gpath in sorted(corpus_dir.glob("*.gold.jsonl")):
        stem = gpath.name[: -len(".gold.jsonl")]
        text_file = next((corpus_dir / (stem + ext) for ext in (".txt", ".log", "")
                          if (corpus_dir / (stem + ext)).is_file()), None)
        c = load_gold_jsonl(gpath, stem, text_file=text_file)
        if text_file is not None:
            lines = text_file.read_bytes().decode("utf-8").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if [l.rstrip("\r") for l in lines] != c.texts:
                print(f"warning: {text_file} does not match {gpath} line for line; "
                      f"scanning a file written from the gold texts instead", file=sys.stderr)
                c.path = None
        c.clean = stem.startswith("clean") and not any(g.type != IGNORE for g in c.gold)
        out.append(c)
    return out


def discover_shared(shared: Path) -> list[Corpus]:
    out = []
    text = shared / "text"
    for fname, name, table in (("physionet_dev.jsonl", "physionet_dev", PHYSIONET),
                               ("meddocan_dev.jsonl", "meddocan_dev", MEDDOCAN)):
        p = text / fname
        if p.is_file():
            out.append(load_gold_jsonl(p, name, mapping=table))
        else:
            print(f"note: {p} not found, skipped")
    p = text / "presidio_synth_dataset_v2.json"
    if p.is_file():
        out.append(load_presidio(p))
    else:
        print(f"note: {p} not found, skipped")
    for c in out:  # text files for these are always written by us
        c.path = None
    return out


# --------------------------------------------------------------------------------------------
# Running the binary and mapping byte offsets to (document, character offset).
# --------------------------------------------------------------------------------------------
class LineIndex:
    """Byte offset -> (line, character offset in that line) for a UTF-8 file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.starts = [0]
        pos = data.find(b"\n")
        while pos != -1:
            self.starts.append(pos + 1)
            pos = data.find(b"\n", pos + 1)
        if self.starts[-1] == len(data) and len(self.starts) > 1:
            self.starts.pop()  # the file ends with a newline: no empty last line
        self.ascii_line: dict[int, bool] = {}

    def line_span(self, i: int) -> tuple[int, int]:
        """Byte range of line i's content (without its newline or a trailing CR)."""
        s = self.starts[i]
        if i + 1 < len(self.starts):
            e = self.starts[i + 1] - 1
        else:
            e = len(self.data) - (1 if self.data.endswith(b"\n") else 0)
        if e > s and self.data[e - 1:e] == b"\r":
            e -= 1
        return s, e

    def char_off(self, i: int, byte_in_line: int) -> int:
        s, e = self.line_span(i)
        if self.ascii_line.setdefault(i, self.data[s:e].isascii()):
            return byte_in_line
        return len(self.data[s:s + byte_in_line].decode("utf-8", errors="ignore"))

    def segments(self, bstart: int, bend: int) -> list[tuple[int, int, int]]:
        """Per-line character segments covered by the byte range [bstart, bend)."""
        out = []
        bend = max(bend, bstart)
        first = max(0, bisect.bisect_right(self.starts, bstart) - 1)
        i = first
        while i < len(self.starts):
            ls, le = self.line_span(i)
            if ls > bend or (ls == bend and bend > bstart):
                break
            s, e = max(bstart, ls), min(bend, le)
            if e > s or (bstart == bend and ls <= bstart <= le):
                out.append((i, self.char_off(i, s - ls), self.char_off(i, e - ls)))
            i += 1
        return out


def run_scan(binary: Path, path: Path, min_score: float) -> tuple[list[dict], str, float]:
    """Run one scan; return (finding dicts, error message or '', seconds)."""
    cmd = [str(binary), "scan", "--report", "jsonl", "--min-score", str(min_score), str(path)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        return [], f"cannot run {binary}: {e}", 0.0
    secs = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        err = proc.stderr.decode("utf-8", "replace").strip()[-2000:]
        return [], f"exit code {proc.returncode}: {err}", secs
    findings, bad = [], 0
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(obj, dict) and "start" in obj and "end" in obj and "entity" in obj:
            findings.append(obj)
        else:
            bad += 1
    if bad:
        print(f"warning: {bad} output line(s) of the scan were not findings", file=sys.stderr)
    return findings, "", secs


def scan_corpus(c: Corpus, binary: Path, min_score: float, tmpdir: Path) -> dict:
    if c.path is not None:
        path = c.path
    else:
        path = tmpdir / f"{c.name}.txt"
        with path.open("w", encoding="utf-8", newline="\n") as f:
            for t in c.texts:
                f.write(t.replace("\r", " ").replace("\n", " ") + "\n")
    data = path.read_bytes()
    raw, err, secs = run_scan(binary, path, min_score)
    idx = LineIndex(data)
    findings = []
    for r in raw:
        segs = [s for s in idx.segments(int(r["start"]), int(r["end"])) if s[0] < len(c.texts)]
        if segs:
            findings.append(Finding(str(r["entity"]), str(r.get("rule") or "?"),
                                    float(r.get("score") or 0.0), segs))
    return {"findings": findings, "error": err, "seconds": secs, "bytes": len(data)}


# --------------------------------------------------------------------------------------------
# Scoring.
# --------------------------------------------------------------------------------------------
def overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    if a0 == a1:  # an empty range overlaps what contains it
        return b0 <= a0 < b1
    if b0 == b1:
        return a0 <= b0 < a1
    return a0 < b1 and b0 < a1


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


# Values in the ranges set aside for fiction and tests: 555-0100..0199 phone numbers and SSNs of
# the never-issued 9xx area. phiscrub reports them only with context (and shaped replacements
# land there, so scrubbed output rescans quiet); a gold span holding one is also counted on its
# own, so the recall of real numbers can be read apart from them.
RESERVED = {
    "PHONE": re.compile(r"555\D*01\d\d(?!\d)"),
    "FAX": re.compile(r"555\D*01\d\d(?!\d)"),
    "SSN": re.compile(r"^\D*9\d\d"),
}


def is_reserved(c: Corpus, g: Gold) -> bool:
    pat = RESERVED.get(g.type)
    if pat is None:
        return False
    text = g.text or c.texts[g.doc][g.start:g.end]
    return bool(pat.search(text))


def score(c: Corpus, findings: list[Finding], examples: int = 0) -> dict:
    by_doc_gold: dict[int, list[Gold]] = {}
    for g in c.gold:
        by_doc_gold.setdefault(g.doc, []).append(g)
    by_doc_find: dict[int, list[tuple[Finding, int, int]]] = {}
    for f in findings:
        for doc, s, e in f.segments:
            by_doc_find.setdefault(doc, []).append((f, s, e))

    per = {e: {"gold": 0, "found": 0, "found_any": 0, "predicted": 0, "correct": 0,
               "correct_any": 0} for e in ENTITIES}
    misses, fps = [], []
    reserved: dict[str, dict[str, int]] = {}
    # Recall.
    for g in c.gold:
        if g.type == IGNORE:
            continue
        row = per.setdefault(g.type, {"gold": 0, "found": 0, "found_any": 0, "predicted": 0,
                                      "correct": 0, "correct_any": 0})
        row["gold"] += 1
        hits = [f for f, s, e in by_doc_find.get(g.doc, ()) if overlaps(g.start, g.end, s, e)]
        hit = any(f.entity == g.type for f in hits)
        if is_reserved(c, g):
            rr = reserved.setdefault(g.type, {"gold": 0, "found": 0})
            rr["gold"] += 1
            rr["found"] += hit
        if hit:
            row["found"] += 1
        elif len(misses) < 10_000:
            misses.append((g, sorted({f.entity for f in hits})))
        if hits:
            row["found_any"] += 1
    # Precision: each finding counted once, whatever the number of its segments.
    dropped = 0
    fp_rules: dict[str, int] = {}
    for f in findings:
        over = [g for doc, s, e in f.segments for g in by_doc_gold.get(doc, ())
                if g.doc == doc and overlaps(s, e, g.start, g.end)]
        real = [g for g in over if g.type != IGNORE]
        same = any(g.type == f.entity for g in real)
        if not same and any(g.type == IGNORE for g in over):
            dropped += 1
            continue
        row = per.setdefault(f.entity, {"gold": 0, "found": 0, "found_any": 0, "predicted": 0,
                                        "correct": 0, "correct_any": 0})
        row["predicted"] += 1
        row["correct"] += same
        row["correct_any"] += bool(real)
        if not same:
            key = f"{f.entity} {f.rule}"
            fp_rules[key] = fp_rules.get(key, 0) + 1
            if len(fps) < 10_000:
                fps.append((f, sorted({g.type for g in real})))

    for row in per.values():
        row["recall"] = ratio(row["found"], row["gold"])
        row["recall_any"] = ratio(row["found_any"], row["gold"])
        row["precision"] = ratio(row["correct"], row["predicted"])
        row["precision_any"] = ratio(row["correct_any"], row["predicted"])
    tot = {k: sum(r[k] for r in per.values()) for k in
           ("gold", "found", "found_any", "predicted", "correct", "correct_any")}
    micro = {
        **tot,
        "recall": ratio(tot["found"], tot["gold"]),
        "precision": ratio(tot["correct"], tot["predicted"]),
        "recall_any_entity": ratio(tot["found_any"], tot["gold"]),
        "precision_ignoring_type": ratio(tot["correct_any"], tot["predicted"]),
    }
    r, p = micro["recall"], micro["precision"]
    micro["f1"] = (2 * p * r / (p + r)) if r and p else (0.0 if r is not None and p is not None
                                                         else None)
    result = {
        "docs": len(c.texts), "source": c.source,
        "per_entity": {e: v for e, v in per.items() if v["gold"] or v["predicted"]},
        "micro": micro, "dropped_on_ignored": dropped,
        "reserved_test_values": {
            e: {**v, "recall_without": ratio(per[e]["found"] - v["found"],
                                             per[e]["gold"] - v["gold"])}
            for e, v in reserved.items()},
        "top_false_positive_rules": dict(sorted(fp_rules.items(), key=lambda kv: -kv[1])[:15]),
    }
    if c.clean:
        lines_hit = {doc for f in findings for doc, _, _ in f.segments}
        by_ent: dict[str, int] = {}
        by_rule: dict[str, int] = {}
        for f in findings:
            by_ent[f.entity] = by_ent.get(f.entity, 0) + 1
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
        n = max(1, len(c.texts))
        result["clean"] = {
            "lines": len(c.texts), "findings": len(findings),
            "lines_with_findings": len(lines_hit),
            "findings_per_10k_lines": len(findings) * 10_000 / n,
            "lines_with_findings_per_10k": len(lines_hit) * 10_000 / n,
            "by_entity": dict(sorted(by_ent.items(), key=lambda kv: -kv[1])),
            "by_rule": dict(sorted(by_rule.items(), key=lambda kv: -kv[1])),
        }
    if examples:
        def snip(doc: int, s: int, e: int) -> str:
            t = c.texts[doc]
            return (t[max(0, s - 30):s] + "[" + t[s:e] + "]" + t[e:e + 30]).replace("\n", " ")
        result["examples"] = {
            "misses": [{"type": g.type, "other_entities": o,
                        "context": snip(g.doc, g.start, g.end)} for g, o in misses[:examples]],
            "false_positives": [{"entity": f.entity, "rule": f.rule, "gold_types": o,
                                 "context": snip(*f.segments[0])} for f, o in fps[:examples]],
        }
    return result


# --------------------------------------------------------------------------------------------
# Printing.
# --------------------------------------------------------------------------------------------
def fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def print_result(name: str, res: dict) -> None:
    m = res["micro"]
    print(f"\n== {name}: {res['docs']} docs, {m['gold']} gold spans, {m['predicted']} scored "
          f"findings" + (f", {res['dropped_on_ignored']} on ignored spans"
                         if res["dropped_on_ignored"] else "")
          + (f", {res['seconds']:.2f}s ({res['mb_per_s']:.1f} MB/s)" if res.get("seconds")
             else ""))
    if not res.get("clean"):
        print(f"{'entity':<16}{'gold':>7}{'found':>7}{'recall':>8}{'any-ent':>8}"
              f"{'pred':>7}{'correct':>8}{'prec':>8}{'any-type':>9}")
        for e, r in res["per_entity"].items():
            print(f"{e:<16}{r['gold']:>7}{r['found']:>7}{fmt(r['recall']):>8}"
                  f"{fmt(r['recall_any']):>8}{r['predicted']:>7}{r['correct']:>8}"
                  f"{fmt(r['precision']):>8}{fmt(r['precision_any']):>9}")
        print(f"{'micro':<16}{m['gold']:>7}{m['found']:>7}{fmt(m['recall']):>8}"
              f"{fmt(m['recall_any_entity']):>8}{m['predicted']:>7}{m['correct']:>8}"
              f"{fmt(m['precision']):>8}{fmt(m['precision_ignoring_type']):>9}"
              f"   F1 {fmt(m['f1']).strip()}")
        for e, v in res.get("reserved_test_values", {}).items():
            print(f"  {e}: {v['gold']} gold spans hold reserved test values (found "
                  f"{v['found']}, only with context by design); recall of the other "
                  f"{e} spans: {fmt(v['recall_without']).strip()}")
        if res["top_false_positive_rules"]:
            top = ", ".join(f"{k} ({v})"
                            for k, v in list(res["top_false_positive_rules"].items())[:8])
            print(f"top false-positive rules: {top}")
    else:
        cl = res["clean"]
        print(f"clean corpus: {cl['findings']} findings on {cl['lines_with_findings']} of "
              f"{cl['lines']} lines = {cl['findings_per_10k_lines']:.1f} findings and "
              f"{cl['lines_with_findings_per_10k']:.1f} lines with findings per 10k lines")
        if cl["by_entity"]:
            print("  by entity: " + ", ".join(f"{k} {v}" for k, v in cl["by_entity"].items()))
            print("  by rule:   " + ", ".join(f"{k} {v}" for k, v in
                                              list(cl["by_rule"].items())[:12]))
    ex = res.get("examples")
    if ex:
        for g in ex["misses"]:
            other = f" (found as {'/'.join(g['other_entities'])})" if g["other_entities"] else ""
            print(f"  miss {g['type']}{other}: {g['context']}")
        for f in ex["false_positives"]:
            gt = f" (gold {'/'.join(f['gold_types'])})" if f["gold_types"] else ""
            print(f"  false positive {f['entity']} {f['rule']}{gt}: {f['context']}")


# --------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Score phiscrub against gold corpora.")
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "phiscrub"),
                    help="phiscrub binary (default: target/release/phiscrub)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "testdata",
                    help="folder of X.gold.jsonl + X.txt/X.log pairs (default: testdata/)")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "corpora",
                    help="public corpora folder (default: ../shared/corpora)")
    ap.add_argument("--no-shared", action="store_true", help="skip the public corpora")
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--json", type=Path, help="write all numbers to this JSON file")
    ap.add_argument("--examples", type=int, default=0, metavar="N",
                    help="print N missed spans and N false positives per corpus")
    args = ap.parse_args(argv)

    binary = Path(args.bin)
    if not binary.is_file() and not Path(args.bin).is_absolute() and (ROOT / args.bin).is_file():
        binary = ROOT / args.bin
    if not binary.is_file() or not os.access(binary, os.X_OK):
        print(f"error: phiscrub binary not found or not executable: {args.bin} "
              f"(build it with: cargo build --release)", file=sys.stderr)
        return 2

    corpora: list[Corpus] = []
    if args.corpus.is_dir():
        local = discover_local(args.corpus)
        if not local:
            print(f"note: no *.gold.jsonl in {args.corpus}")
        corpora += local
    else:
        print(f"note: corpus folder {args.corpus} not found, skipped")
    if args.no_shared:
        pass
    elif args.shared.is_dir():
        corpora += discover_shared(args.shared)
    else:
        print(f"note: public corpora folder {args.shared} not found, skipped")
    if not corpora:
        print("error: nothing to evaluate", file=sys.stderr)
        return 2

    print(f"phiscrub: {binary}  min-score: {args.min_score}")
    report = {"bin": str(binary), "min_score": args.min_score, "corpora": {}}
    failed = False
    with tempfile.TemporaryDirectory(prefix="phiscrub-eval-") as tmp:
        for c in corpora:
            run = scan_corpus(c, binary, args.min_score, Path(tmp))
            if run["error"]:
                print(f"\n== {c.name}: scan FAILED: {run['error']}")
                report["corpora"][c.name] = {"error": run["error"]}
                failed = True
                continue
            res = score(c, run["findings"], args.examples)
            res["seconds"] = run["seconds"]
            res["bytes"] = run["bytes"]
            res["mb_per_s"] = run["bytes"] / 1e6 / run["seconds"] if run["seconds"] else None
            report["corpora"][c.name] = res
            print_result(c.name, res)

    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
