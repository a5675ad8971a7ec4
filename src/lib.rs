//! huiqi (惠企): the policy library, the entity library and the workflow between them, in one
//! binary over one redb file.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bench;
pub mod cli;
pub mod http;
pub mod import;
pub mod jobs;
pub mod model;
pub mod portrait;
pub mod rules;
pub mod seed;
pub mod service;
pub mod store;
