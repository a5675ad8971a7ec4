//! Integration tests, one binary: the HTTP app through `Router::oneshot`, the real binary on
//! port 0, and a headless browser. Every test gets its own redb file in a temp directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod admin;
mod api_entities;
mod api_imports;
mod api_policies;
mod architecture;
mod auto;
mod backup;
mod binary;
mod board;
mod browser;
mod cases;
mod common;
mod crash;
mod dashboards;
mod explain;
mod fuzz;
mod hardening;
mod http_client;
mod matching;
mod pages;
mod people;
mod push;
mod recovery;
mod regions;
mod todo;
