//! Pages that show several things at once, each read as one use-case: the measure page (the
//! measure, its policy, what staff may do with it, a simulation for those who may simulate,
//! the enterprise's 我要申报) and an enterprise's page of its own entity. The service decides
//! what the caller sees; the handler renders it.

use serde::Serialize;

use super::cases::{CaseView, QueuePage};
use super::dashboard::CaseStats;
use super::entities::EntityFile;
use super::entities::entity_code;
use super::entities::{EntityPage, EntityQuery};
use super::inbox::own_entity;
use super::matching::{EntityMatches, MeasureMatch, Simulation};
use super::measures::MeasureActions;
use super::policies::{Audience, MeasureView, PolicyQuery, PolicyView, VersionEntry};
use super::receipts::ApplyOption;
use super::{Result, Service, Stats};
use crate::model::imports::ImportJob;
use crate::model::supervision::Notice;
use crate::model::{
    AuditEntry, Binding, BindingStatus, CreditCode, MeasureId, MeasureVersion, Policy, Role, TagDef, Who,
};
use crate::rules::eval::Outcome;
use crate::store::prelude::*;

/// The measure page.
#[derive(Debug, Serialize)]
pub struct MeasurePage {
    pub measure: MeasureView,
    pub policy: Policy,
    /// What the version shown would mean over the whole entity library (staff who simulate).
    pub simulation: Option<Simulation>,
    /// Whether the simulation's list of entities may be downloaded (`/staff/measures/{id}/simulation.csv`).
    pub may_list: bool,
    /// What this member of staff may do with the measure.
    pub actions: MeasureActions,
    /// The enterprise account's entities, each with its case for this measure.
    pub apply_options: Vec<ApplyOption>,
    /// 免申即享: the measure's lists, for staff who read cases.
    pub auto_lists: Option<crate::service::cases::auto::AutoLists>,
    /// Budget, approved, reserved, paid, remaining: for staff who read cases.
    pub money: Option<crate::service::cases::payment::MeasureMoney>,
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

/// The public home page: the library's figures and the newest policies.
#[derive(Debug, Serialize)]
pub struct HomePage {
    pub stats: Stats,
    pub latest: Vec<PolicyView>,
}

/// A search of the policy library with the departments its filter offers (every department
/// for staff; those with published policies for the public).
#[derive(Debug, Serialize)]
pub struct PolicyIndexPage {
    pub results: Vec<PolicyView>,
    pub departments: Vec<String>,
}

/// A page of the entity library with the tags its filter offers and how many entities it holds.
#[derive(Debug, Serialize)]
pub struct EntityIndexPage {
    pub page: EntityPage,
    pub tags: Vec<TagDef>,
    pub total: u64,
}

/// Which panels the staff home shows, by the caller's permissions.
#[derive(Debug, Clone, Copy, Default)]
pub struct StaffPanels {
    pub audit: bool,
    pub cases: bool,
    pub drafts: bool,
    pub figures: bool,
}

/// The staff home: the library's figures, recent imports and audit entries, the caller's
/// notices, open cases, drafts waiting for publication and case figures.
#[derive(Debug, Serialize)]
pub struct StaffHome {
    pub stats: Stats,
    pub imports: Vec<ImportJob>,
    pub audit: Vec<AuditEntry>,
    pub notices: Vec<Notice>,
    pub unread: usize,
    pub queue: Option<QueuePage>,
    pub drafts: Vec<MeasureVersion>,
    pub figures: Option<CaseStats>,
}

/// An enterprise account's home: its bindings, and for each entity it acts for, how many
/// measures it fits and nearly fits.
#[derive(Debug, Default, Serialize)]
pub struct MyHome {
    pub bindings: Vec<Binding>,
    pub entities: Vec<EntitySummary>,
}

#[derive(Debug, Serialize)]
pub struct EntitySummary {
    pub code: String,
    pub name: String,
    pub eligible: usize,
    pub near: usize,
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
        let may_list = simulation.is_some() && super::matching::may_list_entities(who);
        let reads_cases = who.role.is_some_and(|r| crate::auth::Permission::CaseRead.granted_to(r));
        let auto_lists = if reads_cases && measure.spec.mode == crate::model::Mode::Auto && measure.published.is_some()
        {
            self.auto_lists(who, id).ok()
        } else {
            None
        };
        let money = if reads_cases { self.measure_money(who, id).ok() } else { None };
        Ok(MeasurePage { measure, policy, simulation, may_list, actions, apply_options, auto_lists, money })
    }

    pub fn staff_home(&self, who: &Who, panels: StaffPanels) -> Result<StaffHome> {
        let (notices, unread) = self.notices(who, 5)?;
        Ok(StaffHome {
            stats: self.stats()?,
            imports: self.import_list(5)?,
            audit: if panels.audit { self.audit_tail(15)? } else { Vec::new() },
            notices,
            unread,
            queue: if panels.cases { Some(self.case_queue(who)?) } else { None },
            drafts: if panels.drafts { self.publication_queue(who)? } else { Vec::new() },
            figures: if panels.figures { Some(self.case_stats(who)?) } else { None },
        })
    }

    pub fn my_home(&self, who: &Who) -> Result<MyHome> {
        let Some(user) = who.user_id else { return Ok(MyHome::default()) };
        let bindings = self.store.read()?.bindings_of_user(user)?;
        let mut entities = Vec::new();
        for b in bindings.iter().filter(|b| b.status == BindingStatus::Verified) {
            let EntityMatches { entity, matches } = self.entity_matches(who, &entity_code(&b.credit_code)?, None)?;
            entities.push(EntitySummary {
                code: b.credit_code.clone(),
                name: entity.display_name().to_string(),
                eligible: matches.iter().filter(|m| m.outcome == Outcome::Eligible).count(),
                near: matches.iter().filter(|m| m.is_near_miss()).count(),
            });
        }
        Ok(MyHome { bindings, entities })
    }

    pub fn home_page(&self) -> Result<HomePage> {
        let mut latest = self.policy_search(&PolicyQuery::default(), Audience::Public)?;
        latest.truncate(6);
        Ok(HomePage { stats: self.stats()?, latest })
    }

    pub fn policy_index_page(&self, query: &PolicyQuery, audience: Audience) -> Result<PolicyIndexPage> {
        let results = self.policy_search(query, audience)?;
        let departments = match audience {
            Audience::Staff => self.departments()?,
            Audience::Public => self.policy_departments(audience)?,
        };
        Ok(PolicyIndexPage { results, departments })
    }

    pub fn entity_index_page(&self, who: &Who, query: &EntityQuery) -> Result<EntityIndexPage> {
        Ok(EntityIndexPage { page: self.entity_list(who, query)?, tags: self.tags()?, total: self.stats()?.entities })
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
