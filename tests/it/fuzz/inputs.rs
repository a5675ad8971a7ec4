//! Input generators shared by the properties: hostile strings, JSON values of random shape, bodies
//! shaped like the API's (known keys, right and wrong types), query strings, path segments.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

/// Characters that must never slip into a name: controls, bidi overrides, zero widths.
pub const SNEAKY: &[&str] = &[
    "\u{0}", "\u{7}", "\u{8}", "\u{1b}", "\u{7f}", "\r", "\n", "\t", "\u{202e}", "\u{202d}", "\u{2066}", "\u{200b}",
    "\u{200f}", "\u{feff}", "\u{fffd}", "\u{2028}", "\u{85}", "\u{e000}",
];

const WORDS: &[&str] = &[
    "",
    " ",
    "甲公司",
    "哈尔滨市科学技术局",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    "-0",
    "NaN",
    "Infinity",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "0x1F",
    "1_000",
    "３",
    "abc",
    "../../etc/passwd",
    "%00",
    "%ZZ",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "2026-02-30",
    "2026-11-27",
    "9999-99-99",
    "0000-00-00",
    "91230100MA0000001X",
    "91350100M000100Y43",
    "230125",
    "C3911",
    "high_tech",
    "apply",
    "approve",
    "sysadmin",
    "verified",
    "😀",
    "\u{10ffff}",
    "𠀀",
    "Ａ",
    "１２３",
    "万元",
    "{{ 7*7 }}",
    "${jndi:x}",
    "\\",
    "\"",
    "'",
    "`",
];

/// A hostile string: arbitrary text, control and bidi characters among Chinese, numbers as
/// text, very long runs.
pub fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => short_nasty_string(),
        1 => (select(&["a", "字", "😀", "\u{0}", " ", "9"][..]), 1_000usize..30_000).prop_map(|(c, n)| c.repeat(n)),
    ]
}

/// As [`nasty_string`], without the long runs (for URIs, which have their own limit).
pub fn short_nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(WORDS).prop_map(String::from),
        3 => any::<String>(),
        2 => (select(WORDS), select(SNEAKY), select(WORDS)).prop_map(|(a, s, b)| format!("{a}{s}{b}")),
        1 => "[\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}]{1,8}",
    ]
}

/// Any number JSON can carry, and some it cannot hold exactly.
pub fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(&[0i64, -1, 1, 7, 100, 2026, 2027, 1_000_000][..]).prop_map(Value::from),
        Just(json!(1e300)),
        Just(json!(-0.0)),
    ]
}

/// A JSON value of random shape.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((json_key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys the API's bodies use, and others.
pub const KEYS: &[&str] = &[
    "name",
    "title",
    "doc_number",
    "level",
    "department",
    "issue_date",
    "valid_from",
    "valid_until",
    "text",
    "interpretation",
    "tags",
    "category",
    "mode",
    "conditions",
    "amount",
    "cap",
    "budget",
    "window_start",
    "window_end",
    "materials",
    "form_fields",
    "review_stages",
    "publicity_days",
    "contact",
    "guide",
    "as_of",
    "list",
    "credit_code",
    "region",
    "industry",
    "employees",
    "revenue",
    "established",
    "dishonest",
    "form",
    "action",
    "reason",
    "note",
    "status",
    "username",
    "password",
    "current",
    "new",
    "new2",
    "display_name",
    "role",
    "scopes",
    "days",
    "phone",
    "capacity",
    "invitation",
    "entity_name",
    "specialist",
    "publish_on",
    "measure_id",
    "disabled",
    "email",
    "sms",
    "channels",
    "year",
    "label",
    "expr",
    "key",
    "since",
    "until",
];

pub fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![4 => select(KEYS).prop_map(String::from), 1 => short_nasty_string()]
}

/// A rule expression that parses or nearly does (short: it is sent in-process).
pub fn short_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => super::rules::typed_bool(),
        1 => super::rules::token_soup(40),
    ]
}

fn date_string() -> impl Strategy<Value = String> {
    prop_oneof![
        select(&["2026-11-27", "2026-01-01", "2027-12-31", "1900-01-01", "2026-02-29", "2026-13-01", "2026/11/27"][..])
            .prop_map(String::from),
        nasty_string(),
    ]
}

/// A plausible value for a known key, of the right type or nearly.
fn value_for(key: &'static str) -> BoxedStrategy<Value> {
    let s = |xs: &'static [&'static str]| select(xs).prop_map(|v| Value::String(v.to_string())).boxed();
    match key {
        "mode" => s(&["apply", "auto", "instant", "notice", "APPLY", "申报"]),
        "level" => s(&["national", "provincial", "municipal", "county", "国家级"]),
        "category" => s(&["subsidy", "tax", "loan", "award", "other"]),
        "role" => s(&["sysadmin", "publisher", "reviewer", "supervisor", "specialist", "enterprise", "root"]),
        "status" => s(&["verified", "rejected", "revoked", "pending", "all", "published"]),
        "action" => s(&["approve", "reject", "return", "delete"]),
        "capacity" => s(&["legal_rep", "agent", "staff", "owner"]),
        "scopes" => proptest::collection::vec(
            select(&["entities:read", "entities:write", "metrics", "policies:write", "all", "x"][..]),
            0..4,
        )
        .prop_map(|v| json!(v))
        .boxed(),
        "conditions" => proptest::collection::vec((nasty_string(), short_expr()), 0..4)
            .prop_map(|v| Value::Array(v.into_iter().map(|(l, e)| json!({"label": l, "expr": e})).collect()))
            .boxed(),
        "amount" | "expr" => short_expr().prop_map(Value::String).boxed(),
        "review_stages" => proptest::collection::vec((nasty_string(), json_number()), 0..3)
            .prop_map(|v| Value::Array(v.into_iter().map(|(n, d)| json!({"name": n, "days": d})).collect()))
            .boxed(),
        "materials" | "tags" | "channels" => {
            proptest::collection::vec(nasty_string(), 0..4).prop_map(|v| json!(v)).boxed()
        }
        "form" => proptest::collection::vec((json_key(), nasty_string()), 0..4)
            .prop_map(|v| Value::Object(v.into_iter().map(|(k, x)| (k, Value::String(x))).collect()))
            .boxed(),
        "issue_date" | "valid_from" | "valid_until" | "window_start" | "window_end" | "as_of" | "publish_on"
        | "established" | "since" | "until" => date_string().prop_map(Value::String).boxed(),
        "cap" | "budget" | "publicity_days" | "days" | "employees" | "revenue" | "measure_id" | "year" => {
            json_number().boxed()
        }
        "list" | "dishonest" | "disabled" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => nasty_string().prop_map(Value::String).boxed(),
    }
}

/// An object with some of the API's keys, mostly of the right type.
pub fn shaped_body() -> impl Strategy<Value = Value> {
    proptest::collection::vec((select(KEYS), any::<u8>()), 0..10)
        .prop_flat_map(|keys| {
            let entries: Vec<BoxedStrategy<(String, Value)>> = keys
                .into_iter()
                .map(|(k, dice)| {
                    let value = if dice < 200 { value_for(k) } else { json_value().boxed() };
                    value.prop_map(move |v| (k.to_string(), v)).boxed()
                })
                .collect();
            entries
        })
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
}

/// A request body and its content type.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    /// JSON cut short.
    Truncated(String),
    /// Arrays nested this deep.
    Deep(usize),
    Form(Vec<(String, String)>),
    Bytes(Vec<u8>),
}

impl Body {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Truncated(s) => s.clone().into_bytes(),
            Body::Deep(n) => format!("{}{}", "[".repeat(*n), "]".repeat(*n)).into_bytes(),
            Body::Form(pairs) => {
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in pairs {
                    s.append_pair(k, v);
                }
                s.finish().into_bytes()
            }
            Body::Bytes(b) => b.clone(),
        }
    }
}

pub fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        1 => Just(Body::Empty),
        3 => json_value().prop_map(Body::Json),
        5 => shaped_body().prop_map(Body::Json),
        1 => (shaped_body(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let s = v.to_string();
            let cut = i.index(s.len().max(1));
            let cut = (0..=cut).rev().find(|c| s.is_char_boundary(*c)).unwrap_or(0);
            Body::Truncated(s[..cut].to_string())
        }),
        1 => (100usize..5_000).prop_map(Body::Deep),
        1 => proptest::collection::vec((json_key(), nasty_string()), 0..6).prop_map(Body::Form),
        1 => proptest::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
    ]
}

pub const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/xml",
    "",
];

/// Query keys the routes read, and others.
const QUERY_KEYS: &[&str] = &[
    "limit",
    "after",
    "before",
    "q",
    "status",
    "as_of",
    "year",
    "file_name",
    "skip_invalid",
    "dry_run",
    "slot",
    "name",
    "drafts",
    "all",
    "state",
    "overdue",
    "measure",
    "entity",
    "actor",
    "action",
    "target",
    "from",
    "to",
    "level",
    "category",
    "department",
    "mode",
    "open",
    "open_now",
    "region",
    "industry",
    "size_class",
    "tag",
    "warnings",
    "next",
    "notice",
    "lang",
    "page",
];

/// A query string (without `?`): pairs of known or odd keys and hostile values, URL-encoded,
/// or raw characters that are legal in a URI but mean nothing.
pub fn query() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        3 => short_nasty_string(),
        2 => select(&["-1", "0", "abc", "18446744073709551616", "1.5", "", "true", "yes", "2026-13-45", "%"][..])
            .prop_map(String::from),
    ];
    prop_oneof![
        5 => proptest::collection::vec((prop_oneof![4 => select(QUERY_KEYS).prop_map(String::from), 1 => short_nasty_string()], value), 1..5)
            .prop_map(|pairs| {
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    s.append_pair(k, v);
                }
                s.finish()
            }),
        1 => "[A-Za-z0-9%=&+._~;-]{1,40}",
    ]
}

/// A path segment: hostile text, percent-encoded so that the URI stays valid.
pub fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(&["abc", "-1", "0", "18446744073709551616", "1.0", "%2F", "%00", "..", "%E2%80%AE", "99999999"][..])
            .prop_map(String::from),
        3 => short_nasty_string().prop_map(|s| encode_segment(&s)),
        1 => "[A-Za-z0-9%._~-]{1,20}",
    ]
}

/// Percent-encodes everything but the unreserved characters.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
