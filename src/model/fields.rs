//! The field catalogue of the entity library (DESIGN §3): every field's name, labels, type and
//! unit, and the parsing of one text cell into a typed value. Rules, import, export and pages
//! all read field metadata from here.

use serde::Serialize;

use super::codes::{CreditCode, IndustryCode, RegionCode};
use super::date::Date;
use super::enums::{EntityType, Ownership, RegStatus, SizeClass, TaxCredit, Vocabulary};
use super::money::{Money, MoneyUnit};
use super::tags::{TagDictionary, TagHolding};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Enum,
    Region,
    Industry,
    Date,
    Money,
    Int,
    Percent,
    Number,
    Bool,
    Tags,
    Year,
}

macro_rules! fields {
    ($($variant:ident = $name:literal, $zh:literal, $en:literal, $ty:ident, $unit:expr, $derived:literal, $rule:literal;)+) => {
        /// One field of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field { $($variant,)+ }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant,)+];

            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)+ }
            }
            pub fn label(self) -> &'static str {
                match self { $(Field::$variant => $zh,)+ }
            }
            pub fn label_en(self) -> &'static str {
                match self { $(Field::$variant => $en,)+ }
            }
            pub const fn ty(self) -> FieldType {
                match self { $(Field::$variant => FieldType::$ty,)+ }
            }
            /// The unit rules and files use: 万元 for money, % for percentages.
            pub fn unit(self) -> Option<&'static str> {
                match self { $(Field::$variant => $unit,)+ }
            }
            /// Computed from other fields; never written directly.
            pub fn derived(self) -> bool {
                match self { $(Field::$variant => $derived,)+ }
            }
            /// Part of the portrait that rules see (contact details are not).
            pub fn in_rules(self) -> bool {
                match self { $(Field::$variant => $rule,)+ }
            }
        }
    };
}

fields! {
    CreditCode = "credit_code", "统一社会信用代码", "Unified social credit code", Text, None, false, true;
    Name = "name", "名称", "Name", Text, None, false, true;
    EntityType = "entity_type", "主体类型", "Entity type", Enum, None, false, true;
    Ownership = "ownership", "企业性质", "Ownership", Enum, None, false, true;
    Status = "status", "登记状态", "Registration status", Enum, None, false, true;
    Region = "region", "所在地", "Region", Region, None, false, true;
    Industry = "industry", "行业", "Industry", Industry, None, false, true;
    Established = "established", "成立日期", "Established", Date, None, false, true;
    AgeYears = "age_years", "成立年限", "Age (years)", Number, Some("年"), true, true;
    RegisteredCapital = "registered_capital", "注册资本", "Registered capital", Money, Some("万元"), false, true;
    Employees = "employees", "从业人数", "Employees", Int, Some("人"), false, true;
    FiscalYear = "fiscal_year", "财务数据年度", "Fiscal year of figures", Year, None, false, false;
    Revenue = "revenue", "营业收入", "Revenue (last year)", Money, Some("万元"), false, true;
    RevenuePrev = "revenue_prev", "上年度营业收入", "Revenue (year before)", Money, Some("万元"), false, true;
    RevenueGrowth = "revenue_growth", "营收增长率", "Revenue growth", Percent, Some("%"), true, true;
    TotalAssets = "total_assets", "资产总额", "Total assets", Money, Some("万元"), false, true;
    TaxPaid = "tax_paid", "纳税总额", "Tax paid", Money, Some("万元"), false, true;
    RdExpense = "rd_expense", "研发费用", "R&D expense", Money, Some("万元"), false, true;
    RdExpensePrev = "rd_expense_prev", "上年度研发费用", "R&D expense (year before)", Money, Some("万元"), false, true;
    RdRatio = "rd_ratio", "研发投入占比", "R&D ratio", Percent, Some("%"), true, true;
    TechStaffRatio = "tech_staff_ratio", "科技人员占比", "Tech staff ratio", Percent, Some("%"), false, true;
    InventionPatents = "invention_patents", "发明专利数", "Invention patents", Int, Some("件"), false, true;
    ExportValue = "export_value", "出口额", "Export value", Money, Some("万元"), false, true;
    GraduateHires = "graduate_hires", "吸纳高校毕业生数", "Graduates hired", Int, Some("人"), false, true;
    UiPremiumPaid = "ui_premium_paid", "失业保险缴费", "Unemployment insurance paid", Money, Some("万元"), false, true;
    LayoffRate = "layoff_rate", "裁员率", "Layoff rate", Percent, Some("%"), false, true;
    SizeClass = "size_class", "企业规模", "Size class", Enum, None, true, true;
    Tags = "tags", "资质标签", "Qualifications", Tags, None, false, true;
    TaxCredit = "tax_credit", "纳税信用等级", "Tax credit grade", Enum, None, false, true;
    Dishonest = "dishonest", "失信主体", "Listed as dishonest", Bool, None, false, true;
    MajorViolation = "major_violation", "重大违法违规", "Major violation", Bool, None, false, true;
    BarredUntil = "barred_until", "限制享受政策至", "Barred from measures until", Date, None, true, true;
    ContactPerson = "contact_person", "联系人", "Contact person", Text, None, false, false;
    ContactPhone = "contact_phone", "联系电话", "Contact phone", Text, None, false, false;
    ContactEmail = "contact_email", "电子邮箱", "Contact e-mail", Text, None, false, false;
    Address = "address", "经营地址", "Address", Text, None, false, false;
    LegalRep = "legal_rep", "法定代表人", "Legal representative", Text, None, false, false;
    LegalRepId = "legal_rep_id", "法定代表人证件号码", "Legal representative's ID number", Text, None, false, false;
}

impl Field {
    pub fn by_name(name: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Who the entity is rather than how it is doing: its legal form, ownership, registration
    /// and status, where it is registered, its industry and its founding date (and so its age).
    /// A condition failed only on these is not a near miss: the entity cannot act to meet it.
    pub fn is_identity(self) -> bool {
        matches!(
            self,
            Field::CreditCode
                | Field::Name
                | Field::EntityType
                | Field::Ownership
                | Field::Status
                | Field::Region
                | Field::Industry
                | Field::Established
                | Field::AgeYears
                | Field::BarredUntil
        )
    }

    /// The fields a person or a file may write.
    pub fn writable() -> impl Iterator<Item = Field> {
        Field::ALL.iter().copied().filter(|f| !f.derived())
    }

    /// The header an export writes: `营业收入(万元)`.
    pub fn header(self) -> String {
        match (self.ty(), self.unit()) {
            (FieldType::Money | FieldType::Percent, Some(unit)) => format!("{}({unit})", self.label()),
            _ => self.label().to_string(),
        }
    }

    /// The allowed values of an enum field as (key, label) pairs.
    pub fn choices(self) -> Vec<(&'static str, &'static str)> {
        fn pairs<V: Vocabulary>() -> Vec<(&'static str, &'static str)> {
            V::ALL.iter().map(|v| (v.key(), v.label())).collect()
        }
        match self {
            Field::EntityType => pairs::<EntityType>(),
            Field::Ownership => pairs::<Ownership>(),
            Field::Status => pairs::<RegStatus>(),
            Field::TaxCredit => pairs::<TaxCredit>(),
            Field::SizeClass => pairs::<SizeClass>(),
            Field::Dishonest | Field::MajorViolation => vec![("true", "是"), ("false", "否")],
            _ => Vec::new(),
        }
    }
}

/// A typed value of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    CreditCode(CreditCode),
    EntityType(EntityType),
    Ownership(Ownership),
    Status(RegStatus),
    TaxCredit(TaxCredit),
    SizeClass(SizeClass),
    Region(RegionCode),
    Industry(IndustryCode),
    Date(Date),
    Money(Money),
    Int(i64),
    Percent(f64),
    Number(f64),
    Bool(bool),
    Tags(Vec<TagHolding>),
}

/// Shortest text that reads back to the same f64.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

impl FieldValue {
    /// The canonical text: what export writes and import reads back unchanged.
    pub fn to_text(&self) -> String {
        match self {
            FieldValue::Text(s) => s.clone(),
            FieldValue::CreditCode(c) => c.to_string(),
            FieldValue::EntityType(v) => v.key().into(),
            FieldValue::Ownership(v) => v.key().into(),
            FieldValue::Status(v) => v.key().into(),
            FieldValue::TaxCredit(v) => v.key().into(),
            FieldValue::SizeClass(v) => v.key().into(),
            FieldValue::Region(r) => r.to_string(),
            FieldValue::Industry(i) => i.to_string(),
            FieldValue::Date(d) => d.to_string(),
            FieldValue::Money(m) => m.format(MoneyUnit::Wan),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::Percent(p) | FieldValue::Number(p) => format_number(*p),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Tags(tags) => tags.iter().map(TagHolding::to_text).collect::<Vec<_>>().join(";"),
        }
    }

    /// For people: labels instead of keys, units attached.
    pub fn display(&self, tags: &TagDictionary) -> String {
        match self {
            FieldValue::EntityType(v) => v.label().into(),
            FieldValue::Ownership(v) => v.label().into(),
            FieldValue::Status(v) => v.label().into(),
            FieldValue::TaxCredit(v) => v.label().into(),
            FieldValue::SizeClass(v) => v.label().into(),
            FieldValue::Region(r) => format!("{} {}", r, super::reference::region_full_name(r.as_str())),
            FieldValue::Industry(i) => super::reference::industry_label(i.as_str()),
            FieldValue::Money(m) => format!("{} 万元", m.format(MoneyUnit::Wan)),
            FieldValue::Percent(p) => format!("{}%", format_number((p * 100.0).round() / 100.0)),
            FieldValue::Number(p) => format_number((p * 100.0).round() / 100.0),
            FieldValue::Bool(b) => if *b { "是" } else { "否" }.into(),
            FieldValue::Tags(list) => list
                .iter()
                .map(|t| {
                    let label = tags.label(&t.key);
                    match (t.since, t.until) {
                        (None, None) => label,
                        (s, u) => format!(
                            "{label}（{}–{}）",
                            s.map(|d| d.to_string()).unwrap_or_default(),
                            u.map(|d| d.to_string()).unwrap_or_default()
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("、"),
            other => other.to_text(),
        }
    }
}

/// What a cell parse needs to know besides the text.
pub struct ParseContext<'a> {
    pub today: Date,
    pub tags: &'a TagDictionary,
    /// The unit of money cells in this column (万元 unless the header says 元).
    pub money_unit: MoneyUnit,
}

/// The literal that clears a value in an import file (an empty cell leaves it unchanged).
pub const CLEAR_MARK: &str = "null";

fn bool_of(t: &str) -> Option<bool> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "1" | "是" | "yes" | "y" => Some(true),
        "false" | "0" | "否" | "no" | "n" => Some(false),
        _ => None,
    }
}

fn vocab<V: Vocabulary>(field: Field, t: &str, wrap: fn(V) -> FieldValue) -> Result<FieldValue, String> {
    V::parse(t).map(wrap).ok_or_else(|| format!("「{t}」不是有效的{}，可填：{}", field.label(), V::choices()))
}

fn non_negative_int(field: Field, t: &str) -> Result<i64, String> {
    let v: i64 = t.parse().map_err(|_| format!("{}应为整数，「{t}」不是整数", field.label()))?;
    if v < 0 {
        return Err(format!("{}不能为负数（填写的是 {t}）", field.label()));
    }
    Ok(v)
}

/// Parses one non-empty cell for `field`. Range checks live here: amounts and counts are
/// non-negative, dates are not in the future, percentages lie within 0–100.
pub fn parse_value(field: Field, text: &str, ctx: &ParseContext<'_>) -> Result<FieldValue, String> {
    let t = text.trim();
    if field.derived() {
        return Err(format!("{}由系统计算，不能直接填写", field.label()));
    }
    Ok(match field {
        Field::CreditCode => FieldValue::CreditCode(CreditCode::parse(t).map_err(|e| e.to_string())?),
        Field::EntityType => vocab(field, t, FieldValue::EntityType)?,
        Field::Ownership => vocab(field, t, FieldValue::Ownership)?,
        Field::Status => vocab(field, t, FieldValue::Status)?,
        Field::TaxCredit => vocab(field, t, FieldValue::TaxCredit)?,
        Field::Region => FieldValue::Region(RegionCode::parse(t).map_err(|e| e.to_string())?),
        Field::Industry => FieldValue::Industry(IndustryCode::parse(t).map_err(|e| e.to_string())?),
        Field::Tags => FieldValue::Tags(TagHolding::parse_list(t, ctx.tags, ctx.today)?),
        Field::Dishonest | Field::MajorViolation => FieldValue::Bool(
            bool_of(t).ok_or_else(|| format!("{}应填 是/否、true/false 或 1/0，「{t}」无法识别", field.label()))?,
        ),
        Field::FiscalYear => {
            let y: i32 = t.parse().map_err(|_| format!("财务数据年度应为四位年份，「{t}」不是年份"))?;
            if !(1949..=ctx.today.year()).contains(&y) {
                return Err(format!("财务数据年度 {y} 不在 1949–{} 之间", ctx.today.year()));
            }
            FieldValue::Int(i64::from(y))
        }
        _ => match field.ty() {
            FieldType::Text => {
                if t.chars().count() > 500 {
                    return Err(format!("{}过长（{} 字，最多 500 字）", field.label(), t.chars().count()));
                }
                super::text::check(field.label(), t, false)?;
                if field == Field::ContactEmail && !t.contains('@') {
                    return Err(format!("电子邮箱「{t}」格式不对"));
                }
                if field == Field::LegalRepId {
                    super::mask::check_id_number(t)?;
                }
                FieldValue::Text(t.to_string())
            }
            FieldType::Date => {
                let d = Date::parse(t).map_err(|e| e.to_string())?;
                if d > ctx.today {
                    return Err(format!("{}「{d}」晚于今天（{}），不能是将来的日期", field.label(), ctx.today));
                }
                FieldValue::Date(d)
            }
            FieldType::Money => {
                let m = Money::parse(t, ctx.money_unit).map_err(|e| e.to_string())?;
                if m.fen() < 0 {
                    return Err(format!("{}不能为负数（填写的是 {t}）", field.label()));
                }
                FieldValue::Money(m)
            }
            FieldType::Int => FieldValue::Int(non_negative_int(field, t)?),
            FieldType::Percent => {
                let p: f64 = t
                    .trim_end_matches('%')
                    .trim()
                    .parse()
                    .map_err(|_| format!("{}应为 0–100 之间的数字（百分比），「{t}」不是数字", field.label()))?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("{}应在 0–100 之间，填写的是 {t}", field.label()));
                }
                FieldValue::Percent(p)
            }
            _ => return Err(format!("{}不能直接填写", field.label())),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(tags: &TagDictionary) -> ParseContext<'_> {
        ParseContext { today: Date::parse("2026-11-27").unwrap(), tags, money_unit: MoneyUnit::Wan }
    }

    #[test]
    fn every_field_has_a_unique_name_and_label() {
        let mut names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
        let mut labels: Vec<_> = Field::ALL.iter().map(|f| f.label()).collect();
        names.sort();
        names.dedup();
        labels.sort();
        labels.dedup();
        assert_eq!(names.len(), Field::ALL.len());
        assert_eq!(labels.len(), Field::ALL.len());
        assert_eq!(Field::by_name("rd_ratio"), Some(Field::RdRatio));
        assert_eq!(Field::Revenue.header(), "营业收入(万元)");
    }

    #[test]
    fn range_checks() {
        let tags = TagDictionary::default();
        let c = ctx(&tags);
        assert!(parse_value(Field::Revenue, "-1", &c).unwrap_err().contains("负数"));
        assert!(parse_value(Field::Employees, "-3", &c).unwrap_err().contains("负数"));
        assert!(parse_value(Field::Established, "2027-01-01", &c).unwrap_err().contains("将来"));
        assert!(parse_value(Field::LayoffRate, "101", &c).unwrap_err().contains("0–100"));
        assert_eq!(parse_value(Field::LayoffRate, "5.5%", &c), Ok(FieldValue::Percent(5.5)));
        assert_eq!(parse_value(Field::Dishonest, "否", &c), Ok(FieldValue::Bool(false)));
        assert_eq!(parse_value(Field::Dishonest, "1", &c), Ok(FieldValue::Bool(true)));
        assert_eq!(parse_value(Field::EntityType, "企业", &c), Ok(FieldValue::EntityType(EntityType::Enterprise)));
        assert!(parse_value(Field::EntityType, "公司", &c).unwrap_err().contains("enterprise（企业）"));
        assert!(parse_value(Field::RdRatio, "3", &c).unwrap_err().contains("系统计算"));
        let yuan = ParseContext { money_unit: MoneyUnit::Yuan, ..ctx(&tags) };
        assert_eq!(parse_value(Field::Revenue, "15000", &yuan), Ok(FieldValue::Money(Money(1_500_000))));
    }
}
