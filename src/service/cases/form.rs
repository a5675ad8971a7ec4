//! The application form and its materials: checking what was typed, the checklist of
//! materials, and the form filled in from the entity library.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Date, Entity, Field, FieldError, FieldValue, MeasureVersion, Money, MoneyUnit, Timestamp};
/// Checks the form against the measure's fields: types always, required fields and
/// materials when `submitting`.
pub fn check_form(
    version: &MeasureVersion,
    form: &BTreeMap<String, String>,
    files: &[crate::model::case::CaseFile],
    submitting: bool,
) -> std::result::Result<BTreeMap<String, String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut clean = BTreeMap::new();
    for f in &version.spec.form_fields {
        let name = format!("form.{}", f.key);
        if f.kind == "file" {
            continue;
        }
        let value = form.get(&f.key).map(|v| v.trim().to_string()).unwrap_or_default();
        if value.is_empty() {
            if submitting && f.required {
                errors.push(FieldError::new(&name, format!("「{}」为必填项", f.label)));
            }
            continue;
        }
        let problem = match f.kind.as_str() {
            "number" => value.parse::<f64>().ok().filter(|n| n.is_finite()).is_none().then(|| "应为数字".to_string()),
            "money" => Money::parse(&value, MoneyUnit::Wan).err().map(|e| e.to_string()),
            "date" => Date::parse(&value).err().map(|e| e.to_string()),
            "select" => (!f.options.contains(&value)).then(|| format!("应为以下之一：{}", f.options.join("、"))),
            _ => (value.chars().count() > 5000).then(|| "内容过长（最多 5000 字）".to_string()),
        };
        match problem {
            Some(p) => errors.push(FieldError::new(&name, format!("「{}」{p}", f.label))),
            None => {
                clean.insert(f.key.clone(), value);
            }
        }
    }
    if submitting {
        for slot in material_slots(version, files).iter().filter(|s| s.required && s.files.is_empty()) {
            let is_field = version.spec.form_fields.iter().any(|f| f.kind == "file" && f.key == slot.key);
            let field = if is_field { format!("form.{}", slot.key) } else { format!("material.{}", slot.key) };
            errors.push(FieldError::new(&field, format!("请上传申报材料「{}」", slot.name)));
        }
    }
    if errors.is_empty() { Ok(clean) } else { Err(errors) }
}

/// One slot of an application's materials: a listed material or a file field of the form, with
/// the files uploaded for it — the checklist the enterprise works through.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialSlot {
    /// What an attachment names as its slot: the material's name, or the file field's key.
    pub key: String,
    /// What people read.
    pub name: String,
    /// Must be uploaded before submitting.
    pub required: bool,
    /// A file to upload (not something the platform checks by itself).
    pub upload: bool,
    pub files: Vec<SlotFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlotFile {
    /// Position in the case's files (for download and removal).
    pub index: usize,
    pub name: String,
    pub size: u64,
    pub uploaded_at: Timestamp,
}

/// The material slots of a measure, each once, in the order the measure lists them, then the
/// file fields of its form, then 其他材料; each with the case's files for it. A file whose slot
/// the version no longer names is shown under 其他材料, never lost.
pub fn material_slots(version: &MeasureVersion, files: &[crate::model::case::CaseFile]) -> Vec<MaterialSlot> {
    use crate::model::policy::OTHER_MATERIALS;
    let mut slots: Vec<MaterialSlot> = Vec::new();
    let mut add = |key: &str, name: &str, required: bool, upload: bool| {
        if !slots.iter().any(|s| s.key == key || s.name == name) {
            slots.push(MaterialSlot { key: key.into(), name: name.into(), required, upload, files: Vec::new() });
        }
    };
    for m in &version.spec.materials {
        let upload = material_needs_upload(m);
        add(m, m, upload, upload);
    }
    for f in version.spec.form_fields.iter().filter(|f| f.kind == "file") {
        add(&f.key, &f.label, f.required, true);
    }
    add(OTHER_MATERIALS, OTHER_MATERIALS, false, true);
    for (index, f) in files.iter().enumerate() {
        let file = SlotFile { index, name: f.name.clone(), size: f.size, uploaded_at: f.uploaded_at };
        let at = slots.iter().position(|s| s.key == f.slot).unwrap_or(slots.len().saturating_sub(1));
        if let Some(slot) = slots.get_mut(at) {
            slot.files.push(file);
        }
    }
    slots
}

/// Whether a listed material is a file to upload. Lists also name what the platform checks
/// itself (「无需提交材料（系统核验专利数据）」, 「完税证明（系统共享）」): those need none.
pub fn material_needs_upload(name: &str) -> bool {
    !(name.starts_with("无需") || name.contains("系统"))
}

/// The form as the entity library already knows it: fields whose key names a catalogue field.
pub(super) fn prefill(version: &MeasureVersion, entity: &Entity, today: Date) -> BTreeMap<String, String> {
    let mut form = BTreeMap::new();
    for f in &version.spec.form_fields {
        let known = Field::ALL.iter().find(|x| x.name() == f.key).and_then(|x| entity.get(*x, today));
        if let Some(v) = known {
            let text = match v {
                FieldValue::Money(m) => m.to_string(),
                other => other.to_text(),
            };
            form.insert(f.key.clone(), text);
        }
    }
    form
}
