//! What changed between two versions of a measure, field by field: a line for the version list,
//! and both sides in full with changed lines marked for the side-by-side table.

use serde::Serialize;

use super::MeasureSpec;
use crate::model::enums::Vocabulary;

impl MeasureSpec {
    /// Every changed field with its values before and after, in full, line by line (the
    /// conditions, stages, materials and form fields one per line; the guide and contact as
    /// written). With `plain` (for the public), amount formulas and conditions read in its
    /// words, never as expressions; staff see each condition's label with its expression.
    pub fn field_changes(&self, older: &MeasureSpec, plain: Option<&PlainRules<'_>>) -> Vec<FieldChange> {
        fn opt<T: ToString>(v: &Option<T>) -> Vec<String> {
            vec![v.as_ref().map_or_else(|| "（无）".to_string(), T::to_string)]
        }
        fn text(s: &str) -> Vec<String> {
            if s.trim().is_empty() { vec!["（无）".to_string()] } else { s.lines().map(str::to_string).collect() }
        }
        fn list(items: Vec<String>) -> Vec<String> {
            if items.is_empty() { vec!["（无）".to_string()] } else { items }
        }
        let amount = |a: &Option<String>| match (a, plain) {
            (Some(a), Some(p)) => vec![(p.amount)(a)],
            _ => opt(a),
        };
        let conditions = |s: &MeasureSpec| {
            list(
                s.conditions
                    .iter()
                    .enumerate()
                    .map(|(i, c)| match plain {
                        Some(p) => format!("{}. {}（{}）", i + 1, c.label, (p.condition)(&c.expr)),
                        None => format!("{}. {}〔{}〕", i + 1, c.label, c.expr),
                    })
                    .collect(),
            )
        };
        let stages = |s: &MeasureSpec| {
            list(
                s.review_stages
                    .iter()
                    .map(|r| format!("{}（{} 个工作日，{}）", r.name, r.days, r.role.label()))
                    .collect(),
            )
        };
        let forms = |s: &MeasureSpec| {
            list(
                s.form_fields
                    .iter()
                    .map(|f| {
                        let mut line = format!("{}（{}", f.label, f.kind);
                        if f.required {
                            line.push_str("，必填");
                        }
                        if !f.options.is_empty() {
                            line.push_str(&format!("：{}", f.options.join("、")));
                        }
                        line.push('）');
                        line
                    })
                    .collect(),
            )
        };
        let pairs: Vec<(&str, Vec<String>, Vec<String>)> = vec![
            ("事项名称", vec![older.name.clone()], vec![self.name.clone()]),
            ("类别", vec![older.category.label().into()], vec![self.category.label().into()]),
            ("承办部门", vec![older.department.clone()], vec![self.department.clone()]),
            ("兑现方式", vec![older.mode.label().into()], vec![self.mode.label().into()]),
            ("兑现标准", amount(&older.amount), amount(&self.amount)),
            ("单户上限(万元)", opt(&older.cap), opt(&self.cap)),
            ("资金总额(万元)", opt(&older.budget), opt(&self.budget)),
            ("申报开始", opt(&older.window_start), opt(&self.window_start)),
            ("申报截止", opt(&older.window_end), opt(&self.window_end)),
            ("公示天数", vec![older.publicity_days.to_string()], vec![self.publicity_days.to_string()]),
            ("申报条件", conditions(older), conditions(self)),
            ("审核环节", stages(older), stages(self)),
            ("申报材料", list(older.materials.clone()), list(self.materials.clone())),
            ("申报表字段", forms(older), forms(self)),
            ("联系方式", text(&older.contact), text(&self.contact)),
            ("申报指南", text(&older.guide), text(&self.guide)),
        ];
        pairs
            .into_iter()
            .filter(|(_, old, new)| old != new)
            .map(|(field, old, new)| {
                let (before, after) = line_diff(&old, &new);
                FieldChange { field: field.to_string(), before, after }
            })
            .collect()
    }

    /// Field-by-field differences from `older`, labelled in Chinese, with the rules as written.
    pub fn diff(&self, older: &MeasureSpec) -> Vec<String> {
        self.diff_shown(older, None)
    }

    /// Field-by-field differences from `older`, labelled in Chinese, for the version list. With
    /// `plain` (for the public), amount formulas read through it and conditions by label only.
    pub fn diff_shown(&self, older: &MeasureSpec, plain: Option<&dyn Fn(&str) -> String>) -> Vec<String> {
        fn opt<T: ToString>(v: &Option<T>) -> String {
            v.as_ref().map_or_else(|| "（无）".to_string(), T::to_string)
        }
        let mut out = Vec::new();
        let cmp = |out: &mut Vec<String>, label: &str, old: String, new: String| {
            if old != new {
                out.push(format!("{label}：{old} → {new}"));
            }
        };
        cmp(&mut out, "事项名称", older.name.clone(), self.name.clone());
        cmp(&mut out, "类别", older.category.label().into(), self.category.label().into());
        cmp(&mut out, "承办部门", older.department.clone(), self.department.clone());
        cmp(&mut out, "兑现方式", older.mode.label().into(), self.mode.label().into());
        let amount = |a: &Option<String>| match (a, plain) {
            (Some(a), Some(f)) => f(a),
            _ => opt(a),
        };
        cmp(&mut out, "兑现标准", amount(&older.amount), amount(&self.amount));
        cmp(&mut out, "单户上限(万元)", opt(&older.cap), opt(&self.cap));
        cmp(&mut out, "资金总额(万元)", opt(&older.budget), opt(&self.budget));
        cmp(&mut out, "申报开始", opt(&older.window_start), opt(&self.window_start));
        cmp(&mut out, "申报截止", opt(&older.window_end), opt(&self.window_end));
        cmp(&mut out, "公示天数", older.publicity_days.to_string(), self.publicity_days.to_string());
        let conds = |s: &MeasureSpec| {
            s.conditions
                .iter()
                .map(|c| if plain.is_some() { c.label.clone() } else { format!("{}〔{}〕", c.label, c.expr) })
                .collect::<Vec<_>>()
        };
        let (old_c, new_c) = (conds(older), conds(self));
        for c in new_c.iter().filter(|c| !old_c.contains(c)) {
            out.push(format!("新增条件：{c}"));
        }
        for c in old_c.iter().filter(|c| !new_c.contains(c)) {
            out.push(format!("删除条件：{c}"));
        }
        let stages = |s: &MeasureSpec| {
            s.review_stages.iter().map(|r| format!("{}({}日)", r.name, r.days)).collect::<Vec<_>>().join("、")
        };
        cmp(&mut out, "审核环节", stages(older), stages(self));
        cmp(&mut out, "申报材料", older.materials.join("、"), self.materials.join("、"));
        let forms = |s: &MeasureSpec| s.form_fields.iter().map(|f| f.label.clone()).collect::<Vec<_>>().join("、");
        cmp(&mut out, "申报表字段", forms(older), forms(self));
        if older.contact != self.contact {
            out.push("联系方式已修改".into());
        }
        if older.guide != self.guide {
            out.push("申报指南已修改".into());
        }
        out
    }
}

/// How the public reads rules: amount formulas and condition expressions in plain words.
pub struct PlainRules<'a> {
    pub amount: &'a dyn Fn(&str) -> String,
    pub condition: &'a dyn Fn(&str) -> String,
}

/// One line of one side of a changed field, marked when the other side lacks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub text: String,
    pub changed: bool,
}

/// One changed field of a measure: its label and the values before and after, line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Vec<DiffLine>,
    pub after: Vec<DiffLine>,
}

/// Above this many line pairs a long text is not aligned line by line: every line of both
/// sides is marked (the table still shows both in full).
const LINE_DIFF_MAX_CELLS: usize = 1_000_000;

/// The lines of `old` and `new`, each marked when it is not in their longest common
/// subsequence of lines (a plain line diff).
pub fn line_diff(old: &[String], new: &[String]) -> (Vec<DiffLine>, Vec<DiffLine>) {
    let mark = |lines: &[String], kept: &[bool]| -> Vec<DiffLine> {
        lines.iter().zip(kept).map(|(text, kept)| DiffLine { text: text.clone(), changed: !kept }).collect()
    };
    let (n, m) = (old.len(), new.len());
    let mut kept_old = vec![false; n];
    let mut kept_new = vec![false; m];
    if n.saturating_mul(m) <= LINE_DIFF_MAX_CELLS {
        // lcs[i][j]: the longest common subsequence of old[i..] and new[j..].
        let width = m + 1;
        let mut lcs = vec![0u32; (n + 1) * width];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * width + j] = if old[i] == new[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n && j < m {
            if old[i] == new[j] {
                kept_old[i] = true;
                kept_new[j] = true;
                i += 1;
                j += 1;
            } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    (mark(old, &kept_old), mark(new, &kept_new))
}

#[cfg(test)]
mod tests {
    use super::super::Condition;
    use super::super::tests::spec;
    use super::*;
    use crate::model::Money;

    #[test]
    fn diff_lists_changes() {
        let old = spec();
        let mut new = spec();
        new.cap = Some(Money::from_wan(80));
        new.conditions.push(Condition { label: "无失信".into(), expr: "!dishonest".into() });
        let d = new.diff(&old);
        assert_eq!(d, ["单户上限(万元)：100 → 80", "新增条件：无失信〔!dishonest〕"]);
        assert!(spec().diff(&spec()).is_empty());
    }

    #[test]
    fn field_changes_show_both_sides_in_full() {
        let old = spec();
        let mut new = spec();
        new.guide = "第一步：登录\n第二步：填表\n第三步：提交".into();
        new.conditions[0].expr = "tags.contains(\"high_tech\")".into();
        let mut older = old.clone();
        older.guide = "第一步：登录\n第三步：提交".into();
        let changes = new.field_changes(&older, None);
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["申报条件", "申报指南"]);
        let guide = &changes[1];
        fn texts(lines: &[DiffLine]) -> Vec<(&str, bool)> {
            lines.iter().map(|l| (l.text.as_str(), l.changed)).collect()
        }
        assert_eq!(texts(&guide.before), [("第一步：登录", false), ("第三步：提交", false)]);
        assert_eq!(texts(&guide.after), [("第一步：登录", false), ("第二步：填表", true), ("第三步：提交", false)]);
        // The same label with another expression is a change; the public sees labels only.
        assert!(changes[0].after[0].text.contains("high_tech") && changes[0].after[0].changed);
        let words =
            |e: &str| if e.contains("high_tech") { "持有高新技术企业" } else { "持有科技型中小企业" }.to_string();
        let plain = PlainRules { amount: &|_| "按研发费用计算".to_string(), condition: &words };
        let public = new.field_changes(&older, Some(&plain));
        assert_eq!(public[0].after[0].text, "1. 科技型中小企业（持有高新技术企业）");
        assert!(public.iter().flat_map(|c| c.before.iter().chain(&c.after)).all(|l| !l.text.contains("tags.")));
        assert!(spec().field_changes(&spec(), None).is_empty());
    }

    #[test]
    fn long_texts_are_marked_whole_beyond_the_limit() {
        let a: Vec<String> = (0..1100).map(|i| format!("a{i}")).collect();
        let b: Vec<String> = (0..1000).map(|i| format!("a{i}")).collect();
        let (before, after) = line_diff(&a, &b);
        assert!(before.iter().all(|l| l.changed) && after.iter().all(|l| l.changed));
        let (before, after) = line_diff(&a[..900], &b[..800]);
        assert!(before[..800].iter().all(|l| !l.changed) && before[800..].iter().all(|l| l.changed));
        assert!(after.iter().all(|l| !l.changed));
        assert_eq!(line_diff(&[], &[]), (vec![], vec![]));
    }
}
