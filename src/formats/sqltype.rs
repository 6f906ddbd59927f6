//! SQL column types, as far as a replacement value must respect them: a database dump restores
//! only if every rewritten value is still accepted by its column. A token longer than a
//! `varchar(11)`, letters in an `integer`, `[DATE]` in a `date` column or a broken `uuid` each
//! stop a restore, so the dump formats read each column's declared type from `CREATE TABLE`
//! and [`Cells`](super::cells::Cells) fits every replacement to it (see
//! [`SqlType::accepts`] and `Cells::fit`).
//!
//! One parser serves PostgreSQL and MySQL/MariaDB spellings (`character varying(11)`,
//! `varchar(11)`, `int(11) unsigned`, `timestamp without time zone`, `datetime(6)`, `bytea`,
//! `longblob`, `text[]`, `enum('a','b')`…); words after the type (`NOT NULL`, `DEFAULT …`,
//! `COLLATE …`) are ignored.
//!
//! ```
//! use phiscrub::formats::sqltype::SqlType;
//! assert_eq!(SqlType::parse("character varying(11) NOT NULL"), SqlType::Text { max_chars: Some(11) });
//! assert!(SqlType::parse("int(11) unsigned").accepts(b"4000000000"));
//! assert!(!SqlType::parse("date").accepts(b"DATE_K3J9Q2XW7M4P"));
//! ```

/// What a column accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlType {
    /// Character data, with the declared limit in characters (`varchar(n)`, `char(n)`, MySQL's
    /// `tinytext` at 255); `None`: unlimited.
    Text {
        max_chars: Option<usize>,
    },
    /// Whole numbers up to `max` in magnitude (`smallint` 32767, `int unsigned` 4294967295…).
    Integer {
        max: u128,
        unsigned: bool,
    },
    /// `numeric(p, s)` / `decimal(p, s)`: at most `precision` digits, `scale` after the point.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// `real`, `double precision`, `float`: any decimal or exponent form.
    Float,
    Bool,
    /// A calendar date; timestamps and times are [`SqlType::Timestamp`] and [`SqlType::Time`].
    Date,
    Timestamp,
    Time,
    /// MySQL `year`: four digits.
    Year,
    /// `bytea`, `blob`, `binary(n)`: raw bytes; formats hand [`Cells`](super::cells::Cells) the
    /// decoded bytes and re-encode what comes back.
    Binary {
        max_bytes: Option<usize>,
    },
    Json,
    Uuid,
    /// `inet`, `cidr`: an IP address.
    Inet,
    /// An array (`text[]`, `integer[]`): its literal is checked by the format, not here.
    Array,
    /// `enum(…)`, `set(…)`, `boolean`-like codes, and every type not listed: left as the
    /// format gives them (an enum's members are categories, not identifiers).
    Other,
}

impl std::fmt::Display for SqlType {
    /// The type as reports name it: its kind and the limit replacements are fitted to
    /// (`varchar(11)` is `text(11)`, `integer` is `integer(max 2147483647)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlType::Text { max_chars: Some(n) } => write!(f, "text({n})"),
            SqlType::Text { max_chars: None } => f.write_str("text"),
            SqlType::Integer { max, unsigned } => {
                let u = if *unsigned { "unsigned " } else { "" };
                write!(f, "{u}integer(max {max})")
            }
            SqlType::Decimal {
                precision: Some(p),
                scale,
            } => write!(f, "decimal({p},{})", scale.unwrap_or(0)),
            SqlType::Decimal { .. } => f.write_str("decimal"),
            SqlType::Binary { max_bytes: Some(n) } => write!(f, "binary({n})"),
            SqlType::Binary { max_bytes: None } => f.write_str("binary"),
            other => {
                let name = match other {
                    SqlType::Float => "float",
                    SqlType::Bool => "bool",
                    SqlType::Date => "date",
                    SqlType::Timestamp => "timestamp",
                    SqlType::Time => "time",
                    SqlType::Year => "year",
                    SqlType::Json => "json",
                    SqlType::Uuid => "uuid",
                    SqlType::Inet => "inet",
                    SqlType::Array => "array",
                    _ => "other",
                };
                f.write_str(name)
            }
        }
    }
}

impl SqlType {
    /// Parses a column's declared type (the text after the column name in `CREATE TABLE`).
    pub fn parse(decl: &str) -> SqlType {
        let lower = decl.trim().to_ascii_lowercase();
        if is_array(&lower) {
            return SqlType::Array;
        }
        let (name, args) = split_type(&lower);
        let unsigned = lower.contains(" unsigned");
        let arg = |i: usize| args.get(i).and_then(|a| a.trim().parse::<u32>().ok());
        let int = |signed_max: u128, unsigned_max: u128| SqlType::Integer {
            max: if unsigned { unsigned_max } else { signed_max },
            unsigned,
        };
        match name.as_str() {
            "character varying"
            | "varchar"
            | "character"
            | "char"
            | "nvarchar"
            | "nchar"
            | "national character varying"
            | "national character"
            | "bpchar"
            | "varchar2" => SqlType::Text {
                max_chars: arg(0).map(|n| n as usize).or(match name.as_str() {
                    "character" | "char" | "nchar" | "national character" | "bpchar" => Some(1),
                    _ => None,
                }),
            },
            "tinytext" => SqlType::Text {
                max_chars: Some(255),
            },
            "text" | "mediumtext" | "longtext" | "citext" | "name" | "string" | "clob" => {
                SqlType::Text { max_chars: None }
            }
            "smallint" | "int2" | "smallserial" | "serial2" => int(32_767, 65_535),
            "tinyint" => {
                if arg(0) == Some(1) {
                    SqlType::Bool
                } else {
                    int(127, 255)
                }
            }
            "mediumint" => int(8_388_607, 16_777_215),
            "integer" | "int" | "int4" | "serial" | "serial4" => int(2_147_483_647, 4_294_967_295),
            "bigint" | "int8" | "bigserial" | "serial8" => {
                int(9_223_372_036_854_775_807, 18_446_744_073_709_551_615)
            }
            "numeric" | "decimal" | "dec" | "fixed" | "number" => SqlType::Decimal {
                precision: arg(0),
                scale: arg(1).or(arg(0).map(|_| 0)),
            },
            "real" | "float4" | "float8" | "double precision" | "double" | "float" => {
                SqlType::Float
            }
            "boolean" | "bool" | "bit" => SqlType::Bool,
            "date" => SqlType::Date,
            "timestamp"
            | "timestamp without time zone"
            | "timestamp with time zone"
            | "timestamptz"
            | "datetime"
            | "smalldatetime" => SqlType::Timestamp,
            "time" | "time without time zone" | "time with time zone" | "timetz" => SqlType::Time,
            "year" => SqlType::Year,
            "bytea" | "blob" | "tinyblob" | "mediumblob" | "longblob" | "varbinary" | "binary"
            | "raw" => SqlType::Binary {
                max_bytes: match name.as_str() {
                    "tinyblob" => Some(255),
                    "varbinary" | "binary" => arg(0).map(|n| n as usize),
                    _ => None,
                },
            },
            "json" | "jsonb" => SqlType::Json,
            "uuid" => SqlType::Uuid,
            "inet" | "cidr" => SqlType::Inet,
            _ => SqlType::Other,
        }
    }

    /// Whether the column takes `value` (decoded; text as UTF-8 where the type is textual).
    /// Checks the form, not every rule of the server (a `numeric(5,2)` overflow is caught, a
    /// date's era is not).
    pub fn accepts(&self, value: &[u8]) -> bool {
        match self {
            SqlType::Text { max_chars: None } | SqlType::Array | SqlType::Other => true,
            // A character is at least one byte: a value no longer in bytes fits uncounted.
            SqlType::Text { max_chars: Some(n) } => value.len() <= *n || char_count(value) <= *n,
            SqlType::Integer { max, unsigned } => integer_fits(value, *max, *unsigned),
            SqlType::Decimal { precision, scale } => decimal_fits(value, *precision, *scale),
            SqlType::Float => {
                std::str::from_utf8(value).is_ok_and(|s| s.trim().parse::<f64>().is_ok())
            }
            SqlType::Bool => matches!(
                value.to_ascii_lowercase().as_slice(),
                b"t" | b"f" | b"true" | b"false" | b"0" | b"1" | b"y" | b"n" | b"yes" | b"no"
            ),
            SqlType::Date | SqlType::Timestamp => {
                crate::dates::iso(value).is_some()
                    || crate::dates::parse(value).is_some()
                    || value == b"infinity"
                    || value == b"-infinity"
            }
            SqlType::Time => value
                .iter()
                .all(|b| b.is_ascii_digit() || b":.+- ".contains(b)),
            SqlType::Year => value.len() == 4 && value.iter().all(u8::is_ascii_digit),
            SqlType::Binary { max_bytes } => max_bytes.is_none_or(|n| value.len() <= n),
            SqlType::Json => serde_json::from_slice::<serde_json::Value>(value).is_ok(),
            SqlType::Uuid => is_uuid(value),
            SqlType::Inet => std::str::from_utf8(value).is_ok_and(|s| {
                let addr = s.split('/').next().unwrap_or(s);
                addr.parse::<std::net::IpAddr>().is_ok()
            }),
        }
    }

    /// Whether the column takes a token of `len` characters (`SSN_K3J9Q2XW7M4P`: upper-case
    /// letters, digits and one `_`), decided from the length alone, so a column that can never
    /// take its entity's token goes straight to a fitted replacement instead of computing a
    /// token only to throw it away. Agrees with [`SqlType::accepts`] on every token (a test
    /// checks each type).
    pub fn takes_token(&self, len: usize) -> bool {
        match self {
            SqlType::Text { max_chars: None } | SqlType::Array | SqlType::Other => true,
            SqlType::Text { max_chars: Some(n) } => len <= *n,
            SqlType::Binary { max_bytes } => max_bytes.is_none_or(|n| len <= n),
            // Numbers, dates, times, booleans, UUIDs, addresses and JSON never take a word
            // with an underscore in it.
            _ => false,
        }
    }

    /// Types whose values are numbers, where a replacement must be digits too.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            SqlType::Integer { .. } | SqlType::Decimal { .. } | SqlType::Float
        )
    }
}

fn is_array(lower: &str) -> bool {
    let head = lower.split([' ', '\t']).next().unwrap_or("");
    head.ends_with("[]")
        || lower.contains("[] ")
        || lower.ends_with("[]")
        || lower.contains(" array")
}

/// The type's name (multi-word for PostgreSQL's spellings) and its parenthesised arguments.
fn split_type(lower: &str) -> (String, Vec<String>) {
    let (before, args) = match lower.find('(') {
        Some(open) => {
            let close = lower[open..].find(')').map_or(lower.len(), |c| open + c);
            let args = lower[open + 1..close]
                .split(',')
                .map(|a| a.trim().to_string())
                .collect();
            // PostgreSQL puts the length before "with time zone" etc.: keep the words after.
            let rest = lower.get(close + 1..).unwrap_or("");
            (format!("{}{}", &lower[..open], rest), args)
        }
        None => (lower.to_string(), Vec::new()),
    };
    let words: Vec<&str> = before.split_whitespace().collect();
    // The longest known multi-word prefix wins; otherwise the first word.
    const MULTI: [&str; 9] = [
        "character varying",
        "national character varying",
        "national character",
        "double precision",
        "timestamp without time zone",
        "timestamp with time zone",
        "time without time zone",
        "time with time zone",
        "bit varying",
    ];
    let joined = words.join(" ");
    let name = MULTI
        .iter()
        .filter(|m| joined == **m || joined.starts_with(&format!("{m} ")))
        .max_by_key(|m| m.len())
        .map(|m| m.to_string())
        .unwrap_or_else(|| words.first().map_or(String::new(), |w| w.to_string()));
    (name, args)
}

fn char_count(v: &[u8]) -> usize {
    v.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

fn integer_fits(v: &[u8], max: u128, unsigned: bool) -> bool {
    let (neg, digits) = match v.first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || digits.len() > 39 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if neg && unsigned {
        return digits.iter().all(|&d| d == b'0');
    }
    // 64-bit arithmetic where it cannot overflow (19 digits): the checked 128-bit
    // multiply-add per digit was most of a dump's type checks.
    let n = if digits.len() <= 19 {
        Some(u128::from(
            digits
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')),
        ))
    } else {
        digits.iter().try_fold(0u128, |acc, d| {
            acc.checked_mul(10)?.checked_add(u128::from(d - b'0'))
        })
    };
    // Signed types reach one further below zero (-32768); the check stays conservative.
    n.is_some_and(|n| n <= max)
}

fn decimal_fits(v: &[u8], precision: Option<u32>, scale: Option<u32>) -> bool {
    let body = match v.first() {
        Some(b'-') | Some(b'+') => &v[1..],
        _ => v,
    };
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body, &body[..0]),
    };
    if int.is_empty() && frac.is_empty() {
        return false;
    }
    if !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return false;
    }
    match (precision, scale) {
        (Some(p), s) => {
            let s = s.unwrap_or(0);
            let int_digits = int.iter().skip_while(|&&d| d == b'0').count() as u32;
            int_digits <= p.saturating_sub(s)
        }
        _ => true,
    }
}

fn is_uuid(v: &[u8]) -> bool {
    let hex: Vec<u8> = v.iter().copied().filter(|&b| b != b'-').collect();
    let braces = v.first() == Some(&b'{');
    let inner = if braces {
        &hex[1..hex.len().saturating_sub(1)]
    } else {
        &hex[..]
    };
    inner.len() == 32 && inner.iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        use SqlType::*;
        for (decl, want) in [
            (
                "character varying(11) NOT NULL",
                Text {
                    max_chars: Some(11),
                },
            ),
            (
                "varchar(255) COLLATE utf8mb4_unicode_ci DEFAULT NULL",
                Text {
                    max_chars: Some(255),
                },
            ),
            ("char(9)", Text { max_chars: Some(9) }),
            ("character(2)", Text { max_chars: Some(2) }),
            ("text", Text { max_chars: None }),
            (
                "tinytext",
                Text {
                    max_chars: Some(255),
                },
            ),
            (
                "integer NOT NULL",
                Integer {
                    max: 2_147_483_647,
                    unsigned: false,
                },
            ),
            (
                "int(11) unsigned NOT NULL AUTO_INCREMENT",
                Integer {
                    max: 4_294_967_295,
                    unsigned: true,
                },
            ),
            (
                "smallint",
                Integer {
                    max: 32_767,
                    unsigned: false,
                },
            ),
            (
                "bigint",
                Integer {
                    max: 9_223_372_036_854_775_807,
                    unsigned: false,
                },
            ),
            ("tinyint(1)", Bool),
            (
                "tinyint(3) unsigned",
                Integer {
                    max: 255,
                    unsigned: true,
                },
            ),
            (
                "numeric(9,6)",
                Decimal {
                    precision: Some(9),
                    scale: Some(6),
                },
            ),
            (
                "decimal(10)",
                Decimal {
                    precision: Some(10),
                    scale: Some(0),
                },
            ),
            (
                "numeric",
                Decimal {
                    precision: None,
                    scale: None,
                },
            ),
            ("double precision", Float),
            ("date", Date),
            ("timestamp(6) without time zone", Timestamp),
            ("timestamp with time zone DEFAULT now()", Timestamp),
            ("datetime(6)", Timestamp),
            ("time", Time),
            ("year(4)", Year),
            ("bytea", Binary { max_bytes: None }),
            ("longblob", Binary { max_bytes: None }),
            (
                "varbinary(16)",
                Binary {
                    max_bytes: Some(16),
                },
            ),
            ("jsonb", Json),
            ("uuid", Uuid),
            ("inet", Inet),
            ("text[]", Array),
            ("integer[] NOT NULL", Array),
            ("enum('M','F')", Other),
            ("public.mpaa_rating DEFAULT 'G'::public.mpaa_rating", Other),
        ] {
            assert_eq!(SqlType::parse(decl), want, "{decl}");
        }
    }

    /// Reports name a type by its kind and limit, never in Rust's debug notation.
    #[test]
    fn display_names_kind_and_limit() {
        for (decl, want) in [
            ("varchar(11)", "text(11)"),
            ("text", "text"),
            ("integer", "integer(max 2147483647)"),
            ("int(10) unsigned", "unsigned integer(max 4294967295)"),
            ("numeric(10,2)", "decimal(10,2)"),
            ("bytea", "binary"),
            ("timestamp with time zone", "timestamp"),
            ("uuid", "uuid"),
            ("text[]", "array"),
        ] {
            assert_eq!(SqlType::parse(decl).to_string(), want, "{decl}");
        }
    }

    #[test]
    fn accepts_table() {
        for (decl, value, ok) in [
            ("varchar(11)", "123-45-6789", true),
            ("varchar(11)", "SSN_K3J9Q2XW7M4P", false),
            ("varchar(4)", "José", true),
            ("varchar(3)", "José", false),
            ("varchar(5)", "José", true),
            ("bigint", "9223372036854775807", true),
            ("bigint", "9223372036854775808", false),
            ("bigint", "-9223372036854775807", true),
            ("bigint unsigned", "18446744073709551615", true),
            ("bigint unsigned", "18446744073709551616", false),
            ("bigint", "99999999999999999999", false),
            ("bigint", "0009223372036854775807", true),
            ("integer", "2147483647", true),
            ("integer", "2147483648", false),
            ("integer", "-12", true),
            ("integer unsigned", "-12", false),
            ("integer", "OTHER_ID_ABC", false),
            ("numeric(5,2)", "123.45", true),
            ("numeric(5,2)", "1234.5", false),
            ("numeric(9,6)", "-71.058", true),
            ("double precision", "1e-3", true),
            ("double precision", "[LOCATION]", false),
            ("date", "2021-03-04", true),
            ("date", "[DATE]", false),
            ("timestamp", "2021-03-04 10:22:01", true),
            ("uuid", "0e8a2c9e-3b7d-4c1f-9a55-2b1f6f0e9d11", true),
            ("uuid", "OTHER_ID_K3J9Q2XW7M4P", false),
            ("inet", "10.1.2.3", true),
            ("inet", "fd00::1/64", true),
            ("inet", "[IP_ADDRESS]", false),
            ("jsonb", r#"{"a":"[SSN]"}"#, true),
            ("jsonb", r#"{"a":"#, false),
            ("year", "2021", true),
            ("bytea", "\u{0}\u{1}", true),
        ] {
            assert_eq!(
                SqlType::parse(decl).accepts(value.as_bytes()),
                ok,
                "{decl} {value}"
            );
        }
    }

    /// The length-only answer of `takes_token` is the full check's on real tokens of every
    /// entity, for each kind of column.
    #[test]
    fn takes_token_agrees_with_accepts() {
        let key = crate::transform::key::Key::from_bytes(&[3; 32]).unwrap();
        let decls = [
            "varchar(11)",
            "varchar(16)",
            "varchar(20)",
            "char(9)",
            "text",
            "integer",
            "bigint",
            "numeric(12,2)",
            "double precision",
            "boolean",
            "date",
            "timestamp",
            "time",
            "year",
            "bytea",
            "varbinary(12)",
            "varbinary(40)",
            "jsonb",
            "uuid",
            "inet",
            "text[]",
            "enum('M','F')",
        ];
        for e in crate::entity::Entity::ALL {
            for v in ["123-45-6789", "Jane", "2021-03-04", "x"] {
                let mut tok = Vec::new();
                crate::transform::token::token_of(&key, *e, v.as_bytes(), &mut tok);
                for decl in decls {
                    let ty = SqlType::parse(decl);
                    assert_eq!(ty.takes_token(tok.len()), ty.accepts(&tok), "{decl} {e:?}");
                }
            }
        }
    }
}
