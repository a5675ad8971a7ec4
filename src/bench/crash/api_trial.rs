//! The server trials: a server under API writes killed at a random moment, restarted, and
//! every acknowledged write looked for.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::checks::{case_level, fail, level_of, store_checks};
use super::fixture::Fixture;
use super::writers::{Key, Outcome, Track, case_writer, entity_writer, publisher, reviewer};
use super::{CrashPlan, CrashReport};
use crate::bench::Error;
use crate::bench::child::{Binary, copy_dir};
use crate::bench::client::Client;
use crate::seed::generator::Rng;

pub(super) fn api_trial(
    bin: &Binary,
    f: &Fixture,
    plan: &CrashPlan,
    trial_dir: &Path,
    rng: &mut Rng,
    report: &mut CrashReport,
    log: &mut dyn Write,
) -> Result<(), Error> {
    let t = trial_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let data = trial_dir.join("data");
    copy_dir(&f.template, &data)?;
    let mut server = bin.serve(&data, &[], &trial_dir.join("serve.log"), Duration::from_secs(120))?;
    let url = server.url.clone();
    let killing = AtomicBool::new(false);
    let delay = plan.api_window.mul_f64(rng.range_f64(0.1, 1.0));
    let seeds = [rng.next_u64(), rng.next_u64()];
    let outcomes: Vec<Outcome> = std::thread::scope(|s| -> Result<Vec<Outcome>, Error> {
        let (tx, rx) = mpsc::channel();
        let k = &killing;
        let url = url.as_str();
        let handles = vec![
            s.spawn(move || entity_writer(0, url, f, k, Rng::new(seeds[0]))),
            s.spawn(move || entity_writer(1, url, f, k, Rng::new(seeds[1]))),
            s.spawn(move || case_writer(url, f, k, tx)),
            s.spawn(move || reviewer(url, f, k, rx)),
            s.spawn(move || publisher(url, f, k)),
        ];
        std::thread::sleep(delay);
        killing.store(true, Ordering::SeqCst);
        // The writers stop at their first unanswered request, so they end once it is dead.
        let killed = server.kill();
        let outcomes = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Outcome { problems: vec!["a writer panicked".into()], ..Outcome::default() })
            })
            .collect();
        killed.map(|()| outcomes)
    })?;
    report.kills.serve += 1;

    let mut ledger: BTreeMap<Key, Track> = BTreeMap::new();
    let mut acked_here = 0;
    let mut in_flight = 0;
    for o in outcomes {
        for p in o.problems {
            fail(report, log, format!("{t}: {p}"));
        }
        for (kind, n) in o.acks {
            *report.acknowledged.entry(kind.to_string()).or_default() += n;
            acked_here += n;
        }
        for (kind, n) in o.unanswered {
            *report.in_flight_at_kill.entry(kind.to_string()).or_default() += n;
            in_flight += n;
        }
        for (key, track) in o.ledger {
            let merged = ledger.entry(key).or_default();
            merged.acked = merged.acked.max(track.acked);
            merged.attempted = merged.attempted.max(track.attempted);
        }
    }

    store_checks(bin, &data, &t, report, log);
    let mut server = bin.serve(&data, &[], &trial_dir.join("serve-again.log"), Duration::from_secs(120))?;
    let with_token = |token: &str| {
        let mut c = Client::new(&server.url, Duration::from_secs(60));
        c.bearer = Some(token.to_string());
        c
    };
    let (admin, enterprise, publisher) = (with_token(&f.admin), with_token(&f.enterprise), with_token(&f.publisher));
    for (key, track) in &ledger {
        let found = match key {
            Key::Entity(code) => level_of(&admin, &format!("/api/v1/entities/{code}"), |v| v["employees"].as_u64()),
            Key::Case(id) => level_of(&enterprise, &format!("/api/v1/cases/{id}"), case_level),
            Key::Measure(id) => level_of(&publisher, &format!("/api/v1/measures/{id}?drafts=true"), |v| {
                let m = &v["measure"];
                Some(if !m["published"].is_null() {
                    3
                } else if !m["request"].is_null() {
                    2
                } else {
                    1
                })
            }),
        };
        match found {
            Ok(level) if level >= track.acked && level <= track.attempted => {}
            Ok(level) => fail(
                report,
                log,
                format!(
                    "{t}: {key:?} found at level {level}; acknowledged {}, last sent {}",
                    track.acked, track.attempted
                ),
            ),
            Err(e) => fail(report, log, format!("{t}: reading {key:?} back: {e}")),
        }
    }
    report.acknowledged_writes_checked += acked_here;
    server.kill()?;
    let _ = writeln!(
        log,
        "{t}: server killed after {} ms: {acked_here} acknowledged writes over {} records ({in_flight} in flight) checked after the restart",
        delay.as_millis(),
        ledger.len()
    );
    Ok(())
}
