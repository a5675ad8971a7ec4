//! A simulation's entities as CSV — every eligible entity with its amount, every one whose
//! outcome is unknown, every near miss with the one condition it lacks — kept compact (one
//! small row each, credit codes copied out of the portrait) and written a chunk at a time, so
//! that a list of millions of entities streams to the client instead of being built as one
//! document.

use crate::model::text::spreadsheet_safe;
use crate::model::{Date, MeasureId, MeasureSpec, Money, MoneyUnit, Who};
use crate::portrait::engine::{Amount, Collect};
use crate::rules::eval::Outcome;
use crate::service::{Result, Service, ServiceError};

/// Rows per chunk of CSV text.
const ROWS_PER_CHUNK: usize = 4_096;

struct ListRow {
    code: [u8; 18],
    outcome: Outcome,
    amount: Amount,
    /// For a near miss: the position of the condition it lacks.
    missing: u16,
}

/// The header of the list.
const HEADER: [&str; 4] = ["统一社会信用代码", "结果", "金额（万元）", "不满足的条件"];

/// The list of a simulation, by credit code; iterating yields the CSV text in chunks (the
/// header first, UTF-8 with a byte-order mark so that spreadsheet programs read it).
pub struct SimulationCsv {
    rows: Vec<ListRow>,
    conditions: Vec<String>,
    next: usize,
    header: bool,
}

impl SimulationCsv {
    /// The next rows as CSV (the same writer and spreadsheet-safe cells as the exports).
    fn chunk(&mut self) -> csv::Result<Vec<u8>> {
        let first = !self.header;
        self.header = true;
        let bom = if first { "\u{feff}".as_bytes().to_vec() } else { Vec::new() };
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(bom);
        if first {
            w.write_record(HEADER)?;
        }
        let end = (self.next + ROWS_PER_CHUNK).min(self.rows.len());
        for r in &self.rows[self.next..end] {
            let code = std::str::from_utf8(&r.code).unwrap_or("").trim_end();
            let amount = match r.amount {
                Amount::Fen(f) => Money(f).format(MoneyUnit::Wan),
                Amount::Unknown | Amount::Negative(_) => String::new(),
            };
            let (outcome, missing) = match r.outcome {
                Outcome::NotEligible => {
                    ("差一个条件", self.conditions.get(r.missing as usize).map_or("", String::as_str))
                }
                o => (o.label(), ""),
            };
            w.write_record([code, outcome, &amount, &spreadsheet_safe(missing)])?;
        }
        self.next = end;
        w.into_inner().map_err(|e| e.into_error().into())
    }
}

impl Iterator for SimulationCsv {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.header && self.next >= self.rows.len() {
            return None;
        }
        match self.chunk() {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::error!("a simulation list could not be written: {e}");
                None
            }
        }
    }
}

impl Service {
    /// The list of a (draft) measure's simulation as CSV, for `who` who reads every entity.
    pub fn simulate_csv_for(&self, who: &Who, spec: &MeasureSpec, as_of: Option<Date>) -> Result<SimulationCsv> {
        if !super::simulate::may_list_entities(who) {
            return Err(ServiceError::Forbidden(
                "名单会列出具体企业，只有可查看全部经营主体的账号才能下载；可以只看统计结果".into(),
            ));
        }
        let compiled = [self.draft_compile(spec)?];
        let as_of = as_of.unwrap_or_else(|| self.today());
        let collect = Collect { eligible: true, unknown: true, near_miss: true, tally: false };
        let mut rows = self.drafts_run(&compiled, as_of, collect, |p, runs| {
            let run = runs.into_iter().next().unwrap_or_default();
            let code = |row: u32| p.codes[row as usize];
            let mut rows =
                Vec::with_capacity(run.eligible_rows.len() + run.unknown_rows.len() + run.near_miss_rows.len());
            rows.extend(run.eligible_rows.iter().map(|(row, a)| ListRow {
                code: code(*row),
                outcome: Outcome::Eligible,
                amount: *a,
                missing: 0,
            }));
            rows.extend(run.unknown_rows.iter().map(|row| ListRow {
                code: code(*row),
                outcome: Outcome::Unknown,
                amount: Amount::Unknown,
                missing: 0,
            }));
            rows.extend(run.near_miss_rows.iter().map(|(row, k, a)| ListRow {
                code: code(*row),
                outcome: Outcome::NotEligible,
                amount: *a,
                missing: *k,
            }));
            rows
        })?;
        rows.sort_unstable_by_key(|r| r.code);
        let conditions = compiled[0].rules.conditions.iter().map(|c| c.label.to_string()).collect();
        Ok(SimulationCsv { rows, conditions, next: 0, header: false })
    }

    /// The list of a measure's simulation (its version staff see) as CSV.
    pub fn measure_simulation_csv(&self, who: &Who, id: MeasureId) -> Result<SimulationCsv> {
        let (measure, _) = self.measure_get(id, crate::service::overview::audience_of(who))?;
        self.simulate_csv_for(who, &measure.spec, None)
    }
}
