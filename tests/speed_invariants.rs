//! What the speed work must not change: the bytes of a keyed scrub. The expected output below
//! was produced by the build before the cell cache, the precomputed-state HMAC and the
//! allocation-free token paths; the cache on (default) and off (`PHISCRUB_CELL_CACHE=0`) must
//! both give it, and a large repetitive file must give identical bytes either way.

use std::process::{Command, Output, Stdio};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn scrub(args: &[&str], cache: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phiscrub"));
    c.env("PHISCRUB_KEY", KEY)
        .args(["scrub", "--quiet"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if cache {
        c.env_remove("PHISCRUB_CELL_CACHE");
    } else {
        c.env("PHISCRUB_CELL_CACHE", "0");
    }
    c.output().unwrap()
}

const INPUT: &str = "Id,SSN,FIRST,PHONE,BIRTHDATE,ADDRESS,NOTES\n\
0b4a6c2e-1f3d-4e5a-9b7c-8d6e5f4a3b2c,123-45-6789,Gleason633,(217) 555-0143,1961-03-04,12 Oak St,\
call 217-555-0143 ext. 12 or mail jane.doe@example.org\n";

#[test]
fn tokens_are_pinned_with_the_cache_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("g.csv");
    // The row three times: the second and third are cache hits.
    std::fs::write(
        &src,
        INPUT.to_string() + &INPUT[INPUT.find('\n').unwrap() + 1..].repeat(2),
    )
    .unwrap();
    let row = "OTHER_ID_GL8LATCFD3CF,999-38-4311,NAME_877REH638HKP,(757) 555-0182,{date},\
LOCATION_ZFUJTYPZ4EW6,call 557-327-7982 zia. 99 or mail EMAIL_YJDG5VN37MD4\n";
    for (extra, date) in [
        (&[][..], "1961-03-23"),
        (&["--subject-column", "Id"][..], "1961-06-19"),
    ] {
        let want = "Id,SSN,FIRST,PHONE,BIRTHDATE,ADDRESS,NOTES\n".to_string()
            + &row.replace("{date}", date).repeat(3);
        for cache in [true, false] {
            let mut args = vec![src.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = scrub(&args, cache);
            assert_eq!(out.status.code(), Some(0), "{out:?}");
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                want,
                "cache {cache}"
            );
        }
    }
}

#[test]
fn cache_on_and_off_give_identical_bytes_on_a_repetitive_file() {
    // Low-cardinality columns (hits), high-cardinality ones (the cache pauses), values longer
    // than a slot, empty cells, and a subject column keying the dates.
    let mut csv = String::from("PATIENT,FIRST,CITY,SSN,START,ADDRESS,NOTES\n");
    for i in 0..8_000u32 {
        let long = if i % 97 == 0 {
            "x".repeat(60)
        } else {
            String::new()
        };
        csv += &format!(
            "p{},{},{},{:03}-{:02}-{:04},2020-{:02}-{:02},{} Main St{long},seen by Dr. Smith\n",
            i / 7,
            ["Ana", "Bo", "Chidi", ""][(i % 4) as usize],
            ["Boston", "Lowell"][(i % 2) as usize],
            100 + i % 500,
            10 + i % 80,
            i,
            1 + i % 12,
            1 + i % 28,
            i % 3000,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("enc.csv");
    std::fs::write(&src, csv).unwrap();
    let args = [
        src.to_str().unwrap(),
        "--subject-column",
        "PATIENT",
        "--threads",
        "2",
    ];
    let on = scrub(&args, true);
    let off = scrub(&args, false);
    assert_eq!(on.status.code(), Some(0));
    assert!(on.stdout == off.stdout, "cache on and off differ");
    assert!(!String::from_utf8_lossy(&on.stdout).contains("Chidi"));
}
