//! Query strings shared by pages and the API: the policy and entity list filters.

use serde::Deserialize;

use super::pages::empty_as_none;
use crate::model::{Category, Level, Mode, SizeClass};
use crate::service::entities::EntityQuery;
use crate::service::policies::PolicyQuery;

fn truthy(s: &str) -> bool {
    matches!(s, "1" | "true" | "on" | "yes")
}

/// `?q=&level=&category=&department=&mode=&open=` (also `open_now=`) `&drafts=`.
#[derive(Debug, Deserialize, Default)]
pub struct PolicyListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub level: Option<Level>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub category: Option<Category>,
    #[serde(default)]
    pub department: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub mode: Option<Mode>,
    #[serde(default, alias = "open_now")]
    pub open: String,
    /// Staff only: show unpublished drafts.
    #[serde(default)]
    pub drafts: String,
}

impl PolicyListParams {
    pub fn query(&self) -> PolicyQuery {
        PolicyQuery {
            q: self.q.clone(),
            level: self.level,
            category: self.category,
            department: self.department.clone(),
            mode: self.mode,
            open_now: truthy(&self.open),
        }
    }

    pub fn drafts(&self) -> bool {
        truthy(&self.drafts)
    }
}

/// `?q=&region=&industry=&size_class=&tag=&status=&warnings=&after=&limit=`.
#[derive(Debug, Deserialize, Default)]
pub struct EntityListParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub industry: String,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub size_class: Option<SizeClass>,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub warnings: String,
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub limit: Option<usize>,
}

impl EntityListParams {
    pub fn query(&self, default_limit: usize) -> EntityQuery {
        EntityQuery {
            q: self.q.clone(),
            region: self.region.clone(),
            industry: self.industry.clone(),
            size_class: self.size_class,
            tag: self.tag.clone(),
            status: self.status.clone(),
            warnings: truthy(&self.warnings),
            after: self.after,
            limit: self.limit.unwrap_or(default_limit),
            within: Vec::new(),
        }
    }
}

/// The review queue's filters as a query string: `state`, `overdue`, `measure`, `q`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct CaseQueueParams {
    pub state: String,
    pub overdue: String,
    pub measure: String,
    pub q: String,
    pub offset: String,
    pub limit: String,
    /// `due` (default), `submitted`, `entity` or `amount`.
    pub sort: String,
    /// `asc` (default) or `desc`.
    pub order: String,
}

impl CaseQueueParams {
    /// The filter; a state or measure that does not parse is an error naming what to fix.
    pub fn filter(&self) -> Result<crate::service::cases::CaseFilter, String> {
        use crate::model::Vocabulary;
        use crate::model::case::CaseState;
        let state = match self.state.trim() {
            "" | "all" => None,
            s => Some(CaseState::parse(s).ok_or_else(|| format!("state 应为 {}", CaseState::choices()))?),
        };
        let measure = match self.measure.trim() {
            "" => None,
            m => Some(m.parse::<u64>().map_err(|_| format!("measure 应为政策事项编号，不是「{m}」"))?),
        };
        let number = |name: &str, text: &str| match text.trim() {
            "" => Ok(0),
            t => t.parse::<usize>().map_err(|_| format!("{name} 应为非负整数，不是「{t}」")),
        };
        Ok(crate::service::cases::CaseFilter {
            state,
            overdue: matches!(self.overdue.trim(), "1" | "true" | "yes" | "on"),
            measure,
            q: self.q.trim().to_string(),
            offset: number("offset", &self.offset)?,
            limit: number("limit", &self.limit)?,
            sort: crate::service::cases::QueueSort::parse(self.sort.trim()).ok_or_else(|| {
                format!("sort 应为 {} 之一，不是「{}」", crate::service::cases::QueueSort::KEYS, self.sort.trim())
            })?,
            desc: match self.order.trim() {
                "" | "asc" => false,
                "desc" => true,
                o => return Err(format!("order 应为 asc 或 desc，不是「{o}」")),
            },
        })
    }
}
