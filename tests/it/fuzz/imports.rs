//! The CSV and XLSX readers (`huiqi::import::for_each_row`) on arbitrary bytes, and whole
//! imports (`Service::import_run`) of generated CSV — quotes, CR/LF, BOMs, ragged rows,
//! unclosed quotes, other encodings — and generated or damaged XLSX workbooks (many sheets,
//! huge cells, formulas). Nothing panics; a refused file changes nothing and says why in
//! Chinese; the report stays small whatever the file holds.

use std::io::Cursor;

use huiqi::import::{Format, ReadError, for_each_row};
use huiqi::model::imports::{ImportJob, ImportStatus, MAX_STORED_ISSUES};
use huiqi::model::{Field, Who};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use super::{cases, clip, failure, has_cjk, report, runner};
use crate::common::{TestApp, credit_code};
use huiqi::store::prelude::*;

/// The longest value, column or header a report may echo back, in characters.
pub const MAX_ECHO: usize = 512;
/// The longest reason, in characters.
const MAX_REASON: usize = 2048;

/// What the generator knows about a file it made.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Record number (header = 1) of a row with more cells than the header has.
    pub long_row: Option<u64>,
    /// Record number of a row whose quote never closes.
    pub unclosed_row: Option<u64>,
}

#[derive(Clone)]
pub struct CsvFile {
    pub bytes: Vec<u8>,
    pub facts: Facts,
}

/// The text, as a minimal failing input is best read.
impl std::fmt::Debug for CsvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {:?}", String::from_utf8_lossy(&self.bytes), self.facts)
    }
}

fn headers() -> Vec<String> {
    let mut h: Vec<String> = Field::ALL.iter().flat_map(|f| [f.name().to_string(), f.label().to_string()]).collect();
    h.extend(["营业收入(元)", "营业收入（万元）", "备注", "", " credit_code ", "CREDIT_CODE"].map(String::from));
    h
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..40).prop_map(credit_code),
        3 => select(&["甲公司", "乙有限公司", "Café Lumière", "null", "NULL", "", " ", "230125", "C3911", "2019-03-08",
            "2026-02-30", "45", "-2", "1200.5", "1e400", "high_tech@2024-06-01;tech_sme", "是", "否", "138****5678",
            "a,b", "say \"hi\"", "line\nbreak", "cr\rhere", "\u{feff}bom", "=1+1", "@SUM(A1)"][..]).prop_map(String::from),
        2 => super::inputs::nasty_string(),
    ]
}

/// A CSV field as a writer would quote it.
fn quoted(s: &str) -> String {
    if s.is_empty() || s.contains([',', '"', '\r', '\n']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV text of random shape: a header mostly with a credit-code column, rows of right or
/// ragged length, quoting, CR/LF mixes, a BOM, sometimes an unclosed quote.
pub fn csv_text() -> impl Strategy<Value = CsvFile> {
    let header = proptest::collection::vec(select(headers()), 0..8);
    let rows = proptest::collection::vec((proptest::collection::vec(cell(), 1..10), any::<u8>()), 0..8);
    (
        header,
        prop::bool::weighted(0.9),
        rows,
        select(&["\n", "\r\n", "\r"][..]),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.15, any::<Index>()),
        prop::option::weighted(0.2, any::<Index>()),
    )
        .prop_map(|(mut header, with_code, rows, eol, bom, unclosed, long)| {
            if with_code {
                header.insert(0, "credit_code".into());
            }
            if header.is_empty() {
                header.push("name".into());
            }
            let width = header.len();
            let mut lines = vec![header.iter().map(|h| quoted(h)).collect::<Vec<_>>().join(",")];
            let mut facts = Facts::default();
            let long_at = long.map(|i| i.index(rows.len().max(1)));
            let unclosed_at = unclosed.map(|i| i.index(rows.len().max(1)));
            for (i, (mut cells, _)) in rows.into_iter().enumerate() {
                let record = i as u64 + 2;
                cells.resize(width, String::new());
                if long_at == Some(i) {
                    cells.push("多出的一格".into());
                    cells.push("another".into());
                    facts.long_row = Some(record);
                }
                let mut line = cells.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(",");
                if line.is_empty() {
                    line = "\"\"".into();
                }
                if unclosed_at == Some(i) {
                    line.push_str(",\"never closed");
                    facts.unclosed_row = Some(record);
                }
                lines.push(line);
            }
            if facts.unclosed_row.is_some() {
                // The open quote decides the outcome (refused) whatever the ragged row does.
                facts.long_row = None;
            }
            let mut text = lines.join(eol);
            text.push_str(eol);
            if bom {
                text.insert(0, '\u{feff}');
            }
            CsvFile { bytes: text.into_bytes(), facts }
        })
}

/// Calls the reader and checks that row numbers only grow.
fn read_all(bytes: &[u8], format: Format) -> Result<(), TestCaseError> {
    let mut last = 0u64;
    let mut order = Ok(());
    let _ = for_each_row(Cursor::new(bytes), format, |n, _cells| {
        if n <= last {
            order = Err(TestCaseError::fail(format!("row {n} after row {last}")));
        }
        last = n;
        Ok::<_, ReadError>(())
    });
    order
}

#[test]
fn readers_never_panic_on_arbitrary_bytes() {
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096),
        csv_text().prop_map(|c| c.bytes),
        xlsx_bytes().prop_map(|(b, _)| b),
        damaged_xlsx().prop_map(|w| w.bytes),
    ];
    let mut r = runner(cases(160));
    let result = r.run(&strategy, |bytes| {
        read_all(&bytes, Format::Csv)?;
        read_all(&bytes, Format::Xlsx)
    });
    report("readers on arbitrary bytes", &failure(result).into_iter().collect::<Vec<_>>());
}

/// What holds of any finished import: a small report in Chinese; a refused file wrote nothing.
pub fn check_job(job: &ImportJob, before: u64, after: u64) -> Result<(), String> {
    let r = &job.report;
    if r.issues.len() > MAX_STORED_ISSUES {
        return Err(format!("{} issues kept (the limit is {MAX_STORED_ISSUES})", r.issues.len()));
    }
    for i in &r.issues {
        for (what, text, max) in
            [("value", &i.value, MAX_ECHO), ("column", &i.column, MAX_ECHO), ("reason", &i.reason, MAX_REASON)]
        {
            let n = text.chars().count();
            if n > max {
                return Err(format!("row {}: a {what} of {n} characters echoed back: {}", i.row, clip(text, 60)));
            }
        }
        if !has_cjk(&i.reason) {
            return Err(format!("row {}: a reason not in Chinese: {}", i.row, clip(&i.reason, 200)));
        }
    }
    for h in r.ignored_columns.iter().chain(&r.columns) {
        if h.chars().count() > MAX_ECHO {
            return Err(format!("a header of {} characters echoed back: {}", h.chars().count(), clip(h, 60)));
        }
    }
    match job.status {
        ImportStatus::Refused if after != before => {
            Err(format!("refused, yet the entity count went from {before} to {after}"))
        }
        ImportStatus::Refused if r.issues.is_empty() => Err("refused without saying why".into()),
        ImportStatus::Applied if after != before + r.inserted => {
            Err(format!("{} inserted, yet the count went from {before} to {after}", r.inserted))
        }
        _ => Ok(()),
    }
}

/// A refused import's report as the API answers it (422): the documented error shape, with the
/// whole job under `job`.
pub fn check_report_json(body: &Value) -> Result<(), String> {
    if body["status"] != 422 || !body["error"].is_string() {
        return Err(format!("not the documented error shape: {body}"));
    }
    let job: ImportJob = serde_json::from_value(body["job"].clone()).map_err(|e| format!("not an import job: {e}"))?;
    if job.status != ImportStatus::Refused {
        return Err(format!("422 with status {:?}", job.status));
    }
    check_job(&job, 0, 0)
}

fn count(app: &TestApp) -> u64 {
    app.svc().store.read().unwrap().entity_count().unwrap()
}

/// Imports `bytes` as `file_name` (whole, not skipping bad rows) and checks the invariants.
pub fn import(app: &TestApp, file_name: &str, bytes: &[u8]) -> Result<ImportJob, String> {
    let before = count(app);
    let job = app
        .svc()
        .import_run(
            &Who::system("fuzz"),
            file_name,
            || Ok(Cursor::new(bytes)),
            false,
            false,
            &mut huiqi::service::imports::Quiet,
        )
        .map_err(|e| format!("import_run failed: {e}"))?;
    check_job(&job, before, count(app))?;
    Ok(job)
}

fn row_reported(job: &ImportJob, row: u64) -> bool {
    job.report.issues.iter().any(|i| i.row == row)
}

#[test]
fn generated_csv_imports_keep_their_invariants() {
    let app = TestApp::new();
    let mut r = runner(cases(64));
    let result = r.run(&csv_text(), |file| {
        let job = import(&app, "fuzz.csv", &file.bytes).map_err(TestCaseError::fail)?;
        if let Some(row) = file.facts.unclosed_row
            && job.status != ImportStatus::Refused
        {
            return Err(TestCaseError::fail(format!("a quote left open on row {row}, yet {:?}", job.status)));
        }
        // A header that is itself refused (row 1) stops the check before the rows.
        if let Some(row) = file.facts.long_row
            && (job.status != ImportStatus::Refused || !(row_reported(&job, row) || row_reported(&job, 1)))
        {
            return Err(TestCaseError::fail(format!(
                "row {row} has more cells than the header, yet {:?} with issues on rows {:?}",
                job.status,
                job.report.issues.iter().map(|i| i.row).collect::<Vec<_>>()
            )));
        }
        Ok(())
    });
    report("generated CSV imports", &failure(result).into_iter().collect::<Vec<_>>());
}

#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    Utf8,
    Gb18030,
    Utf16Le,
    Utf16Be,
    Latin1,
}

/// `text` in `encoding` (UTF-16 with its BOM, as Excel writes "Unicode text").
pub fn encode(text: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        Encoding::Gb18030 => encoding_rs::GB18030.encode(text).0.into_owned(),
        Encoding::Utf16Le => [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
        Encoding::Utf16Be => [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect(),
        Encoding::Latin1 => text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect(),
    }
}

/// A valid file, written in one encoding: read right, or refused with a word about the encoding.
#[test]
fn other_encodings_are_read_right_or_refused() {
    let app = TestApp::new();
    let latin = ["Café Lumière", "Müller GmbH", "Søren & Co", "Boulangerie Élise"];
    let chinese = ["甲公司", "哈尔滨示例科技有限公司", "黑龙江省某某农业合作社"];
    let strategy = (
        select(vec![Encoding::Utf8, Encoding::Gb18030, Encoding::Utf16Le, Encoding::Utf16Be, Encoding::Latin1]),
        proptest::collection::vec((1000u32..2000, any::<Index>()), 1..5),
        select(&["\n", "\r\n"][..]),
    );
    let mut r = runner(cases(40));
    let result = r.run(&strategy, |(encoding, rows, eol)| {
        let mut text = format!("credit_code,name{eol}");
        let mut expected = Vec::new();
        for (n, pick) in rows {
            let name = match encoding {
                Encoding::Latin1 => latin[pick.index(latin.len())],
                _ => *pick.get(&[latin.as_slice(), chinese.as_slice()].concat()),
            };
            let code = credit_code(n);
            if expected.iter().any(|(c, _): &(String, &str)| *c == code) {
                continue;
            }
            text.push_str(&format!("{code},{name}{eol}"));
            expected.push((code, name));
        }
        let job = import(&app, "encoded.csv", &encode(&text, encoding)).map_err(TestCaseError::fail)?;
        match job.status {
            ImportStatus::Applied => {
                for (code, name) in &expected {
                    let stored = huiqi::service::entities::entity_code(code)
                        .and_then(|code| app.svc().entity_get(&huiqi::model::Who::system("test"), &code))
                        .ok()
                        .and_then(|e| e.name);
                    if stored.as_deref() != Some(*name) {
                        return Err(TestCaseError::fail(format!(
                            "{encoding:?}: {code} imported as {stored:?}, written as {name:?}"
                        )));
                    }
                }
                Ok(())
            }
            _ if matches!(encoding, Encoding::Utf8 | Encoding::Gb18030) => Err(TestCaseError::fail(format!(
                "{encoding:?}: a valid file {:?}: {:?}",
                job.status, job.report.issues
            ))),
            _ if job.report.issues.iter().any(|i| i.reason.contains("编码")) => Ok(()),
            _ => Err(TestCaseError::fail(format!(
                "{encoding:?}: refused without naming the encoding (编码): {:?}",
                job.report.issues.iter().map(|i| clip(&i.reason, 120)).collect::<Vec<_>>()
            ))),
        }
    });
    report("CSV in other encodings", &failure(result).into_iter().collect::<Vec<_>>());
}

/// One cell of a generated workbook.
#[derive(Debug, Clone)]
enum XCell {
    Text(String),
    Number(f64),
    Formula(&'static str),
    Bool(bool),
    Blank,
}

fn xcell() -> impl Strategy<Value = XCell> {
    prop_oneof![
        4 => cell().prop_map(XCell::Text),
        1 => (select(&["a", "字", "9"][..]), 1_000usize..32_767).prop_map(|(c, n)| XCell::Text(c.repeat(n))),
        2 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(XCell::Number),
        1 => select(&["=1/0", "=A1&B1", "=SUM(A:A)", "=\"91230100MA0000001X\"", "=NA()", "=TODAY()", "=1+", "=((((1))))"][..])
            .prop_map(XCell::Formula),
        1 => any::<bool>().prop_map(XCell::Bool),
        1 => Just(XCell::Blank),
    ]
}

/// A sheet: its name and cells by (row, column).
type Sheet = (String, Vec<(u32, u16, XCell)>);

fn sheet(header: bool) -> impl Strategy<Value = Sheet> {
    let name =
        prop_oneof![select(&["Sheet1", "经营主体", "数据", "x", "a[1]", ""][..]).prop_map(String::from), "[a-z]{1,40}"];
    let heads = proptest::collection::vec(select(headers()), 1..8);
    let cells = proptest::collection::vec(
        (prop_oneof![4 => 1u32..40, 1 => 40u32..5_000], prop_oneof![5 => 0u16..10, 1 => 10u16..300], xcell()),
        0..60,
    );
    (name, heads, cells).prop_map(move |(name, heads, mut cells)| {
        if header {
            for (c, h) in heads.into_iter().enumerate() {
                cells.push((0, c as u16, XCell::Text(h)));
            }
        }
        (name, cells)
    })
}

/// A workbook's bytes, shown by what was written into it.
#[derive(Clone)]
pub struct Workbook {
    bytes: Vec<u8>,
    sheets: Vec<Sheet>,
    damage: String,
}

impl std::fmt::Debug for Workbook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, cells) in &self.sheets {
            write!(f, "sheet {name:?}: ")?;
            for (r, c, v) in cells {
                let v = match v {
                    XCell::Text(s) => format!("{:?}", clip(s, 40)),
                    other => format!("{other:?}"),
                };
                write!(f, "({r},{c})={v} ")?;
            }
        }
        write!(f, "{}", self.damage)
    }
}

/// A workbook of 1–5 sheets (the first with a header row).
fn workbook() -> impl Strategy<Value = Workbook> {
    xlsx_bytes().prop_map(|(bytes, sheets)| Workbook { bytes, sheets, damage: String::new() })
}

/// A workbook's bytes and its sheets.
fn xlsx_bytes() -> impl Strategy<Value = (Vec<u8>, Vec<Sheet>)> {
    (sheet(true), proptest::collection::vec(sheet(false), 0..4)).prop_map(|(first, others)| {
        let sheets: Vec<Sheet> = std::iter::once(first).chain(others).collect();
        let mut book = rust_xlsxwriter::Workbook::new();
        for (name, cells) in &sheets {
            let ws = book.add_worksheet();
            // Names Excel refuses are left as the default; so are cells it cannot hold.
            let _ = ws.set_name(name.as_str());
            for (r, c, v) in cells {
                let _ = match v {
                    XCell::Text(s) => ws.write_string(*r, *c, s.as_str()),
                    XCell::Number(f) => ws.write_number(*r, *c, *f),
                    XCell::Formula(f) => ws.write_formula(*r, *c, *f),
                    XCell::Bool(b) => ws.write_boolean(*r, *c, *b),
                    XCell::Blank => ws.write_blank(*r, *c, &rust_xlsxwriter::Format::new()),
                };
            }
        }
        (book.save_to_buffer().unwrap_or_default(), sheets)
    })
}

/// A generated workbook, cut short or with bytes overwritten.
fn damaged_xlsx() -> impl Strategy<Value = Workbook> {
    (workbook(), proptest::collection::vec((any::<Index>(), any::<u8>()), 1..8), prop::option::of(any::<Index>()))
        .prop_map(|(mut book, flips, cut)| {
            let n = book.bytes.len();
            if n > 0 {
                for (at, b) in flips {
                    let i = at.index(n);
                    book.bytes[i] = b;
                    book.damage.push_str(&format!("byte {i} := {b}; "));
                }
            }
            if let Some(cut) = cut {
                let at = cut.index(n.max(1));
                book.bytes.truncate(at);
                book.damage.push_str(&format!("cut at {at} of {n}"));
            }
            book
        })
}

#[test]
fn generated_and_damaged_xlsx_imports_keep_their_invariants() {
    let app = TestApp::new();
    let strategy = prop_oneof![3 => workbook(), 1 => damaged_xlsx()];
    let mut r = runner(cases(32));
    let result = r.run(&strategy, |book| import(&app, "fuzz.xlsx", &book.bytes).map(drop).map_err(TestCaseError::fail));
    report("generated XLSX imports", &failure(result).into_iter().collect::<Vec<_>>());
}
