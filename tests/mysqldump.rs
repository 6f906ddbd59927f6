//! MySQL/MariaDB dumps through the binary and the real server: a realistic schema filled with
//! synthetic values from a fixed seed is dumped with `mariadb-dump` (extended inserts,
//! `--complete-insert`, `--hex-blob`), scrubbed, restored into a fresh database with
//! `mariadb db < scrubbed.sql` (which stops at the first error), and checked: no error, the
//! same row counts, the same foreign-key join, kept columns identical, and no planted value
//! anywhere in the restored database. A dump cut off mid-INSERT fails with exit 2, names the
//! line and leaves no output file.
//!
//! The tests need the `mariadb` and `mariadb-dump` binaries and the local server (root with an
//! empty password on the default socket); without the binaries they print why and pass.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{run, KEY};

fn have_mariadb() -> bool {
    let ok = |bin: &str| {
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ok("mariadb") && ok("mariadb-dump") {
        return true;
    }
    eprintln!("SKIPPED: the mariadb and mariadb-dump binaries are not installed");
    false
}

/// Runs `mariadb -uroot [db]` with `sql` on standard input.
fn mariadb(db: Option<&str>, sql: &[u8]) -> Output {
    let mut cmd = Command::new("mariadb");
    cmd.args(["-uroot", "--batch", "--skip-column-names"]);
    if let Some(db) = db {
        cmd.arg(db);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mariadb runs");
    let mut stdin = child.stdin.take().expect("piped");
    let data = sql.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("mariadb finishes");
    writer.join().expect("writer");
    out
}

fn query(db: &str, sql: &str) -> String {
    let out = mariadb(Some(db), sql.as_bytes());
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 result")
}

fn dump(db: &str, extra: &[&str]) -> Vec<u8> {
    let out = Command::new("mariadb-dump")
        .args(["-uroot", "--routines", "--triggers"])
        .args(extra)
        .arg(db)
        .output()
        .expect("mariadb-dump runs");
    assert!(
        out.status.success(),
        "mariadb-dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A database that is dropped when the test ends, however it ends.
struct Db(String);

impl Db {
    fn create(tag: &str) -> Db {
        let name = format!("mysqldump_t_{}_{tag}", std::process::id());
        let out = mariadb(
            None,
            format!(
                "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;"
            )
            .as_bytes(),
        );
        assert!(
            out.status.success(),
            "the MariaDB server must run (the binaries are installed): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Db(name)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = mariadb(
            None,
            format!("DROP DATABASE IF EXISTS `{}`;", self.0).as_bytes(),
        );
    }
}

/// A fixed-seed xorshift: the same data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A NANP area code or exchange: 2–9 first, never N11.
    fn nanp(&mut self) -> u64 {
        loop {
            let n = 201 + self.below(799);
            if n % 100 != 11 {
                return n;
            }
        }
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

/// SQL string literal for the fixture (escaped for the server, independent of the code under
/// test).
fn lit(s: &str) -> String {
    let mut o = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => o.push_str("\\'"),
            '\\' => o.push_str("\\\\"),
            '\0' => o.push_str("\\0"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('\'');
    o
}

const SCHEMA: &str = "
CREATE TABLE patients (
  id INT NOT NULL PRIMARY KEY,
  mrn VARCHAR(12) NOT NULL UNIQUE,
  ssn VARCHAR(11) UNIQUE,
  first_name VARCHAR(40) NOT NULL,
  last_name VARCHAR(40) NOT NULL,
  dob DATE,
  email VARCHAR(80),
  phone VARCHAR(20),
  zip CHAR(5),
  state CHAR(2),
  photo BLOB,
  profile JSON
) ENGINE=InnoDB;
CREATE TABLE encounters (
  id INT NOT NULL PRIMARY KEY,
  patient_id INT NOT NULL,
  visit_date DATE,
  code VARCHAR(10) NOT NULL,
  total_cost DECIMAL(10,2),
  notes TEXT,
  CONSTRAINT fk_patient FOREIGN KEY (patient_id) REFERENCES patients (id)
) ENGINE=InnoDB;
";

const PATIENTS: u64 = 260;
const ENCOUNTERS: u64 = 700;

/// Fills the database; returns every planted identifier (each one unique text that must not
/// survive a scrub).
fn fill(db: &str) -> Vec<String> {
    let mut rng = Rng(0x6d79_7371_6c64_756d);
    let given = [
        "Maria", "James", "Linda", "Robert", "Ana", "Wei", "Fatima", "Jose", "Olga", "Kenji",
    ];
    let family = [
        "Gleason", "Lopez", "Nguyen", "O'Neil", "Schmidt", "Okafor", "Müller", "Kowalski",
    ];
    let states = ["MA", "CT", "NY", "TX", "CA"];
    let codes = ["99213", "99214", "J0696", "80053", "85025"];
    let mut planted = Vec::new();
    let mut sql = String::from(SCHEMA);
    let mut ssns = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for i in 1..=PATIENTS {
        let ssn = loop {
            let s = format!(
                "{:03}-{:02}-{:04}",
                100 + rng.below(565),
                1 + rng.below(99),
                1 + rng.below(9999)
            );
            if ssns.insert(s.clone()) {
                break s;
            }
        };
        // Synthea-style suffixes make every name unique text.
        let first = format!("{}{}", rng.pick(&given), 100 + i);
        let last = format!("{}{}", rng.pick(&family), 500 + i);
        let mrn = format!("M{:08}", 10_000_000 + i * 7919);
        let email = format!("pt{i}.{}@mercy-health.org", rng.below(1000));
        let phone = format!("({}) {}-{:04}", rng.nanp(), rng.nanp(), 1000 + i);
        let zip = format!("{:05}", 1000 + rng.below(90000));
        let dob = format!(
            "{}-{:02}-{:02}",
            1930 + rng.below(70),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        // A JPEG-looking photo with a unique body.
        let body: String = (0..24)
            .map(|_| format!("{:02X}", rng.next() as u8))
            .collect();
        let photo = format!("X'FFD8FFE000104A46494600{body}FFD9'");
        let profile = format!(
            "{{\"contact\": {{\"name\": \"{first} {last}\", \"ssn\": \"{ssn}\", \"phone\": \"{phone}\"}}, \"lang\": \"en\"}}"
        );
        let ssn_sql = if i % 10 == 0 {
            "NULL".to_string()
        } else {
            lit(&ssn)
        };
        rows.push(format!(
            "({i},{},{ssn_sql},{},{},{},{},{},{},{},{photo},{})",
            lit(&mrn),
            lit(&first),
            lit(&last),
            lit(&dob),
            lit(&email),
            lit(&phone),
            lit(&zip),
            lit(rng.pick(&states)),
            lit(&profile)
        ));
        planted.extend([mrn, first, last, email, phone, body]);
        if i % 10 != 0 {
            planted.push(ssn);
        }
    }
    sql.push_str(&format!(
        "INSERT INTO patients VALUES {};\n",
        rows.join(",")
    ));
    let mut rows = Vec::new();
    for i in 1..=ENCOUNTERS {
        let p = 1 + rng.below(PATIENTS);
        let visit = format!(
            "20{:02}-{:02}-{:02}",
            10 + rng.below(14),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        let cost = format!("{}.{:02}", rng.below(5000), rng.below(100));
        let notes = match i % 5 {
            0 => "NULL".to_string(),
            1 => {
                let ssn = format!(
                    "{:03}-{:02}-{:04}",
                    100 + rng.below(565),
                    10 + rng.below(89),
                    1000 + i
                );
                planted.push(ssn.clone());
                lit(&format!(
                    "Pt called back.\tSSN {ssn} confirmed; said \"fine\" and 'ok'.\nBackslash \\ path C:\\temp, café 日本, nul \0 end"
                ))
            }
            2 => {
                let phone = format!("({}) {}-{:04}", rng.nanp(), rng.nanp(), 2000 + i);
                let mail = format!("family{i}@example-mail.com");
                planted.extend([phone.clone(), mail.clone()]);
                lit(&format!("Daughter at {phone}, email {mail}"))
            }
            3 => {
                let mrn = format!("{:08}", 40_000_000 + i * 31);
                planted.push(mrn.clone());
                lit(&format!("Transferred, MRN: {mrn}, see chart"))
            }
            _ => lit("Routine follow-up; no change."),
        };
        rows.push(format!(
            "({i},{p},{},{},{cost},{notes})",
            lit(&visit),
            lit(rng.pick(&codes))
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO encounters VALUES {};\n",
        rows.join(",")
    ));
    let out = mariadb(Some(db), sql.as_bytes());
    assert!(
        out.status.success(),
        "fixture: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    planted
}

/// What must be the same before and after a scrub.
fn invariants(db: &str) -> Vec<String> {
    [
        "SELECT COUNT(*) FROM patients",
        "SELECT COUNT(*) FROM encounters",
        "SELECT COUNT(*) FROM encounters e JOIN patients p ON p.id = e.patient_id",
        "SELECT COUNT(DISTINCT patient_id) FROM encounters",
        "SELECT COUNT(*) FROM patients WHERE ssn IS NULL",
        "SELECT COUNT(*) FROM encounters WHERE notes IS NULL",
        "SELECT GROUP_CONCAT(state ORDER BY state) FROM patients",
        "SELECT GROUP_CONCAT(CONCAT(code, ':', total_cost) ORDER BY code, total_cost) FROM encounters",
        "SELECT COUNT(*) FROM patients WHERE JSON_VALID(profile)",
    ]
    .iter()
    .map(|q| query(db, q))
    .collect()
}

fn write_key(dir: &std::path::Path) -> String {
    let k = dir.join("key");
    std::fs::write(&k, KEY).unwrap();
    k.to_str().unwrap().to_string()
}

#[test]
fn mariadb_dumps_scrub_restore_and_hold_no_phi() {
    if !have_mariadb() {
        return;
    }
    let src = Db::create("src");
    let planted = fill(&src.0);
    let before = invariants(&src.0);
    assert_eq!(before[0].trim(), PATIENTS.to_string());
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    for (tag, flags) in [
        ("ext", &[][..]),
        ("ci", &["--complete-insert"][..]),
        ("hex", &["--hex-blob"][..]),
    ] {
        let original = dump(&src.0, flags);
        // As the nightly job runs it: a pipe, the format named.
        let out = run(
            &[
                "scrub",
                "--quiet",
                "--format",
                "mysqldump",
                "--key-file",
                &key,
            ],
            &original,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{tag}: scrub failed: {stderr}");
        let scrubbed = out.stdout;
        for p in &planted {
            assert!(!stderr.contains(p.as_str()), "{tag}: {p} in stderr");
        }
        let dst = Db::create(tag);
        let restore = mariadb(Some(&dst.0), &scrubbed);
        assert!(
            restore.status.success() && restore.stderr.is_empty(),
            "{tag}: restore failed: {}",
            String::from_utf8_lossy(&restore.stderr)
        );
        assert_eq!(
            invariants(&dst.0),
            before,
            "{tag}: counts, join or kept columns differ"
        );
        let again = String::from_utf8_lossy(&dump(&dst.0, &["--hex-blob"])).into_owned();
        let leaked: Vec<&String> = planted
            .iter()
            .filter(|p| again.contains(p.as_str()))
            .collect();
        assert!(
            leaked.is_empty(),
            "{tag}: {} planted values survive, e.g. {:?}",
            leaked.len(),
            &leaked[..leaked.len().min(5)]
        );
        // Determinism: the same key gives the same dump.
        let twice = run(
            &[
                "scrub",
                "--quiet",
                "--format",
                "mysqldump",
                "--key-file",
                &key,
            ],
            &original,
        );
        assert_eq!(twice.stdout, scrubbed, "{tag}: same key, same output");
    }
}

#[test]
fn cut_off_dump_fails_with_line_and_no_output() {
    if !have_mariadb() {
        return;
    }
    let src = Db::create("cut");
    let planted = fill(&src.0);
    let original = dump(&src.0, &[]);
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    // Cut inside a string of the encounters INSERT.
    let at = original
        .windows(24)
        .position(|w| w == b"INSERT INTO `encounters`")
        .expect("an encounters INSERT");
    let cut = at + original[at..].iter().position(|&b| b == b'\'').unwrap() + 5;
    let input = dir.path().join("prod.sql");
    std::fs::write(&input, &original[..cut]).unwrap();
    let line = original[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let output = dir.path().join("staging.sql");
    let out = run(
        &[
            "scrub",
            "--key-file",
            &key,
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("line {line}")) || stderr.contains(&format!("line {}", line + 1)),
        "the error names the line: {stderr}"
    );
    assert!(
        stderr.contains("encounters") && stderr.contains("cut off"),
        "{stderr}"
    );
    assert!(!output.exists(), "nothing at the destination");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("phiscrub"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left");
    for p in &planted {
        assert!(!stderr.contains(p.as_str()), "{p} in stderr");
    }
    assert!(out.stdout.is_empty());
}

/// No server needed: a `.sql.gz` dump is recognised by its content and written compressed.
#[test]
fn gzipped_dump_is_sniffed_and_written_compressed() {
    use flate2::{read::GzDecoder, write::GzEncoder, Compression};
    use std::io::Read;
    let dump = b"-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE `patients` (\n  `id` int(11) NOT NULL,\n  `ssn` varchar(11) DEFAULT NULL,\n  `state` char(2) DEFAULT NULL\n);\nLOCK TABLES `patients` WRITE;\nINSERT INTO `patients` VALUES (1,'536-22-8726','MA'),(2,'219-45-6789','CT');\nUNLOCK TABLES;\n";
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    let input = dir.path().join("prod.sql.gz");
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(dump).unwrap();
    std::fs::write(&input, enc.finish().unwrap()).unwrap();
    let output = dir.path().join("staging.sql.gz");
    let out = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            &key,
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(&output).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        !text.contains("536-22-8726") && !text.contains("219-45-6789"),
        "{text}"
    );
    let (a, b): (Vec<&str>, Vec<&str>) = (
        std::str::from_utf8(dump).unwrap().lines().collect(),
        text.lines().collect(),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        if !x.starts_with("INSERT") {
            assert_eq!(x, y);
        }
    }
    assert!(
        text.contains(",'MA'),(") && text.contains(",'CT');"),
        "{text}"
    );
}

/// A unique phone column too narrow for a token (NANP shapes have 80,000 values): the
/// default shapes collide, and the scrub stops before writing (exit 2, the column named, no
/// value); `permute` keeps 20,000 phones distinct and of the same form, and the dump loads.
#[test]
fn unique_narrow_column_restores_with_permute() {
    if !have_mariadb() {
        return;
    }
    let src = Db::create("uniq");
    let rows = 20_000;
    let mut sql = String::from(
        "CREATE TABLE people (id INT PRIMARY KEY, phone VARCHAR(14) NOT NULL UNIQUE);\nINSERT INTO people VALUES ",
    );
    let mut rng = Rng(0x5eed_0006);
    let mut phones = Vec::new();
    for i in 0..rows {
        let p = format!(
            "({}) {:03}-{:04}",
            200 + rng.below(700),
            100 + i / 10_000,
            i % 10_000
        );
        sql.push_str(&format!(
            "{}({}, '{p}')",
            if i > 0 { "," } else { "" },
            i + 1
        ));
        phones.push(p);
    }
    sql.push_str(";\n");
    let loaded = mariadb(Some(&src.0), sql.as_bytes());
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let original = dump(&src.0, &[]);
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path());
    let input = dir.path().join("uniq.sql");
    std::fs::write(&input, &original).unwrap();
    let never = dir.path().join("never.sql");
    let args = |out: &std::path::Path| {
        vec![
            "scrub".to_string(),
            input.to_str().unwrap().to_string(),
            "-o".to_string(),
            out.to_str().unwrap().to_string(),
            "--key-file".to_string(),
            key.clone(),
        ]
    };
    let a = args(&never);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("people.phone is a unique key") && err.contains("`permute`"),
        "{err}"
    );
    assert!(phones.iter().all(|p| !err.contains(p.as_str())), "{err}");
    assert!(!never.exists());
    let policy = dir.path().join("permute.toml");
    std::fs::write(&policy, "[columns]\n\"people.phone\" = \"permute\"\n").unwrap();
    let out = dir.path().join("uniq.out.sql");
    let mut a = args(&out);
    a.extend(["--policy".to_string(), policy.to_str().unwrap().to_string()]);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dst = Db::create("uniq_dst");
    let restore = mariadb(Some(&dst.0), &std::fs::read(&out).unwrap());
    assert!(
        restore.status.success() && restore.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_eq!(
        query(
            &dst.0,
            "SELECT COUNT(*), COUNT(DISTINCT phone), \
             SUM(phone REGEXP '^[(][0-9]{3}[)] [0-9]{3}-[0-9]{4}$') FROM people"
        ),
        format!("{rows}\t{rows}\t{rows}\n")
    );
    let after = query(&dst.0, "SELECT phone FROM people");
    let before: std::collections::HashSet<&str> = phones.iter().map(String::as_str).collect();
    let same = after.lines().filter(|p| before.contains(p)).count();
    // Replacements range over all numbers of the form, so a few land on some original value.
    assert!(
        same < rows as usize / 50,
        "{same} of {rows} equal an original phone"
    );
}
