//! Record encoding: one format byte, then MessagePack with field names (rmp-serde's named
//! encoding), so that records survive added fields (`#[serde(default)]`) and reordering.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Format byte of records written by this version: rmp-serde, named fields.
const FORMAT_RMP_NAMED: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![FORMAT_RMP_NAMED];
    rmp_serde::encode::write_named(&mut out, value)
        .map_err(|e| StoreError::Codec { what: std::any::type_name::<T>().to_string(), detail: e.to_string() })?;
    Ok(out)
}

/// [`encode`] into `out`, which is cleared first: a writer of many records reuses one buffer.
pub fn encode_into<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), StoreError> {
    out.clear();
    out.push(FORMAT_RMP_NAMED);
    rmp_serde::encode::write_named(out, value)
        .map_err(|e| StoreError::Codec { what: std::any::type_name::<T>().to_string(), detail: e.to_string() })
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let what = || std::any::type_name::<T>().to_string();
    match bytes.split_first() {
        Some((&FORMAT_RMP_NAMED, body)) => {
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
        let mut buf = vec![7u8; 100];
        encode_into(&mut buf, &V1 { name: "乙".into() }).unwrap();
        assert_eq!(buf, encode(&V1 { name: "乙".into() }).unwrap());
    }

    #[test]
    fn bad_bytes_are_an_error_not_a_panic() {
        assert!(decode::<V2>(&[]).is_err());
        assert!(decode::<V2>(&[9, 1, 2]).is_err());
        assert!(decode::<V2>(&[1, 0xc1]).is_err());
    }
}
