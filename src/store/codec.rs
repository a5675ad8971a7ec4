//! Record encoding: one format byte, then MessagePack. Most records are written with field
//! names (rmp-serde's named encoding), so that they survive added fields (`#[serde(default)]`)
//! and reordering. The two tables with a row per entity — the entity records and their change
//! history — are written positionally ([`encode_compact_into`]): a struct is an array of its
//! fields' values, which halves those tables. A positional type may only grow at its end, with
//! `#[serde(default)]` fields; it never reorders or drops a field. Both formats decode alike.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Format byte of records written by this version: rmp-serde, named fields.
const FORMAT_RMP_NAMED: u8 = 1;
/// Format byte of positional records (see the module's comment).
pub const FORMAT_RMP_COMPACT: u8 = 2;

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_RMP_NAMED];
    rmp_serde::encode::write_named(&mut out, value)
        .map_err(|e| StoreError::Codec { what: std::any::type_name::<T>().to_string(), detail: e.to_string() })?;
    Ok(out)
}

/// [`encode`] into `out` (cleared first, so that a writer of many records reuses one buffer),
/// positionally: for the records kept once per entity (see the module's comment).
pub fn encode_compact_into<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), StoreError> {
    out.clear();
    out.push(FORMAT_RMP_COMPACT);
    rmp_serde::encode::write(out, value)
        .map_err(|e| StoreError::Codec { what: std::any::type_name::<T>().to_string(), detail: e.to_string() })
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let what = || std::any::type_name::<T>().to_string();
    match bytes.split_first() {
        Some((&(FORMAT_RMP_NAMED | FORMAT_RMP_COMPACT), body)) => {
            rmp_serde::from_slice(body).map_err(|e| StoreError::Codec { what: what(), detail: e.to_string() })
        }
        Some((other, _)) => Err(StoreError::Codec { what: what(), detail: format!("unknown record format {other}") }),
        None => Err(StoreError::Codec { what: what(), detail: "empty record".into() }),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Serialize)]
    struct V1 {
        name: String,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct V2 {
        name: String,
        #[serde(default)]
        extra: Option<u32>,
    }

    #[test]
    fn older_records_decode_into_newer_types() {
        let bytes = encode(&V1 { name: "甲".into() }).unwrap();
        assert_eq!(decode::<V2>(&bytes).unwrap(), V2 { name: "甲".into(), extra: None });
    }

    #[test]
    fn encoding_into_a_used_buffer_gives_the_same_bytes() {
        let (mut used, mut fresh) = (vec![7u8; 100], Vec::new());
        encode_compact_into(&mut used, &V1 { name: "乙".into() }).unwrap();
        encode_compact_into(&mut fresh, &V1 { name: "乙".into() }).unwrap();
        assert_eq!(used, fresh);
    }

    #[derive(Serialize)]
    struct Short {
        name: String,
    }

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        A { id: u64, what: String },
        B { id: u64 },
    }

    #[test]
    fn positional_records_grow_at_their_end() {
        let mut buf = Vec::new();
        encode_compact_into(&mut buf, &Short { name: "甲".into() }).unwrap();
        assert_eq!(buf[0], FORMAT_RMP_COMPACT);
        assert_eq!(decode::<V2>(&buf).unwrap(), V2 { name: "甲".into(), extra: None });
        assert!(buf.len() < encode(&Short { name: "甲".into() }).unwrap().len(), "no field names");
    }

    #[test]
    fn internally_tagged_enums_survive_the_positional_form() {
        let mut buf = Vec::new();
        for v in [Tagged::A { id: 7, what: "导入".into() }, Tagged::B { id: 9 }] {
            encode_compact_into(&mut buf, &v).unwrap();
            assert_eq!(decode::<Tagged>(&buf).unwrap(), v);
        }
    }

    #[test]
    fn bad_bytes_are_an_error_not_a_panic() {
        assert!(decode::<V2>(&[]).is_err());
        assert!(decode::<V2>(&[9, 1, 2]).is_err());
        assert!(decode::<V2>(&[1, 0xc1]).is_err());
    }
}
