//! Record ids as their own types, so that a case id cannot be passed where a measure id is
//! meant. They are stored and sent as plain numbers (`#[serde(transparent)]`), so records,
//! URLs and JSON read exactly as before.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The number as the store keys it.
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl From<u64> for $name {
            fn from(n: u64) -> $name {
                $name(n)
            }
        }

        impl From<$name> for u64 {
            fn from(id: $name) -> u64 {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<$name, Self::Err> {
                s.trim().parse().map($name)
            }
        }

        impl PartialEq<u64> for $name {
            fn eq(&self, other: &u64) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// An entity (经营主体) of the entity library.
    EntityId
);
id_type!(
    /// A measure (政策事项) of the policy library.
    MeasureId
);
id_type!(
    /// A case (办件): one entity's application for one measure.
    CaseId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_as_plain_numbers() {
        let id = CaseId(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<CaseId>("42").unwrap(), id);
        assert_eq!(rmp_serde::to_vec(&id).unwrap(), rmp_serde::to_vec(&42u64).unwrap());
        assert_eq!(" 7 ".parse::<MeasureId>(), Ok(MeasureId(7)));
        assert!("x".parse::<EntityId>().is_err());
        assert_eq!(EntityId(3).to_string(), "3");
    }
}
