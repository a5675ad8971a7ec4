//! Templates, static assets and UI strings. Release builds embed `web/`; debug builds re-read
//! it from disk on every use, so a template edit shows on the next reload.

use std::collections::HashMap;
use std::sync::OnceLock;

use blake2::{Blake2b256, Digest};
use minijinja::{Environment, Value};
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "web/templates/"]
struct Templates;

#[derive(RustEmbed)]
#[folder = "web/static/"]
pub struct Static;

/// The UI languages: Simplified Chinese first, English available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" | "zh-CN" | "zh-Hans" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// `key = { zh = "…", en = "…" }` entries of `web/templates/i18n.toml`.
fn load_strings() -> HashMap<String, HashMap<String, String>> {
    let text = Templates::get("i18n.toml").map(|f| String::from_utf8_lossy(&f.data).into_owned()).unwrap_or_default();
    match toml::from_str(&text) {
        Ok(map) => map,
        Err(e) => {
            tracing::error!("web/templates/i18n.toml does not parse: {e}");
            HashMap::new()
        }
    }
}

/// The strings of one language as a template value (`tr.key`); English falls back to Chinese.
pub fn strings(lang: Lang) -> Value {
    fn build(lang: Lang) -> HashMap<String, String> {
        load_strings()
            .into_iter()
            .map(|(k, v)| {
                let text = v.get(lang.code()).or_else(|| v.get("zh")).cloned().unwrap_or_else(|| k.clone());
                (k, text)
            })
            .collect()
    }
    if cfg!(debug_assertions) {
        return to_value(build(lang));
    }
    static ZH: OnceLock<Value> = OnceLock::new();
    static EN: OnceLock<Value> = OnceLock::new();
    match lang {
        Lang::Zh => ZH.get_or_init(|| to_value(build(Lang::Zh))).clone(),
        Lang::En => EN.get_or_init(|| to_value(build(Lang::En))).clone(),
    }
}

/// A short content hash of a static file, for cache-busting names.
pub fn asset_hash(name: &str) -> Option<String> {
    let file = Static::get(name)?;
    let digest = Blake2b256::digest(&file.data);
    Some(digest.iter().take(5).map(|b| format!("{b:02x}")).collect())
}

/// `app.css` → `/static/app.1a2b3c4d5e.css`.
pub fn asset_url(name: &str) -> String {
    match (asset_hash(name), name.rsplit_once('.')) {
        (Some(hash), Some((stem, ext))) => format!("/static/{stem}.{hash}.{ext}"),
        _ => format!("/static/{name}"),
    }
}

/// Splits `app.1a2b3c4d5e.css` into (`app.css`, Some(hash)).
pub fn split_asset_name(requested: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = requested.split('.').collect();
    if parts.len() >= 3 {
        let hash = parts[parts.len() - 2];
        if hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut name: Vec<&str> = parts[..parts.len() - 2].to_vec();
            name.push(parts[parts.len() - 1]);
            return (name.join("."), Some(hash.to_string()));
        }
    }
    (requested.to_string(), None)
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_loader(|name| Ok(Templates::get(name).map(|f| String::from_utf8_lossy(&f.data).into_owned())));
    env.add_function("asset", |name: String| asset_url(&name));
    // A stored time (milliseconds since 1970, as records serialise it) as people read it:
    // `YYYY-MM-DD HH:mm`, China Standard Time. Text passes through.
    env.add_filter("datetime", |v: Value| -> String {
        match i64::try_from(v.clone()) {
            Ok(ms) => crate::model::Timestamp(ms).display_cst(),
            Err(_) if v.is_none() || v.is_undefined() => String::new(),
            Err(_) => v.to_string(),
        }
    });
    // A file's size as people read it: 980 B, 12.5 KB, 3.2 MB.
    env.add_filter("filesize", |v: Value| -> String {
        let Ok(bytes) = u64::try_from(v.clone()) else { return v.to_string() };
        match bytes {
            0..1024 => format!("{bytes} B"),
            1024..1_048_576 => format!("{:.1} KB", bytes as f64 / 1024.0),
            _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
        }
    });
    // A closed vocabulary's value as people read it, in the page's language:
    // `label('case_state', c.state)`.
    // Macros of imported templates do not see the page's `lang`: they pass it (`tr.lang_code`).
    env.add_function("label", |state: &minijinja::State, kind: String, key: Value, lang: Option<String>| -> String {
        let en = match lang {
            Some(l) => l == "en",
            None => state.lookup("lang").is_some_and(|l| l.as_str() == Some("en")),
        };
        let key = key.as_str().map_or_else(|| key.to_string(), str::to_string);
        vocabulary_label(&kind, &key, en).unwrap_or(key)
    });
    // Fen as yuan with two places, exactly (integers only).
    env.add_filter("yuan", |v: Value| -> String {
        match i64::try_from(v.clone()) {
            Ok(fen) => crate::model::payment::yuan(fen),
            Err(_) => v.to_string(),
        }
    });
    env.add_filter("wan", |v: Value| -> String {
        match f64::try_from(v.clone()) {
            Ok(f) => crate::model::fields::format_number((f * 10_000.0).round() / 10_000.0),
            Err(_) => v.to_string(),
        }
    });
    env
}

/// The label of `key` in the closed vocabulary `kind` (see the `label` template function).
pub fn vocabulary_label(kind: &str, key: &str, en: bool) -> Option<String> {
    use crate::model::case::{CaseActionKind, CaseState};
    use crate::model::message::MessageKind;
    use crate::model::push::{Channel, DeliveryStatus};
    use crate::model::supervision::{NoticeKind, SupervisionStatus};
    use crate::model::*;
    fn find<V: Vocabulary>(key: &str, en: bool) -> Option<String> {
        V::ALL.iter().find(|v| v.key() == key).map(|v| (if en { v.label_en() } else { v.label() }).to_string())
    }
    match kind {
        "case_state" => find::<CaseState>(key, en),
        "case_action" => find::<CaseActionKind>(key, en),
        "fail_reason" => find::<crate::model::case::FailReason>(key, en),
        "origin" => find::<crate::model::case::Origin>(key, en),
        "list_state" => find::<crate::model::auto_list::ListState>(key, en),
        "objection_state" => find::<crate::model::disclosure::ObjectionState>(key, en),
        "relation" => find::<crate::model::disclosure::Relation>(key, en),
        "batch_state" => find::<crate::model::payment::BatchState>(key, en),
        "role" => find::<Role>(key, en),
        "mode" => find::<Mode>(key, en),
        "category" => find::<Category>(key, en),
        "level" => find::<Level>(key, en),
        "entity_type" => find::<EntityType>(key, en),
        "ownership" => find::<Ownership>(key, en),
        "reg_status" => find::<RegStatus>(key, en),
        "tax_credit" => find::<TaxCredit>(key, en),
        "size_class" => find::<SizeClass>(key, en),
        "capacity" => find::<Capacity>(key, en),
        "binding_status" => find::<BindingStatus>(key, en),
        "binding_method" => find::<BindingMethod>(key, en),
        "token_scope" => find::<TokenScope>(key, en),
        "message_kind" => find::<MessageKind>(key, en),
        "channel" => find::<Channel>(key, en),
        "delivery_status" => find::<DeliveryStatus>(key, en),
        "supervision_status" => find::<SupervisionStatus>(key, en),
        "notice_kind" => find::<NoticeKind>(key, en),
        "audit_action" => Some(crate::model::audit::action_label(key, en)),
        _ => None,
    }
}

/// Renders `name` with `ctx`. Templates end in `.html`, so auto-escaping is on.
pub fn render(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    if cfg!(debug_assertions) {
        return environment().get_template(name)?.render(ctx);
    }
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(environment).get_template(name)?.render(ctx)
}

/// Any serializable value as a template value.
pub fn to_value<T: Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_asset_names_round_trip() {
        let url = asset_url("app.css");
        let file = url.trim_start_matches("/static/");
        let (name, hash) = split_asset_name(file);
        assert_eq!(name, "app.css");
        assert_eq!(hash, asset_hash("app.css"));
        assert_eq!(split_asset_name("app.css"), ("app.css".to_string(), None));
    }

    #[test]
    fn every_key_has_both_languages() {
        let strings = load_strings();
        assert!(strings.len() > 50);
        for (key, v) in &strings {
            assert!(v.contains_key("zh") && v.contains_key("en"), "{key} lacks a language");
        }
    }

    /// Every case state says what comes next, to the enterprise and to the department, in both
    /// languages; every vocabulary the templates name has labels in both.
    #[test]
    fn every_state_and_vocabulary_reads_in_both_languages() {
        use crate::model::Vocabulary;
        use crate::model::case::CaseState;
        let strings = load_strings();
        for s in CaseState::ALL {
            for prefix in ["next_step_", "staff_next_step_"] {
                assert!(strings.contains_key(&format!("{prefix}{}", s.key())), "{prefix}{} missing", s.key());
            }
            assert_eq!(vocabulary_label("case_state", s.key(), true).as_deref(), Some(s.label_en()));
            assert_eq!(vocabulary_label("case_state", s.key(), false).as_deref(), Some(s.label()));
        }
        assert_eq!(vocabulary_label("role", "sysadmin", false).as_deref(), Some("系统管理员"));
        assert_eq!(vocabulary_label("no_such_kind", "x", false), None);
        let html = |lang: &str| {
            let env = environment();
            let t = env.template_from_str("{{ label('case_state', 'returned') }}").unwrap();
            t.render(minijinja::context! { lang => lang }).unwrap()
        };
        assert_eq!(html("zh"), "待补正");
        assert_eq!(html("en"), "Returned for supplement");
    }
}
