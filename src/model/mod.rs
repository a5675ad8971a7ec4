//! Domain types and their pure rules: codes, money, dates, the field catalogue, entities,
//! policies and accounts. Nothing here does I/O.

pub mod audit;
pub mod auto_list;
pub mod calendar;
pub mod case;
pub mod codes;
pub mod date;
pub mod decimal;
pub mod disclosure;
pub mod entity;
pub mod enums;
pub mod fields;
pub mod ids;
pub mod imports;
pub mod mask;
pub mod matching;
pub mod message;
pub mod money;
pub mod payment;
pub mod policy;
pub mod portrait_record;
pub mod push;
pub mod reference;
pub mod size_class;
pub mod supervision;
pub mod tags;
pub mod text;
pub mod user;

pub use audit::{AuditEntry, Who};
pub use codes::{CreditCode, IndustryCode, RegionCode};
pub use date::{Clock, Date, Timestamp};
pub use decimal::Dec;
pub use entity::{Actor, ChangeSet, Changed, Entity, EntityPatch, FieldChange};
pub use enums::{Category, EntityType, Level, Mode, Ownership, RegStatus, SizeClass, TaxCredit, Vocabulary};
pub use fields::{Field, FieldType, FieldValue};
pub use ids::{CaseId, EntityId, MeasureId};
pub use money::{Money, MoneyUnit};
pub use policy::{FieldError, Measure, MeasureSpec, MeasureVersion, Policy, PolicyInput, VersionStatus};
pub use tags::{TagDef, TagDictionary, TagHolding};
pub use user::{
    Agreement, AgreementKind, ApiToken, Binding, BindingMethod, BindingStatus, Capacity, Consent, Department,
    Invitation, Recovery, Role, Session, TokenScope, User,
};
