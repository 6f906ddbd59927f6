//! `phiscrub guard` against real git repositories: staged changes (partially staged files,
//! renames, binary images, deletions), the real `git commit` through the installed hook and
//! through the `pre-commit` framework, baselines, inline markers, allow_paths, gitleaks rule
//! files, ranges and history, and every report format. No planted value may appear in any
//! output.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_phiscrub");

/// Planted values (synthetic): an SSN, a second SSN, an AWS access key id, a phone number.
const SSN: &str = "219-45-6789";
const SSN2: &str = "345-67-8012";
const AWS: &str = "AKIAQ3EGTWYLZ7XKJM4P";
const PHONE: &str = "(312) 447-2291";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skips the calling test with a message when git is not installed.
macro_rules! need_git {
    () => {
        if !have("git") {
            eprintln!("SKIP: git is not installed");
            return;
        }
    };
}

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = Repo { dir };
        r.git(&["init", "-q", "-b", "main"]);
        for (k, v) in [
            ("user.name", "Guard Test"),
            ("user.email", "guard@example.com"),
            ("commit.gpgsign", "false"),
            ("core.autocrlf", "false"),
        ] {
            r.git(&["config", k, v]);
        }
        r
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.path())
            .env_remove("PHISCRUB_KEY")
            .env_remove("PRE_COMMIT_FROM_REF")
            .env_remove("PRE_COMMIT_TO_REF")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.path());
        c
    }

    fn git(&self, args: &[&str]) -> Output {
        let out = self.cmd("git").args(args).output().expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn write(&self, rel: &str, data: impl AsRef<[u8]>) {
        let p = self.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, data).unwrap();
    }

    fn add(&self, rel: &str, data: impl AsRef<[u8]>) {
        self.write(rel, data);
        self.git(&["add", "--", rel]);
    }

    /// Commits without any hook (setting up history).
    fn commit_unchecked(&self, msg: &str) {
        self.git(&["commit", "-q", "--no-verify", "-m", msg]);
    }

    fn guard(&self, args: &[&str]) -> Output {
        self.cmd(BIN)
            .arg("guard")
            .args(args)
            .output()
            .expect("phiscrub runs")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// No planted value, in any spelling the tools might print, is in the output.
fn assert_no_leak(o: &Output) {
    let t = text(o);
    for v in [SSN, SSN2, AWS, PHONE, "219456789", "345678012", "4472291"] {
        assert!(!t.contains(v), "value {v} leaked into output:\n{t}");
    }
}

#[test]
fn staged_change_reports_only_added_lines() {
    need_git!();
    let r = Repo::new();
    r.add("notes.txt", format!("old line\nSSN: {SSN}\n"));
    r.commit_unchecked("history with a value");
    r.add(
        "notes.txt",
        format!("old line\nSSN: {SSN}\nnew line\ncall {PHONE} today\n"),
    );
    let out = r.guard(&[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("notes.txt:4:6: PHONE"), "{t}");
    assert!(
        !t.contains("SSN ("),
        "the committed SSN is not on an added line: {t}"
    );
    assert!(t.contains("(***) ***-2291"), "masked preview: {t}");
    assert!(t.contains("phiscrub:allow"), "says how to suppress: {t}");
    assert_no_leak(&out);
    // Nothing staged: clean, and quick to say so.
    r.git(&["reset", "-q"]);
    let out = r.guard(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn partially_staged_files_are_checked_as_staged() {
    need_git!();
    let r = Repo::new();
    r.add("a.txt", "clean\n");
    r.commit_unchecked("start");
    // Staged clean, value only in the work tree: the commit is clean.
    r.add("a.txt", "clean\nstill clean\n");
    r.write("a.txt", format!("clean\nstill clean\nSSN {SSN}\n"));
    let out = r.guard(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // Staged with the value, removed from the work tree since: the commit still has it.
    r.add("a.txt", format!("clean\nSSN {SSN}\n"));
    r.write("a.txt", "clean\n");
    let out = r.guard(&[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("a.txt:2:5: SSN (ssn.dashed) ***-**-6789"),
        "{}",
        text(&out)
    );
    assert_no_leak(&out);
}

#[test]
fn renames_deletions_and_binary_images() {
    need_git!();
    let r = Repo::new();
    let filler: String = (1..=12).map(|i| format!("filler line {i}\n")).collect();
    r.add("keep.txt", format!("{filler}SSN {SSN}\n"));
    r.add("gone.txt", format!("SSN {SSN2}\n"));
    r.commit_unchecked("start");
    // A pure rename and a deletion bring nothing new.
    r.git(&["mv", "keep.txt", "moved.txt"]);
    r.git(&["rm", "-q", "gone.txt"]);
    let out = r.guard(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // A rename with a change is scanned on its new lines only.
    r.add("moved.txt", format!("{filler}SSN {SSN}\nkey {AWS}\n"));
    let out = r.guard(&[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("moved.txt:14:5: SECRET"), "{t}");
    assert!(!t.contains("SSN ("), "{t}");
    assert_no_leak(&out);
    r.commit_unchecked("rename");
    // A binary image is a photo, by its content (whatever its name).
    let png = phiscrub::formats::image::blank(phiscrub::formats::image::ImageKind::Png);
    r.add("assets/face.dat", png);
    let out = r.guard(&["--report", "jsonl"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(t.lines().next().unwrap()).unwrap();
    assert_eq!(v["entity"], "PHOTO");
    assert_eq!(v["path"], "assets/face.dat");
}

#[test]
fn structured_file_is_checked_with_its_columns() {
    need_git!();
    let r = Repo::new();
    r.add(
        "data/patients.csv",
        "mrn_code,ssn\nA100,456789012\nA101,567890123\n",
    );
    r.commit_unchecked("fixture");
    // The added row alone looks like two harmless tokens; its column says it is an SSN.
    let row = "A102,345678012\n";
    r.add(
        "data/patients.csv",
        format!("mrn_code,ssn\nA100,456789012\nA101,567890123\n{row}"),
    );
    let out = r.guard(&[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("data/patients.csv:4:"), "{t}");
    assert!(t.contains("column.SSN"), "{t}");
    assert!(
        !t.contains(":2:") && !t.contains(":3:"),
        "old rows are not reported: {t}"
    );
    assert_no_leak(&out);
    // The same line as plain text is not caught: the column made the difference.
    r.git(&["reset", "-q"]);
    r.add("plain.txt", row);
    let out = r.guard(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn jsonl_parquet_and_unparsable_dumps() {
    need_git!();
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;
    let r = Repo::new();
    r.add("p.jsonl", "{\"mrn_code\":\"A100\",\"ssn\":\"456789012\"}\n");
    r.commit_unchecked("jsonl");
    r.add(
        "p.jsonl",
        "{\"mrn_code\":\"A100\",\"ssn\":\"456789012\"}\n{\"mrn_code\":\"A102\",\"ssn\":\"345678012\"}\n",
    );
    // A dump is checked through its format, or as text when that cannot parse it.
    r.add(
        "db/dump.sql",
        format!("-- PostgreSQL database dump\nCOPY t (a) FROM stdin;\nSSN {SSN}\n\\.\n"),
    );
    // Parquet: a binary blob, read through its format with column names.
    let col: ArrayRef = Arc::new(StringArray::from(vec!["345-67-8012", "456-78-9012"]));
    let batch = RecordBatch::try_from_iter([("ssn", col)]).unwrap();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    r.add("data/people.parquet", &buf);
    let out = r.guard(&["--report", "json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_leak(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, u64, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["entity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        got.contains(&("p.jsonl".into(), 2, "SSN".into())),
        "{got:?}"
    );
    assert!(!got.iter().any(|g| g.0 == "p.jsonl" && g.1 == 1), "{got:?}");
    assert!(
        got.contains(&("db/dump.sql".into(), 3, "SSN".into())),
        "{got:?}"
    );
    let parquet = got.iter().filter(|g| g.0 == "data/people.parquet").count();
    assert_eq!(parquet, 2, "{got:?}");
}

#[test]
fn installed_hook_blocks_git_commit_and_lets_clean_commits_pass() {
    need_git!();
    let r = Repo::new();
    // A foreign hook is not replaced without --force.
    let hooks = r.path().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    let out = r.guard(&["--install"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    let out = r.guard(&["--install", "--force"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    r.add("config/app.env", format!("AWS_ACCESS_KEY_ID={AWS}\n"));
    let out = r
        .cmd("git")
        .args(["commit", "-m", "add key"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "the hook blocks: {}", text(&out));
    assert!(
        text(&out).contains("config/app.env:1:19: SECRET"),
        "{}",
        text(&out)
    );
    assert_no_leak(&out);
    let head = r
        .cmd("git")
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .output()
        .unwrap();
    assert!(!head.status.success(), "nothing was committed");

    r.git(&["rm", "-q", "--cached", "config/app.env"]);
    r.add("README.md", "hello\n");
    let out = r
        .cmd("git")
        .args(["commit", "-q", "-m", "clean"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "a clean commit passes: {}", text(&out));
}

#[test]
fn baseline_suppresses_known_findings_even_when_moved() {
    need_git!();
    let r = Repo::new();
    r.add("fixtures/a.txt", format!("one\nSSN {SSN}\ntwo\n"));
    r.commit_unchecked("fixture");
    let out = r.guard(&["--write-baseline", ".phiscrub-baseline.json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let b = std::fs::read_to_string(r.path().join(".phiscrub-baseline.json")).unwrap();
    assert!(b.contains("\"salt\"") && b.contains("ssn.dashed"), "{b}");
    assert!(!b.contains(SSN) && !b.contains("219456789"), "{b}");
    assert!(text(&out).contains("1 accepted finding"), "{}", text(&out));

    // The line moves (deleted and added elsewhere): still suppressed, and the run says so.
    r.add("fixtures/a.txt", format!("one\ntwo\nthree\nSSN {SSN}\n"));
    let out = r.guard(&[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("suppressed: 1 baseline"),
        "{}",
        text(&out)
    );
    // A new value is reported; the known one stays suppressed.
    r.add(
        "fixtures/a.txt",
        format!("one\ntwo\nthree\nSSN {SSN}\nSSN {SSN2}\n"),
    );
    let out = r.guard(&["--report", "json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 1);
    assert_eq!(v["findings"][0]["line"], 5);
    assert_eq!(v["suppressed"][0]["suppressed"], "baseline");
    assert_eq!(v["suppressed"][0]["line"], 4);
    assert_no_leak(&out);
    // --no-baseline reports both.
    let out = r.guard(&["--no-baseline", "--report", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 2);
}

#[test]
fn inline_markers_test_values_and_allow_paths() {
    need_git!();
    let r = Repo::new();
    let cases = [
        format!("SSN {SSN} # phiscrub:allow\n"),
        format!("// gitleaks:allow\nkey {AWS}\n"),
        format!("key {AWS}  # pragma: allowlist secret\n"),
        // Advertised sample and never-issued numbers, 555-01xx, example.com.
        "SSN 078-05-1120\nSSN: 987-65-4321\nphone (312) 555-0142\nmail to jane@example.com\n"
            .into(),
    ];
    for (i, c) in cases.iter().enumerate() {
        r.add(&format!("case{i}.txt"), c);
    }
    r.add("testdata/fake/real_looking.txt", format!("SSN {SSN2}\n"));
    r.add(
        "phiscrub.toml",
        "[guard]\nallow_paths = [\"testdata/fake/**\"]\n",
    );
    let out = r.guard(&["--report", "json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["suppressed"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "inline marker").count(),
        3,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"known test value"), "{kinds:?}");
    assert_eq!(v["skipped"][0], "testdata/fake/real_looking.txt");
    // The same value without a marker is reported.
    r.add("case9.txt", format!("SSN {SSN}\n"));
    let out = r.guard(&[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_leak(&out);
}

#[test]
fn gitleaks_rules_file_adds_rules_with_entropy_and_allowlists() {
    need_git!();
    let r = Repo::new();
    let rules = r#"
title = "team rules"
[[rules]]
id = "acme-api-token"
description = "Acme API token"
regex = '''acme_token\s*=\s*"([a-zA-Z0-9]{24})"'''
secretGroup = 1
entropy = 3.5
keywords = ["acme_token"]
  [[rules.allowlists]]
  stopwords = ["sandbox"]

[allowlist]
paths = ['''^vendor/''']
"#;
    r.write(".gitleaks.toml", rules);
    r.add("src/a.py", "acme_token = \"Zq8Lk2Rf7Tn4Wp9Xc3Vb6Hm1\"\n");
    r.add("src/low.py", "acme_token = \"aaaaaaaaaaaabbbbbbbbbbbb\"\n");
    r.add("src/box.py", "acme_token = \"sandboxZq8Lk2Rf7Tn4Wp9Xc\"\n");
    r.add("vendor/x.py", "acme_token = \"Zq8Lk2Rf7Tn4Wp9Xc3Vb6Hm1\"\n");
    let out = r.guard(&["--rules", ".gitleaks.toml", "--report", "json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v}");
    assert_eq!(f[0]["path"], "src/a.py");
    assert_eq!(f[0]["rule"], "gitleaks.acme-api-token");
    assert_eq!(f[0]["column"], 15, "the finding is the secret group");
    assert_eq!(v["suppressed"][0]["suppressed"], "gitleaks allowlist");
    assert_eq!(v["skipped"][0], "vendor/x.py");
    assert!(!text(&out).contains("Zq8Lk2Rf7Tn4Wp9Xc3Vb6Hm1"));
    // A broken rules file is an error that names file, line and rule.
    r.write("bad.toml", "[[rules]]\nid = \"x\"\nregex = '(unclosed'\n");
    let out = r.guard(&["--rules", "bad.toml"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("bad.toml:2: rule `x`"),
        "{}",
        text(&out)
    );
}

#[test]
fn range_and_history_find_values_removed_again() {
    need_git!();
    let r = Repo::new();
    r.add("a.txt", "start\n");
    r.commit_unchecked("one");
    let base = String::from_utf8(r.git(&["rev-parse", "HEAD"]).stdout).unwrap();
    let base = base.trim();
    r.add("a.txt", format!("start\nSSN {SSN}\n"));
    r.commit_unchecked("two: leak");
    r.add("a.txt", "start\n");
    r.commit_unchecked("three: removed");
    // The final tree is clean, but the range brought the value.
    let out = r.guard(&["--since", base]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("a.txt:2:5: SSN"), "{}", text(&out));
    let out = r.guard(&["--range", &format!("{base}..HEAD")]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let out = r
        .cmd(BIN)
        .arg("guard")
        .env("PRE_COMMIT_FROM_REF", base)
        .env("PRE_COMMIT_TO_REF", "HEAD")
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        1,
        "pre-push refs from the environment: {}",
        text(&out)
    );
    let out = r.guard(&["--range", "HEAD~1..HEAD"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = r.guard(&["--history"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_leak(&out);
    let out = r.guard(&["--range", "nosuchref..HEAD"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}

#[test]
fn files_mode_and_errors() {
    need_git!();
    let r = Repo::new();
    r.write("x.txt", format!("SSN {SSN}\n"));
    r.write("y.txt", "nothing\n");
    let out = r.guard(&["x.txt", "y.txt"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("x.txt:1:5: SSN"), "{}", text(&out));
    let out = r.guard(&["y.txt"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = r.guard(&["missing.txt"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert_no_leak(&out);
    // Outside a repository the staged mode is an error.
    let outside = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("guard")
        .current_dir(outside.path())
        .env("GIT_CEILING_DIRECTORIES", outside.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", text(&out));
}

#[test]
fn report_formats_sarif_junit_jsonl() {
    need_git!();
    let r = Repo::new();
    r.add("dir with space/n.txt", format!("SSN {SSN}\nkey {AWS}\n"));
    let out = r.guard(&["--report", "sarif"]);
    assert_eq!(code(&out), 1);
    assert_no_leak(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], res["ruleId"]);
        let loc = &res["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "dir%20with%20space/n.txt");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    if let Some(py) = ["python3", "python"].into_iter().find(|p| have(p)) {
        // Valid against the SARIF 2.1.0 schema (testdata/schemas), by a real validator.
        let sarif = r.path().join("out.sarif");
        std::fs::write(&sarif, &out.stdout).unwrap();
        let schema = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/schemas/sarif-2.1.0-rtm.5.json"
        );
        let check = Command::new(py)
            .args([
                "-c",
                "import sys, json\n\
                 try:\n    import jsonschema\n\
                 except ImportError:\n    print('no jsonschema'); sys.exit(3)\n\
                 s = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))\n\
                 v = jsonschema.Draft4Validator(s); errs = list(v.iter_errors(d))\n\
                 [print(list(e.absolute_path), e.message) for e in errs[:5]]\n\
                 sys.exit(1 if errs else 0)",
            ])
            .arg(schema)
            .arg(&sarif)
            .output()
            .unwrap();
        match check.status.code() {
            Some(3) => eprintln!("SKIP: python jsonschema missing (pip install jsonschema)"),
            _ => assert!(check.status.success(), "SARIF schema: {}", text(&check)),
        }
        // Well-formed XML, checked by a real parser when one is installed.
        let out = r.guard(&["--report", "junit"]);
        assert_eq!(code(&out), 1);
        assert_no_leak(&out);
        let xml = r.path().join("junit.xml");
        std::fs::write(&xml, &out.stdout).unwrap();
        let check = Command::new(py)
            .args([
                "-c",
                "import sys, xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); \
                 s=r.find('testsuite'); assert s.get('failures')=='1', s.attrib; \
                 assert len(s.findall('testcase/failure'))==1",
            ])
            .arg(&xml)
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", text(&check));
    } else {
        eprintln!("SKIP: no python for the JUnit XML parse check");
    }
    let out = r.guard(&["--report", "jsonl"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l["preview"].is_string() && l["line"].is_u64()));
}

#[test]
fn pre_commit_framework_blocks_and_passes() {
    need_git!();
    if !have("pre-commit") {
        eprintln!("SKIP: pre-commit is not installed (pip install pre-commit)");
        return;
    }
    let r = Repo::new();
    let config = format!(
        "repos:\n- repo: local\n  hooks:\n  - id: phiscrub\n    name: phiscrub guard (staged)\n    entry: {BIN} guard\n    language: system\n    pass_filenames: false\n    stages: [pre-commit, pre-push, manual]\n  - id: phiscrub-files\n    name: phiscrub guard (files)\n    entry: {BIN} guard\n    language: system\n    stages: [pre-commit, pre-push, manual]\n"
    );
    r.add(".pre-commit-config.yaml", config);
    let cache = r.path().join(".pre-commit-cache");
    let pc = |args: &[&str]| {
        r.cmd("pre-commit")
            .args(args)
            .env("PRE_COMMIT_HOME", &cache)
            .output()
            .unwrap()
    };
    let out = pc(&["install"]);
    assert!(out.status.success(), "{}", text(&out));
    let commit = |msg: &str| {
        r.cmd("git")
            .args(["commit", "-m", msg])
            .env("PRE_COMMIT_HOME", &cache)
            .output()
            .unwrap()
    };
    let out = commit("config");
    assert_eq!(code(&out), 0, "a clean commit passes: {}", text(&out));
    r.add("patients.txt", format!("Patient SSN: {SSN}\n"));
    let out = commit("leak");
    assert_eq!(code(&out), 1, "pre-commit blocks: {}", text(&out));
    let t = text(&out);
    assert!(t.contains("patients.txt:1:14: SSN"), "{t}");
    assert!(t.contains("Failed"), "{t}");
    assert_no_leak(&out);
}
