//! The portrait at start, from its snapshot and the entities written since, against a full
//! rebuild from the store: real redb files in temporary directories.

use std::collections::BTreeMap;
use std::path::Path;

use super::snapshot::full_rebuild;
use super::state::StartupTimes;
use crate::model::{CreditCode, Date, EntityPatch, Field, FieldValue, TagHolding, Who};
use crate::portrait::Portrait;
use crate::seed::generator::Generator;
use crate::service::{Config, Service};
use crate::store::Store;
use crate::store::prelude::*;

const TODAY: &str = "2026-06-01";

fn today() -> Date {
    Date::parse(TODAY).unwrap()
}

fn who() -> Who {
    Who::system("test")
}

fn open(dir: &Path) -> Service {
    let config = Config { today: Some(today()), fast_password_hashing: true, ..Config::default() };
    let svc = Service::new(Store::open(dir).unwrap(), config);
    svc.init_reference(&who()).unwrap();
    svc
}

/// A row as the engine reads it, whatever the order of rows and of tag columns.
#[derive(Debug, PartialEq)]
struct Row {
    code: [u8; 18],
    nums: Vec<i64>,
    /// The region by way of the breakdowns' dense index: must be the region itself.
    region_by_index: u32,
    ymd: i32,
    enums: Vec<u8>,
    flags: Vec<u8>,
    region: u32,
    industry: u16,
    tags: BTreeMap<String, (i32, i32)>,
}

fn rows(p: &Portrait) -> BTreeMap<u64, Row> {
    let mut out = BTreeMap::new();
    for (row, id) in p.ids.iter().enumerate() {
        assert_eq!(p.row_of(*id), Some(row), "row index of {id}");
        let mut tags = BTreeMap::new();
        for (key, slot) in &p.tag_index {
            let col = &p.tags[*slot];
            if col.has(row) {
                let none = crate::model::portrait_record::NULL_DAY;
                tags.insert(key.clone(), col.dates.get(&(row as u32)).copied().unwrap_or((none, none)));
            }
        }
        let r = Row {
            code: p.codes[row],
            nums: p.num.iter().map(|c| c[row]).collect(),
            region_by_index: p.region_codes[p.region_ix[row] as usize],
            ymd: p.established_ymd[row],
            enums: p.enums.iter().map(|c| c[row]).collect(),
            flags: p.flags.iter().map(|c| c[row]).collect(),
            region: p.region[row],
            industry: p.industry[row],
            tags,
        };
        assert!(out.insert(*id, r).is_none(), "entity {id} twice");
    }
    out
}

/// Starts the match state over `dir` as `serve` does; its start-up figures, and checks that
/// the portrait equals the one rebuilt from every record of the store (in the same row order).
fn start_and_compare(dir: &Path) -> (Service, StartupTimes) {
    let svc = open(dir);
    svc.matching_init().unwrap();
    let full = full_rebuild(&svc.store.read().unwrap()).unwrap();
    let startup = {
        let guard = svc.matching().unwrap();
        let state = guard.as_ref().unwrap();
        assert_eq!(state.portrait.ids, full.ids, "rows in the same order");
        assert_eq!(rows(&state.portrait), rows(&full));
        state.startup
    };
    (svc, startup)
}

/// Generated entities `from..to` (seed 1), written through the service.
fn seed(svc: &Service, from: u64, to: u64) {
    svc.seed_entities(1, from, to - from, |_| {}).unwrap();
}

/// Changes entity `i` of the generator: employees, revenue and its tags.
fn change(svc: &Service, i: u64, employees: i64) {
    let mut p: EntityPatch = Generator::new(1, today()).entity(i);
    p.set(Field::Employees, Some(FieldValue::Int(employees)));
    p.set(Field::Revenue, None);
    p.set(
        Field::Tags,
        Some(FieldValue::Tags(vec![TagHolding {
            key: "high_tech".into(),
            since: Date::parse("2025-01-01").ok(),
            until: None,
        }])),
    );
    svc.entity_upsert(&who(), &p).unwrap();
}

/// A store of `n` entities with its snapshot written after a full rebuild.
fn store_with_snapshot(dir: &Path, n: u64) {
    let svc = open(dir);
    seed(&svc, 0, n);
    svc.matching_init().unwrap();
    let written = svc.portrait_snapshot_if_due().unwrap().expect("due after a full rebuild");
    assert_eq!(written.entities as u64, n);
    assert!(svc.portrait_snapshot_path().exists());
    assert!(svc.portrait_snapshot_if_due().unwrap().is_none(), "nothing new to write");
}

#[test]
fn the_snapshot_is_used_and_brought_up_to_date_with_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first) = start_and_compare(dir.path());
    assert_eq!(first.snapshot_entities, 0);
    store_with_snapshot(dir.path(), 300);

    let (svc, startup) = start_and_compare(dir.path());
    assert_eq!((startup.snapshot_entities, startup.replayed), (300, 0));
    // Writes with the match state in memory, and writes by a process without one (a CLI import).
    change(&svc, 5, 777);
    change(&svc, 250, 3);
    seed(&svc, 300, 340);
    drop(svc);
    let cli = open(dir.path());
    change(&cli, 6, 12);
    change(&cli, 5, 778);
    drop(cli);

    let (svc, startup) = start_and_compare(dir.path());
    assert_eq!((startup.snapshot_entities, startup.replayed), (300, 43), "5, 6, 250 and 40 new");
    let guard = svc.matching().unwrap();
    let p = &guard.as_ref().unwrap().portrait;
    let employees = crate::portrait::num_slot(Field::Employees).unwrap();
    let row = p.row_of(svc.store.read().unwrap().entity_id_by_code(code_of(5).as_str()).unwrap().unwrap());
    assert_eq!(p.num[employees][row.unwrap()], 778);
    drop(guard);

    // Written again: the log before it is pruned, and the next start replays nothing.
    assert!(svc.portrait_snapshot_write().unwrap().is_some());
    drop(svc);
    let (_, startup) = start_and_compare(dir.path());
    assert_eq!((startup.snapshot_entities, startup.replayed), (340, 0));
}

fn code_of(i: u64) -> CreditCode {
    Generator::new(1, today()).entity(i).credit_code().unwrap().clone()
}

/// Starts with the snapshot file as `damage` leaves it: it must not be used, and the portrait
/// must still be the store's.
fn refused(damage: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    store_with_snapshot(dir.path(), 200);
    damage(&dir.path().join(crate::portrait::snapshot::FILE_NAME));
    let (_, startup) = start_and_compare(dir.path());
    assert_eq!(startup.snapshot_entities, 0, "the snapshot was not used");
    assert!(startup.full_rebuild_ms > 0.0);
}

#[test]
fn a_missing_snapshot_is_rebuilt_from_the_store() {
    refused(|path| std::fs::remove_file(path).unwrap());
}

#[test]
fn a_snapshot_of_another_format_version_is_ignored() {
    refused(|path| {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[8..12].copy_from_slice(&(crate::portrait::snapshot::FORMAT_VERSION + 1).to_le_bytes());
        std::fs::write(path, bytes).unwrap();
    });
}

#[test]
fn a_damaged_snapshot_is_ignored() {
    refused(|path| {
        let mut bytes = std::fs::read(path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(path, bytes).unwrap();
    });
    refused(|path| {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() - 9]).unwrap();
    });
    refused(|path| std::fs::write(path, b"HQPORTRT").unwrap());
}

#[test]
fn a_snapshot_of_another_store_is_ignored() {
    // The same generated entities, so everything but the store's history matches.
    let other = tempfile::tempdir().unwrap();
    store_with_snapshot(other.path(), 200);
    let theirs = other.path().join(crate::portrait::snapshot::FILE_NAME);
    refused(|path| {
        std::fs::copy(&theirs, path).unwrap();
    });
}

#[test]
fn after_a_restore_the_snapshot_is_used_only_if_the_store_holds_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    store_with_snapshot(dir.path(), 200);
    let early = backups.path().join("early.redb");
    let later = backups.path().join("later.redb");
    {
        let svc = open(dir.path());
        svc.backup_write(&who(), &early).unwrap();
        change(&svc, 3, 30);
        seed(&svc, 200, 220);
        svc.backup_write(&who(), &later).unwrap();
        change(&svc, 4, 40);
    }
    let restore = |from: &Path| {
        crate::service::backup::restore(dir.path(), from, true, &who(), &crate::model::Clock::default()).unwrap();
    };
    // The later backup holds the snapshot's row and the writes after it: used, brought up to date.
    restore(&later);
    let (_, startup) = start_and_compare(dir.path());
    assert_eq!((startup.snapshot_entities, startup.replayed), (200, 21));

    // A snapshot written after the early backup, then the early backup restored and written on
    // until its log passes the snapshot's row: another history, refused.
    {
        let (svc, _) = start_and_compare(dir.path());
        change(&svc, 9, 90);
        assert!(svc.portrait_snapshot_write().unwrap().is_some());
    }
    restore(&early);
    {
        let svc = open(dir.path());
        for i in 0..5 {
            change(&svc, 10 + i, 100 + i as i64);
        }
    }
    let (_, startup) = start_and_compare(dir.path());
    assert_eq!(startup.snapshot_entities, 0, "the snapshot of another history is not used");
}

#[test]
fn an_import_after_the_snapshot_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    store_with_snapshot(dir.path(), 100);
    {
        let svc = open(dir.path());
        svc.matching_init().unwrap();
        let mut csv = "统一社会信用代码,名称,所在地,行业,从业人数,资质标签\n".to_string();
        for i in [1u64, 2, 150, 151] {
            csv.push_str(&format!("{},导入{i}公司,230125,C3911,{},high_tech@2024-06-01\n", code_of(i), 10 + i));
        }
        let job = svc.import_stage(&who(), "firms.csv", csv.into_bytes()).unwrap();
        let done = svc.import_confirm(&who(), job.id, false).unwrap();
        assert_eq!(done.report.valid, 4, "{:?}", done.report);
    }
    let (_, startup) = start_and_compare(dir.path());
    assert_eq!((startup.snapshot_entities, startup.replayed), (100, 4));
}
