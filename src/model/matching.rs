//! What matching leaves in the store: each measure's eligible set, and the changes to it.

use serde::{Deserialize, Serialize};

use super::date::Timestamp;

/// The entities last found eligible for a measure, as of a date and version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EligibleSet {
    pub version: u32,
    /// Entity ids, ascending.
    pub ids: Vec<u64>,
    pub at: Option<Timestamp>,
}

/// A change in a measure's eligible set, recorded for the push step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchEvent {
    pub seq: u64,
    pub at: Timestamp,
    pub measure_id: u64,
    pub version: u32,
    /// Why matching ran: `publish`, `entity`, `import`, `startup`, `rematch`.
    pub cause: String,
    pub newly_eligible: Vec<u64>,
    pub no_longer_eligible: Vec<u64>,
}

/// The entries only in `new` and only in `old` (both ascending).
pub fn diff(old: &[u64], new: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                removed.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                added.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                removed.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                added.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_sorted_sets() {
        assert_eq!(diff(&[1, 3, 5], &[2, 3, 6]), (vec![2, 6], vec![1, 5]));
        assert_eq!(diff(&[], &[1]), (vec![1], vec![]));
        assert_eq!(diff(&[4], &[4]), (vec![], vec![]));
    }
}
