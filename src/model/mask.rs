//! Personal data — phone numbers, e-mail addresses, ID numbers — shown masked to roles that do
//! not need it, and the check of a resident ID number.

use super::fields::Field;

/// The entity fields that hold personal data.
pub const PERSONAL_FIELDS: [Field; 3] = [Field::ContactPhone, Field::ContactEmail, Field::LegalRepId];

pub fn is_personal(field: &str) -> bool {
    PERSONAL_FIELDS.iter().any(|f| f.name() == field)
}

/// Keeps `head` leading and `tail` trailing characters and stars the rest.
fn keep(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len().max(4));
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `13812345678` → `138****5678`; other numbers keep their last four digits.
pub fn phone(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() == 11 && t.starts_with('1') { keep(t, 3, 4) } else { keep(t, 0, 4) }
}

/// `230102199001011234` → `230***********1234`.
pub fn id_number(text: &str) -> String {
    keep(text.trim(), 3, 4)
}

/// `zhang@example.com` → `z***@example.com`.
pub fn email(text: &str) -> String {
    match text.trim().split_once('@') {
        Some((user, domain)) => format!("{}***@{domain}", user.chars().next().unwrap_or('*')),
        None => keep(text, 1, 0),
    }
}

/// The masked form of a personal field's value (other fields unchanged).
pub fn value(field: &str, text: &str) -> String {
    match field {
        "contact_phone" => phone(text),
        "contact_email" => email(text),
        "legal_rep_id" => id_number(text),
        _ => text.to_string(),
    }
}

/// Masks an entity's personal fields in place.
pub fn entity(e: &mut super::Entity) {
    for (value, masker) in [
        (&mut e.contact_phone, phone as fn(&str) -> String),
        (&mut e.contact_email, email),
        (&mut e.legal_rep_id, id_number),
    ] {
        if let Some(v) = value.as_mut() {
            *v = masker(v);
        }
    }
}

/// Masks the personal fields' old and new values in change histories.
pub fn changes(history: &mut [super::ChangeSet]) {
    for set in history {
        for c in &mut set.changes {
            if is_personal(&c.field) {
                c.old = c.old.as_deref().map(|v| value(&c.field, v));
                c.new = c.new.as_deref().map(|v| value(&c.field, v));
            }
        }
    }
}

/// A resident ID (GB 11643: 17 digits and an ISO 7064 MOD 11-2 check character), an old
/// 15-digit one, or another document number (passport, permits: 5–20 letters and digits).
pub fn check_id_number(text: &str) -> Result<(), String> {
    let t = text.trim().to_ascii_uppercase();
    let digits17 = t.len() == 18 && t[..17].bytes().all(|b| b.is_ascii_digit());
    if digits17 {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let sum: u32 = t.bytes().take(17).zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
        let expected = CHECK[(sum % 11) as usize];
        return if t.as_bytes()[17] == expected {
            Ok(())
        } else {
            Err(format!("身份证号码「{}」校验位不对，请核对", id_number(&t)))
        };
    }
    let other = (5..=20).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric());
    if other {
        Ok(())
    } else {
        Err("证件号码应为 18 位身份证号码，或 5–20 位字母数字的其他证件号码".into())
    }
}

/// A valid resident ID number built from its first 17 digits (for generated demo data).
pub fn with_id_check(first17: &str) -> Option<String> {
    (0..11u8)
        .map(|i| format!("{first17}{}", b"10X98765432"[i as usize] as char))
        .find(|candidate| check_id_number(candidate).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(phone("0451-86661234"), "*********1234");
        assert_eq!(id_number("11010519491231002X"), "110***********002X");
        assert_eq!(email("zhang@example.com"), "z***@example.com");
        assert_eq!(phone("12"), "****");
    }

    #[test]
    fn id_numbers() {
        assert!(check_id_number("11010519491231002X").is_ok(), "the GB 11643 example");
        assert!(check_id_number("110105194912310021").is_err(), "wrong check character");
        assert!(check_id_number("E12345678").is_ok(), "a passport number");
        assert!(check_id_number("12-34").is_err());
        let built = with_id_check("23010219900101123").unwrap();
        assert!(check_id_number(&built).is_ok());
    }
}
