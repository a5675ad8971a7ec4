//! Pages that show several things at once, each read as one use-case: the measure page (the
//! measure, its policy, what staff may do with it, a simulation for those who may simulate,
//! the enterprise's 我要申报) and an enterprise's page of its own entity. The service decides
//! what the caller sees; the handler renders it.

use serde::Serialize;

use super::cases::CaseView;
use super::entities::EntityFile;
use super::inbox::own_entity;
use super::matching::{MeasureMatch, Simulation};
use super::measures::MeasureActions;
use super::policies::{Audience, MeasureView, PolicyView, VersionEntry};
use super::receipts::ApplyOption;
use super::{Result, Service};
use crate::model::{CreditCode, MeasureId, Policy, Role, TagDef, Who};

/// The measure page.
#[derive(Debug, Serialize)]
pub struct MeasurePage {
    pub measure: MeasureView,
    pub policy: Policy,
    /// What the version shown would mean over the whole entity library (staff who simulate).
    pub simulation: Option<Simulation>,
    /// What this member of staff may do with the measure.
    pub actions: MeasureActions,
    /// The enterprise account's entities, each with its case for this measure.
    pub apply_options: Vec<ApplyOption>,
}

/// An enterprise's own entity: its file unmasked, its matches, its cases, unread messages.
#[derive(Debug, Serialize)]
pub struct OwnEntityPage {
    pub file: EntityFile,
    pub matches: Vec<MeasureMatch>,
    pub cases: Vec<CaseView>,
    pub unread: usize,
}

/// Which measure form: a new measure in a policy, or the draft of a measure.
#[derive(Debug, Clone, Copy)]
pub enum MeasureFormFor {
    New { policy: u64 },
    Edit(MeasureId),
}

/// What the measure form shows around the fields: the policy, the measure being edited, the
/// departments and tags to choose from.
#[derive(Debug, Serialize)]
pub struct MeasureFormPage {
    pub policy: PolicyView,
    pub measure: Option<MeasureView>,
    pub departments: Vec<String>,
    pub tags: Vec<TagDef>,
}

/// A measure's versions page: every version the caller may see, and the measure with its policy.
#[derive(Debug, Serialize)]
pub struct VersionsPage {
    pub versions: Vec<VersionEntry>,
    pub measure: MeasureView,
    pub policy: Policy,
}

/// Staff see every version and what a draft would mean; the public the version in force.
pub fn audience_of(who: &Who) -> Audience {
    if who.role.is_some_and(Role::is_staff) { Audience::Staff } else { Audience::Public }
}

impl Service {
    pub fn measure_page(&self, who: &Who, id: MeasureId) -> Result<MeasurePage> {
        let (measure, policy) = self.measure_get(id, audience_of(who))?;
        let may_simulate = who.role.is_some_and(|r| crate::auth::Permission::Simulate.granted_to(r));
        // A simulation that cannot run (a draft's rules no longer check) leaves the page without one.
        let simulation = if may_simulate { self.simulate(&measure.spec, None, false).ok() } else { None };
        let enterprise = who.role.is_some_and(|r| crate::auth::Permission::OwnEntities.granted_to(r));
        let apply_options = if enterprise { self.apply_options(who, id)? } else { Vec::new() };
        let actions = self.measure_actions(who, id)?;
        Ok(MeasurePage { measure, policy, simulation, actions, apply_options })
    }

    pub fn measure_form_page(&self, what: MeasureFormFor) -> Result<MeasureFormPage> {
        let (policy, measure) = match what {
            MeasureFormFor::New { policy } => (policy, None),
            MeasureFormFor::Edit(id) => {
                let (measure, policy) = self.measure_get(id, Audience::Staff)?;
                (policy.id, Some(measure))
            }
        };
        Ok(MeasureFormPage {
            policy: self.policy_get(policy, Audience::Staff)?,
            measure,
            departments: self.departments()?,
            tags: self.tags()?,
        })
    }

    pub fn versions_page(&self, who: &Who, id: MeasureId) -> Result<VersionsPage> {
        let audience = audience_of(who);
        let versions = self.measure_versions(id, audience)?;
        let (measure, policy) = self.measure_get(id, audience)?;
        Ok(VersionsPage { versions, measure, policy })
    }

    /// The page of an entity the enterprise account acts for (nothing masked: its own data).
    pub fn own_entity_page(&self, who: &Who, code: &CreditCode) -> Result<OwnEntityPage> {
        own_entity(who, code)?;
        let cases = self.cases_of_entity(who, code)?;
        let unread = self.inbox(who, code, 0)?.unread;
        let file = self.entity_file(who, code)?;
        let matches = self.entity_matches(who, code, None)?.matches;
        Ok(OwnEntityPage { file, matches, cases, unread })
    }
}
