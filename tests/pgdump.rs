//! PostgreSQL dumps through the binary and the real server: a realistic schema filled with
//! synthetic PHI (fixed seed), `pg_dump` in COPY, `--inserts` and `--column-inserts` form (and
//! gzip-compressed), scrubbed with a key, restored into a fresh database with
//! `psql -v ON_ERROR_STOP=1`; then the restored database must have every row, every foreign
//! key join, the kept columns exactly, and none of the planted values. A dump cut inside a
//! COPY block must fail with its line and table and leave no output file.
//!
//! Needs `psql`, `pg_dump`, `createdb`, `dropdb` and a server at 127.0.0.1:5432 (user postgres,
//! trust); without the binaries the tests print why and pass.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HOST: &str = "127.0.0.1";

fn have_tools() -> bool {
    let ok = ["psql", "pg_dump", "pg_restore", "createdb", "dropdb"]
        .iter()
        .all(|t| {
            Command::new(t)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !ok {
        eprintln!(
            "SKIP: psql/pg_dump/pg_restore/createdb/dropdb not installed; PostgreSQL round trips not run"
        );
    }
    ok
}

fn pg(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(["-h", HOST, "-U", "postgres"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} runs: {e}"))
}

fn ok(o: Output, what: &str) -> Output {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A database that is dropped when the test ends, however it ends.
struct Db(String);

impl Db {
    fn create(tag: &str) -> Db {
        let name = format!("pgdump_t_{}_{tag}", std::process::id());
        let _ = pg("dropdb", &["--if-exists", &name]);
        ok(pg("createdb", &[&name]), "createdb");
        Db(name)
    }

    fn query(&self, sql: &str) -> String {
        let o = ok(pg("psql", &["-X", "-At", "-d", &self.0, "-c", sql]), sql);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs a SQL file as a restore would: stop at the first error.
    fn restore(&self, file: &Path) -> Output {
        pg(
            "psql",
            &[
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.0,
                "-f",
                file.to_str().unwrap(),
            ],
        )
    }

    fn dump(&self, extra: &[&str]) -> Vec<u8> {
        let mut args = vec!["-d", self.0.as_str()];
        args.extend_from_slice(extra);
        ok(pg("pg_dump", &args), "pg_dump").stdout
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = pg("dropdb", &["--if-exists", &self.0]);
    }
}

/// xorshift64*: fixed seed, same data every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Marcus", "Elena", "Tobias", "Priya", "Gareth", "Imani", "Joaquin", "Lucia", "Dmitri",
    "Hannah", "Kwame",
];
const LAST: &[&str] = &[
    "Whitfield",
    "Okonkwo",
    "Lindgren",
    "Baptiste",
    "Castellanos",
    "Harrington",
    "Nakamura",
    "Osborne",
    "Petrakis",
    "Zimmerman",
];
/// Text that must come back exactly where the policy keeps it, and must not break anything
/// where it is scanned.
const AWKWARD: &[&str] = &[
    "tab\there",
    "line one\nline two",
    "back\\slash \\x41 \\N \\.",
    "\\N",
    "\\.",
    "it's \"quoted\"",
    "Zoë façade 東京 naïve",
    "trailing \\",
    "",
    "{not,an,array}",
    "semi; colon -- not a comment /* nor this */ $$ dollar $$",
];

/// What was planted, to look for afterwards.
struct Planted {
    values: Vec<String>,
    sql: String,
    counts: [usize; 3],
}

fn phone(r: &mut Rng) -> String {
    let area = 201 + r.below(700);
    let area = if area % 100 == 11 { area + 1 } else { area };
    let exch = 201 + r.below(700);
    let exch = if exch % 100 == 11 || exch == 555 {
        exch + 1
    } else {
        exch
    };
    format!("({area}) {exch}-{:04}", r.below(10_000))
}

fn ssn(r: &mut Rng, i: usize) -> String {
    // Distinct by construction: the serial carries the row number.
    format!(
        "{}-{:02}-{:04}",
        100 + r.below(500),
        10 + r.below(89),
        1000 + i
    )
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn build(patients: usize) -> Planted {
    let mut r = Rng(0x005E_ED0F_D04B_u64);
    let mut values = Vec::new();
    let mut sql = String::from(
        "SET standard_conforming_strings = on;\n\
CREATE TABLE patients (\n  id integer PRIMARY KEY,\n  ssn varchar(11) NOT NULL UNIQUE CHECK (char_length(ssn) = 11),\n  first_name text NOT NULL,\n  last_name varchar(40) NOT NULL,\n  dob date NOT NULL CHECK (dob > '1900-01-01'),\n  email text UNIQUE,\n  phone varchar(20),\n  zip char(5),\n  sex char(1) CHECK (sex IN ('F', 'M', 'X')),\n  photo bytea,\n  alt_emails text[],\n  profile jsonb\n);\n\
CREATE TABLE encounters (\n  id integer PRIMARY KEY,\n  patient_id integer NOT NULL REFERENCES patients (id),\n  visit_date date NOT NULL,\n  reason text,\n  amount numeric(8,2) CHECK (amount >= 0)\n);\n\
CREATE TABLE notes (\n  id serial PRIMARY KEY,\n  encounter_id integer NOT NULL REFERENCES encounters (id),\n  body text\n);\n",
    );
    let mut encounters = 0;
    let mut notes = 0;
    for i in 0..patients {
        let id = 1000 + i * 7;
        let (f, l) = (r.pick(FIRST), r.pick(LAST));
        let s = ssn(&mut r, i);
        let email = format!(
            "{}.{}{i}@mercy-health.org",
            f.to_lowercase(),
            l.to_lowercase()
        );
        let ph = phone(&mut r);
        let dob = format!(
            "{}-{:02}-{:02}",
            1935 + r.below(70),
            1 + r.below(12),
            1 + r.below(28)
        );
        let zip = format!("{:05}", 10_000 + r.below(89_000));
        let alt = format!("alt{i}.{}@gmail.com", l.to_lowercase());
        let mrn = format!("{}", 40_000_000 + r.below(9_000_000));
        let photo: String = (0..24).map(|_| format!("{:02x}", r.below(256))).collect();
        let null_photo = i % 5 == 0;
        values.extend([s.clone(), ph.clone(), alt.clone()]);
        if i % 9 != 4 {
            values.push(email.clone());
        }
        if !null_photo {
            values.push(photo.clone());
        }
        let profile = format!(
            "{{\"ssn\": \"{s}\", \"contact\": {{\"email\": \"{alt}\", \"phone\": \"{ph}\"}}, \"pref\": \"no calls \\\\ after 6\"}}"
        );
        sql.push_str(&format!(
            "INSERT INTO patients VALUES ({id}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});\n",
            q(&s),
            q(f),
            q(l),
            q(&dob),
            if i % 9 == 4 { "NULL".into() } else { q(&email) },
            q(&ph),
            q(&zip),
            q(["F", "M", "X"][i % 3]),
            if null_photo {
                "NULL".into()
            } else {
                format!("'\\x89504e470d0a1a0a{photo}'")
            },
            q(&format!("{{{alt},\"{}\"}}", email.replace('@', "+x@"))),
            q(&profile),
        ));
        values.push(email.replace('@', "+x@"));
        for k in 0..3 {
            let eid = 50_000 + encounters * 3;
            encounters += 1;
            let reason = if (i + k) % 7 == 3 {
                "NULL".to_string()
            } else {
                q(r.pick(AWKWARD))
            };
            sql.push_str(&format!(
                "INSERT INTO encounters VALUES ({eid}, {id}, '20{:02}-{:02}-{:02}', {reason}, {}.{:02});\n",
                10 + r.below(14),
                1 + r.below(12),
                1 + r.below(28),
                r.below(5000),
                r.below(100)
            ));
            let awk = r.pick(AWKWARD);
            let body = match (i + k) % 4 {
                0 => {
                    values.push(format!("{f} {l}"));
                    format!("Patient: {f} {l} seen; SSN {s} on file. {awk}")
                }
                1 => {
                    values.push(email.clone());
                    format!("{awk}\tcall back at {ph} or {email}")
                }
                2 => {
                    values.push(mrn.clone());
                    format!("MRN: {mrn} reviewed.\nNext visit in 2 weeks. {awk}")
                }
                _ => format!("routine follow-up, nothing to add {awk}"),
            };
            sql.push_str(&format!(
                "INSERT INTO notes (encounter_id, body) VALUES ({eid}, {});\n",
                q(&body)
            ));
            notes += 1;
        }
    }
    Planted {
        values,
        sql,
        counts: [patients, encounters, notes],
    }
}

fn policy_file(dir: &Path) -> PathBuf {
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        "[columns]\n\"encounters.reason\" = \"keep\"\n\"public.encounters.amount\" = \"keep\"\n\"patients.sex\" = \"keep\"\n",
    )
    .unwrap();
    p
}

fn key_file(dir: &Path) -> PathBuf {
    let p = dir.join("key");
    std::fs::write(&p, common::KEY).unwrap();
    p
}

fn phiscrub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .env_remove("PHISCRUB_KEY")
        .args(args)
        .output()
        .expect("the binary runs")
}

/// `phiscrub scrub INPUT -o OUT --key-file KEY [--policy POLICY]`.
fn scrub_keyed(input: &Path, out: &Path, key: &Path, policy: Option<&Path>) -> Output {
    let mut args = vec![
        "scrub",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ];
    if let Some(p) = policy {
        args.extend(["--policy", p.to_str().unwrap()]);
    }
    phiscrub(&args)
}

fn find(hay: &[u8], needle: &str) -> bool {
    memchr::memmem::find(hay, needle.as_bytes()).is_some()
}

/// The kept columns, as sorted lists (ids change, so rows are compared as multisets).
fn kept(db: &Db) -> String {
    db.query(
        "SELECT coalesce(reason, '<null>') FROM encounters ORDER BY 1; \
         SELECT amount::text FROM encounters ORDER BY 1; \
         SELECT coalesce(sex, '?') FROM patients ORDER BY 1;",
    )
}

fn counts(db: &Db) -> String {
    db.query(
        "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM encounters), \
         (SELECT count(*) FROM notes), \
         (SELECT count(*) FROM encounters e JOIN patients p ON p.id = e.patient_id), \
         (SELECT count(*) FROM notes n JOIN encounters e ON e.id = n.encounter_id \
                                     JOIN patients p ON p.id = e.patient_id), \
         (SELECT count(*) FROM patients WHERE photo IS NOT NULL), \
         (SELECT count(*) FROM patients WHERE email IS NULL)",
    )
}

/// Scrubs `dump` (a file) into `out` and restores it into a fresh database; checks it all.
fn scrub_and_restore(src: &Db, planted: &Planted, dump: &Path, out: &Path, tag: &str) {
    let dir = dump.parent().unwrap();
    let (policy, key) = (policy_file(dir), key_file(dir));
    let o = phiscrub(&[
        "scrub",
        dump.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "{tag}: scrub failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for v in &planted.values {
        assert!(
            !find(&o.stderr, v) && !find(&o.stdout, v),
            "{tag}: a value in the output streams"
        );
    }
    let sql_file = if out.extension().is_some_and(|e| e == "gz") {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(out).unwrap())
            .read_to_end(&mut text)
            .expect("the output is gzip");
        let plain = out.with_extension("");
        std::fs::write(&plain, text).unwrap();
        plain
    } else {
        out.to_path_buf()
    };
    restore_and_check(src, planted, &sql_file, tag);
}

/// Restores a scrubbed dump into a fresh database and checks it against the source.
fn restore_and_check(src: &Db, planted: &Planted, sql_file: &Path, tag: &str) {
    let dst = Db::create(&format!("dst_{tag}"));
    let r = dst.restore(sql_file);
    assert!(
        r.status.success() && !find(&r.stderr, "ERROR"),
        "{tag}: restore failed: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    check_restored(src, planted, &dst, tag);
}

/// The restored database against the source: rows, joins, kept columns, no planted value.
fn check_restored(src: &Db, planted: &Planted, dst: &Db, tag: &str) {
    let want_counts = format!(
        "{}|{}|{}|{}|{}|",
        planted.counts[0],
        planted.counts[1],
        planted.counts[2],
        planted.counts[1],
        planted.counts[2]
    );
    let got = counts(dst);
    assert!(
        got.starts_with(&want_counts),
        "{tag}: counts {got} want {want_counts}…"
    );
    assert_eq!(got, counts(src), "{tag}: counts, joins, photos and NULLs");
    assert_eq!(kept(dst), kept(src), "{tag}: kept columns");
    // Replaced columns really changed, and still fit their types and constraints.
    assert_eq!(
        dst.query("SELECT count(*) FROM patients WHERE char_length(ssn) = 11 AND ssn LIKE '9%'"),
        format!("{}\n", planted.counts[0]),
        "{tag}: shaped SSNs"
    );
    let dobs = "SELECT dob FROM patients ORDER BY 1";
    assert_ne!(
        dst.query(dobs),
        src.query(dobs),
        "{tag}: dates of birth shifted"
    );
    let restored = dst.dump(&[]);
    for v in &planted.values {
        assert!(
            !find(&restored, v),
            "{tag}: a planted value survived in the restored database"
        );
    }
}

#[test]
fn round_trips_through_postgres() {
    if !have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let planted = build(120);
    let src = Db::create("src");
    let schema = tmp.path().join("source.sql");
    std::fs::write(&schema, &planted.sql).unwrap();
    let r = src.restore(&schema);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // The source really holds what the test looks for.
    let plain = src.dump(&[]);
    assert!(
        planted.values.iter().all(|v| find(&plain, v)),
        "planted values in the source dump"
    );
    for (tag, extra) in [
        ("plain", &[][..]),
        ("inserts", &["--inserts"][..]),
        (
            "colinserts",
            &["--column-inserts", "--rows-per-insert", "3"][..],
        ),
    ] {
        let dump = tmp.path().join(format!("{tag}.sql"));
        std::fs::write(&dump, src.dump(extra)).unwrap();
        scrub_and_restore(
            &src,
            &planted,
            &dump,
            &tmp.path().join(format!("{tag}.out.sql")),
            tag,
        );
    }
    // A custom-format archive as a pipe: `pg_restore -f - dump | phiscrub scrub --format
    // pgdump | psql`, here with the scrub reading standard input and writing standard output.
    let custom = tmp.path().join("custom.dump");
    let fc = src.dump(&["-Fc", "-f", custom.to_str().unwrap()]);
    assert!(fc.is_empty());
    let script = ok(
        Command::new("pg_restore")
            .args(["-f", "-", custom.to_str().unwrap()])
            .output()
            .expect("pg_restore runs"),
        "pg_restore -f -",
    )
    .stdout;
    let key = key_file(tmp.path());
    let policy = policy_file(tmp.path());
    let o = common::run(
        &[
            "scrub",
            "--format",
            "pgdump",
            "--key-file",
            key.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        &script,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let piped = tmp.path().join("custom.scrubbed.sql");
    std::fs::write(&piped, &o.stdout).unwrap();
    restore_and_check(&src, &planted, &piped, "custom");

    // The same custom archive rewritten directly into a custom archive: same TOC listing,
    // and it restores in parallel (`-j` needs the data offsets filled in).
    let custom_out = tmp.path().join("custom.scrubbed.dump");
    let o = phiscrub(&[
        "scrub",
        custom.to_str().unwrap(),
        "-o",
        custom_out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = |f: &Path| {
        let o = ok(
            pg("pg_restore", &["-l", f.to_str().unwrap()]),
            "pg_restore -l",
        );
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with(';'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        list(&custom),
        list(&custom_out),
        "the scrubbed archive lists the same TOC"
    );
    let scrubbed = std::fs::read(&custom_out).unwrap();
    for v in &planted.values {
        assert!(!find(&scrubbed, v), "fc: a planted value in the archive");
    }
    let dst = Db::create("dst_fc");
    let r = ok(
        pg(
            "pg_restore",
            &[
                "--exit-on-error",
                "-j",
                "2",
                "-d",
                &dst.0,
                custom_out.to_str().unwrap(),
            ],
        ),
        "pg_restore -j 2 of the scrubbed custom archive",
    );
    assert!(!find(&r.stderr, "ERROR"));
    check_restored(&src, &planted, &dst, "fc");
    drop(dst);

    // As a pipe both ways with uncompressed data: `pg_dump -Fc -Z0 | phiscrub scrub |
    // pg_restore -d`, no `--format` (the signature tells).
    let fc0 = src.dump(&["-Fc", "-Z0"]);
    let o = common::run(
        &[
            "scrub",
            "--key-file",
            key.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        &fc0,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let piped_fc = tmp.path().join("custom0.scrubbed.dump");
    std::fs::write(&piped_fc, &o.stdout).unwrap();
    let dst = Db::create("dst_fc0");
    let r = ok(
        pg(
            "pg_restore",
            &["--exit-on-error", "-d", &dst.0, piped_fc.to_str().unwrap()],
        ),
        "pg_restore of the piped custom archive",
    );
    assert!(!find(&r.stderr, "ERROR"));
    check_restored(&src, &planted, &dst, "fc0");
    drop(dst);

    // A directory archive (`-Fd`, gzip-compressed data files) into a new directory that
    // pg_restore reads.
    let fd = tmp.path().join("archive.d");
    src.dump(&["-Fd", "-f", fd.to_str().unwrap()]);
    let fd_out = tmp.path().join("archive.scrubbed.d");
    let o = phiscrub(&[
        "scrub",
        fd.to_str().unwrap(),
        "-o",
        fd_out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(fd.join("toc.dat")).unwrap(),
        std::fs::read(fd_out.join("toc.dat")).unwrap(),
        "toc.dat copied byte for byte"
    );
    let dst = Db::create("dst_fd");
    let r = ok(
        pg(
            "pg_restore",
            &["--exit-on-error", "-d", &dst.0, fd_out.to_str().unwrap()],
        ),
        "pg_restore of the scrubbed directory archive",
    );
    assert!(!find(&r.stderr, "ERROR"));
    check_restored(&src, &planted, &dst, "fd");

    // Compressed in and out: `.sql.gz` to `.sql.gz`.
    let gz = tmp.path().join("plain.sql.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&plain).unwrap();
    enc.finish().unwrap();
    scrub_and_restore(&src, &planted, &gz, &tmp.path().join("gz.out.sql.gz"), "gz");
}

#[test]
fn truncated_dump_fails_with_line_and_table_and_leaves_nothing() {
    if !have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let planted = build(40);
    let src = Db::create("trunc");
    let schema = tmp.path().join("source.sql");
    std::fs::write(&schema, &planted.sql).unwrap();
    assert!(src.restore(&schema).status.success());
    let dump = src.dump(&[]);
    let text = String::from_utf8_lossy(&dump);
    let copy = text.find("COPY public.patients ").expect("a COPY block");
    let header_line = text[..copy].matches('\n').count() + 1;
    // Cut in the middle of the 10th data row.
    let mut cut = copy;
    for _ in 0..10 {
        cut += text[cut..].find('\n').unwrap() + 1;
    }
    cut += 5;
    let file = tmp.path().join("cut.sql");
    std::fs::write(&file, &dump[..cut]).unwrap();
    let out = tmp.path().join("never.sql");
    let key = key_file(tmp.path());
    let o = phiscrub(&[
        "scrub",
        file.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let want = format!(
        "line {} inside the COPY data of public.patients (COPY at line {header_line})",
        header_line + 10
    );
    assert!(err.contains(&want), "{err}\nwanted: {want}");
    assert!(!out.exists(), "no output file after a failed scrub");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".phiscrub-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary file left behind");
    for v in &planted.values {
        assert!(!err.contains(v.as_str()), "a value in the error");
    }
    // Cut inside an INSERT string: the same, naming the statement's line and table.
    let ins = src.dump(&["--inserts"]);
    let text = String::from_utf8_lossy(&ins);
    let at = text.find("INSERT INTO public.notes ").unwrap();
    let line = text[..at].matches('\n').count() + 1;
    let cut = at + text[at..].find("VALUES (").unwrap() + 14;
    std::fs::write(&file, &ins[..cut]).unwrap();
    let o = phiscrub(&["scrub", file.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "an INSERT into public.notes starting at line {line}"
        )),
        "{err}"
    );
    assert!(!out.exists());

    // A directory archive whose patients data file is cut mid-row: no output directory.
    let fd = tmp.path().join("cut.d");
    src.dump(&["-Fd", "-Z0", "-f", fd.to_str().unwrap()]);
    let toc = std::fs::read(fd.join("toc.dat")).unwrap();
    let mut cut_one = false;
    for e in std::fs::read_dir(&fd).unwrap().filter_map(Result::ok) {
        let data = std::fs::read(e.path()).unwrap();
        if e.file_name() != "toc.dat" && find(&data, "\\\\x89504e47") && !cut_one {
            std::fs::write(e.path(), &data[..data.len() / 2]).unwrap();
            cut_one = true;
        }
    }
    assert!(cut_one && find(&toc, "COPY public.patients"));
    // With a key: without one the integer primary key (declared in the TOC) would be masked
    // to zeros, and that collision stops the scrub first (see below).
    let fd_out = tmp.path().join("cut.scrubbed.d");
    let o = phiscrub(&[
        "scrub",
        fd.to_str().unwrap(),
        "-o",
        fd_out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(".dat: truncated dump") && err.contains("public.patients"),
        "{err}"
    );
    assert!(!fd_out.exists(), "no output directory after a failed scrub");
    for v in &planted.values {
        assert!(!err.contains(v.as_str()), "a value in the error");
    }
    // Keyless, the archive's primary key cannot stay distinct: refused before any output,
    // with the key named as the remedy.
    let o = phiscrub(&[
        "scrub",
        fd.to_str().unwrap(),
        "-o",
        fd_out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("patients.id is a unique key") && err.contains("phiscrub keygen"),
        "{err}"
    );
    assert!(!fd_out.exists());

    // A custom archive cut in the middle of its data: exit 2, the table named, no file.
    let fc = src.dump(&["-Fc", "-Z0"]);
    let patients = memchr::memmem::find(&fc, b"\\x89504e47").expect("the photo's data");
    let cut_fc = tmp.path().join("cut.dump");
    std::fs::write(&cut_fc, &fc[..patients + 3]).unwrap();
    let fc_out = tmp.path().join("never.dump");
    let o = phiscrub(&[
        "scrub",
        cut_fc.to_str().unwrap(),
        "-o",
        fc_out.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("table data of public.patients") && err.contains("ends inside a data block"),
        "{err}"
    );
    assert!(!fc_out.exists(), "no output file after a failed scrub");
    for v in &planted.values {
        assert!(!err.contains(v.as_str()), "a value in the error");
    }
}

/// A range-partitioned table (by visit date, with a default partition): the dump loads each
/// partition directly, so shifting its dates would break the restore. The scrub refuses that
/// with the column named, and goes through once the rows are routed through the root
/// (`--load-via-partition-root`) or the key is kept.
#[test]
fn partition_keys_are_not_rewritten_where_the_restore_needs_them() {
    if !have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = Db::create("part");
    let mut sql = String::from(
        "CREATE TABLE visits (id integer NOT NULL, ssn varchar(11), visit_date date NOT NULL) \
         PARTITION BY RANGE (visit_date);\n\
         CREATE TABLE visits_2020 PARTITION OF visits FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');\n\
         CREATE TABLE visits_2021 PARTITION OF visits FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');\n\
         CREATE TABLE visits_other PARTITION OF visits DEFAULT;\n",
    );
    let mut rng = Rng(0x5eed_0004);
    let mut ssns = Vec::new();
    for i in 0..60 {
        let s = ssn(&mut rng, i);
        sql.push_str(&format!(
            "INSERT INTO visits VALUES ({}, '{s}', DATE '2020-01-01' + {});\n",
            i + 1,
            rng.below(730)
        ));
        ssns.push(s);
    }
    let schema = tmp.path().join("part.sql");
    std::fs::write(&schema, &sql).unwrap();
    assert!(src.restore(&schema).status.success());
    let key = key_file(tmp.path());
    let scrub =
        |input: &Path, out: &Path, policy: Option<&Path>| scrub_keyed(input, out, &key, policy);
    // Plain and custom dumps that load the partitions directly: refused, nothing written.
    let plain = tmp.path().join("part.dump.sql");
    std::fs::write(&plain, src.dump(&[])).unwrap();
    let custom = tmp.path().join("part.dump");
    src.dump(&["-Fc", "-f", custom.to_str().unwrap()]);
    for input in [&plain, &custom] {
        let out = tmp.path().join("never.out");
        let o = scrub(input, &out, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(".visit_date is a partition key of public.visits")
                && err.contains("--load-via-partition-root"),
            "{err}"
        );
        assert!(!out.exists());
        assert!(ssns.iter().all(|s| !err.contains(s.as_str())));
    }
    let check = |out: &Path, tag: &str| {
        let dst = Db::create(tag);
        let r = dst.restore(out);
        assert!(
            r.status.success() && !find(&r.stderr, "ERROR"),
            "{tag}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert_eq!(dst.query("SELECT count(*) FROM visits"), "60\n", "{tag}");
        let restored = dst.dump(&[]);
        assert!(
            ssns.iter().all(|s| !find(&restored, s)),
            "{tag}: an SSN survived"
        );
        dst.query("SELECT visit_date::text FROM visits ORDER BY 1")
    };
    // Routed through the root: dates shift and the rows land where they now belong.
    let routed = tmp.path().join("routed.sql");
    std::fs::write(&routed, src.dump(&["--load-via-partition-root"])).unwrap();
    let out = tmp.path().join("routed.out.sql");
    let o = scrub(&routed, &out, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dates = src.query("SELECT visit_date::text FROM visits ORDER BY 1");
    assert_ne!(check(&out, "part_routed"), dates, "dates shifted");
    // The key kept in every partition: the direct load restores, dates as they were.
    let policy = tmp.path().join("keep-key.toml");
    std::fs::write(&policy, "[columns]\n\"visits_*.visit_date\" = \"keep\"\n").unwrap();
    let out = tmp.path().join("kept.out.sql");
    let o = scrub(&plain, &out, Some(&policy));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(check(&out, "part_kept"), dates, "dates kept");
}

/// A unique SSN column too narrow for a token, with a foreign key on the SSN itself: the
/// default `shape` (10^8 SSN shapes, 80,000 phone shapes) collides and the scrub stops before
/// writing anything; `permute` keeps every value distinct and of the same form, the foreign
/// key holds (the same SSN gets the same replacement in both tables) and the restore loads.
#[test]
fn unique_narrow_columns_restore_with_permute() {
    if !have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = Db::create("uniq");
    let rows = 30_000;
    let mut sql = String::from(
        "CREATE TABLE people (id integer PRIMARY KEY, \
           ssn varchar(11) NOT NULL UNIQUE CHECK (ssn ~ '^[0-9]{3}-[0-9]{2}-[0-9]{4}$'), \
           phone varchar(14) UNIQUE);\n\
         CREATE TABLE claims (id integer PRIMARY KEY, ssn varchar(11) NOT NULL REFERENCES people (ssn));\n\
         COPY people (id, ssn, phone) FROM stdin;\n",
    );
    let mut rng = Rng(0x5eed_0005);
    let mut ssns = Vec::new();
    for i in 0..rows {
        // Distinct SSNs and phones by construction (the row number is in both).
        let s = format!(
            "{:03}-{:02}-{:04}",
            100 + i / 100,
            10 + rng.below(89),
            i % 10_000
        );
        let p = format!(
            "({}) {:03}-{:04}",
            200 + rng.below(700),
            100 + i / 10_000,
            i % 10_000
        );
        sql.push_str(&format!("{}\t{s}\t{p}\n", i + 1));
        ssns.push(s);
    }
    sql.push_str("\\.\nCOPY claims (id, ssn) FROM stdin;\n");
    for i in 0..2_000 {
        let s = &ssns[rng.below(rows as u64) as usize];
        sql.push_str(&format!("{}\t{s}\n", i + 1));
    }
    sql.push_str("\\.\n");
    let schema = tmp.path().join("uniq.sql");
    std::fs::write(&schema, &sql).unwrap();
    ok(src.restore(&schema), "load the source");
    let dump = tmp.path().join("uniq.dump.sql");
    std::fs::write(&dump, src.dump(&[])).unwrap();
    let key = key_file(tmp.path());
    let scrub = |out: &Path, policy: Option<&Path>| scrub_keyed(&dump, out, &key, policy);
    // The default shapes collide in the unique phone column: exit 2, no output, no value.
    let never = tmp.path().join("never.sql");
    let o = scrub(&never, None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unique key") && err.contains("`permute`"),
        "{err}"
    );
    assert!(ssns.iter().all(|s| !err.contains(s.as_str())), "{err}");
    assert!(!never.exists());
    // With `permute` on both columns the dump restores.
    let policy = tmp.path().join("permute.toml");
    std::fs::write(
        &policy,
        "[columns]\n\"people.ssn\" = \"permute\"\n\"people.phone\" = \"permute\"\n\"claims.ssn\" = \"permute\"\n",
    )
    .unwrap();
    let out = tmp.path().join("uniq.out.sql");
    let o = scrub(&out, Some(&policy));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dst = Db::create("uniq_dst");
    ok(dst.restore(&out), "restore the permuted dump");
    assert_eq!(
        dst.query(
            "SELECT count(*), count(DISTINCT ssn), count(DISTINCT phone), \
                    count(*) FILTER (WHERE phone ~ '^\\([0-9]{3}\\) [0-9]{3}-[0-9]{4}$') FROM people; \
             SELECT count(*) FROM claims c JOIN people p ON p.ssn = c.ssn"
        ),
        format!("{rows}|{rows}|{rows}|{rows}\n2000\n")
    );
    // Every SSN and phone changed: none of the source's is left in either table.
    let before: std::collections::HashSet<String> = src
        .query("SELECT ssn FROM people UNION ALL SELECT phone FROM people")
        .lines()
        .map(str::to_owned)
        .collect();
    let after = dst.query("SELECT ssn FROM people UNION ALL SELECT phone FROM people UNION ALL SELECT ssn FROM claims");
    let left = after.lines().filter(|v| before.contains(*v)).count();
    // A permutation can map a value onto another original value (both are numbers of the
    // range), never onto itself for all: allow the few a random permutation gives.
    assert!(
        left < rows / 100,
        "{left} of {rows} replacements equal some original value"
    );
    // And the same original SSN got the same replacement in both tables: the join above
    // holds 2000 rows; the claims' SSNs are all replacements.
    assert_eq!(
        dst.query("SELECT count(*) FROM claims c WHERE c.ssn IN (SELECT ssn FROM people)"),
        "2000\n"
    );
    // A custom archive carries its keys in the table of contents: the same check, and the
    // same replacements (the rewritten archive restores to the plain dump's tables).
    // Known before the data there, a key is checked cell by cell: the first collision stops
    // the run, naming both rows.
    let custom = tmp.path().join("uniq.dump");
    src.dump(&["-Fc", "-f", custom.to_str().unwrap()]);
    let dir = tmp.path().join("uniq.dir");
    src.dump(&["-Fd", "-f", dir.to_str().unwrap()]);
    for (input, never) in [(&custom, "never.dump"), (&dir, "never.dir")] {
        let never = tmp.path().join(never);
        let o = scrub_keyed(input, &never, &key, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("people.phone is a unique key, but rows") && !err.contains("line 0"),
            "{err}"
        );
        assert!(!never.exists(), "{never:?}");
    }
    let out = tmp.path().join("uniq.out.dump");
    let o = scrub_keyed(&custom, &out, &key, Some(&policy));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dst2 = Db::create("uniq_dst2");
    ok(
        pg(
            "pg_restore",
            &["--exit-on-error", "-d", &dst2.0, out.to_str().unwrap()],
        ),
        "pg_restore the permuted archive",
    );
    let all = "SELECT ssn, phone FROM people ORDER BY 1; SELECT ssn FROM claims ORDER BY 1";
    assert_eq!(dst2.query(all), dst.query(all));
}
