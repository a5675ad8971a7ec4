//! Matching (政策找企业), by job:
//! - `state`: the portrait and the compiled published measures, in memory, built on first use;
//! - `snapshot`: the portrait at start from the snapshot file and the entities written since,
//!   and writing that file when it pays;
//! - `commit`: the write path — every entity write, publication and withdrawal commits through
//!   here, keeping the portrait and the eligible sets in step with the store (and recording the
//!   changes as match events for pushes);
//! - `simulate`: draft measures over the whole entity library in one pass, with breakdowns;
//! - `listing`: a simulation's entities as CSV, written a chunk at a time;
//! - `explain`: one entity's outcome for every measure, each condition explained;
//! - `calculator`: the public calculator.

mod calculator;
mod commit;
mod explain;
mod listing;
mod simulate;
mod snapshot;
mod state;
#[cfg(test)]
mod tests;

pub use calculator::{ASKED_APART, CALCULATOR_FIELDS, Calculation, CalculatorForm, calculator_inputs};
pub use commit::RematchSummary;
pub use explain::{Assessment, Assessor, EntityMatches, ExplainTable, Explanation, FieldShown, MeasureMatch};
pub use listing::SimulationCsv;
pub use simulate::{Breakdown, Breakdowns, Bucket, MeasureSets, SimCondition, SimRow, Simulation, may_list_entities};
pub use snapshot::{SnapshotCheck, SnapshotWritten};
pub use state::{Compiled, EligibleSets, MatchState, MatchingStats, StartupTimes, rule_field_errors};
