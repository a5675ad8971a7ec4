//! `huiqi rules check`, `huiqi simulate` and `huiqi rematch`: rules checked, tried and run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::Result;
use crate::model::Date;
use crate::service::Service;
use crate::store::Store;
use crate::store::prelude::*;

fn print_rule_errors(file: &str, measure: &str, errors: &[crate::rules::MeasureRuleError]) {
    for e in errors {
        println!("{file}: {measure}: {}", e.en());
        println!("    {}", e.source);
        let pad: String = e.source.chars().take(e.error.start).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let width = e.error.end.saturating_sub(e.error.start).max(1);
        println!("    {pad}{}", "^".repeat(width));
    }
}

pub fn rules_check(files: &[PathBuf], data: Option<&Path>) -> Result<ExitCode> {
    if files.is_empty() {
        return Err("name at least one policy or measure file".into());
    }
    // The tag dictionary of the data directory when it can be opened, else the shipped tags.
    let tags = data
        .and_then(|d| Store::open(d).ok())
        .and_then(|s| s.read().ok()?.tags().ok())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(crate::model::tags::default_tags);
    let tags = crate::model::TagDictionary::new(tags);
    let (mut measures, mut bad) = (0, 0);
    for f in files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {name}: {e}"))?;
        let specs = crate::seed::parse_measure_file(&name, &text)?;
        for (i, m) in specs.iter().enumerate() {
            measures += 1;
            let label = format!("measure {} «{}»", i + 1, m.name);
            match crate::portrait::compile::check_measure(m, &tags) {
                Ok(rules) => {
                    for w in &rules.warnings {
                        println!("{name}: {label}: warning: {}", w.en());
                    }
                }
                Err(errors) => {
                    bad += 1;
                    print_rule_errors(&name, &label, &errors);
                }
            }
        }
    }
    if bad == 0 {
        println!("{measures} measures in {} file(s): all rules type-check", files.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{bad} of {measures} measures have errors");
        Ok(ExitCode::FAILURE)
    }
}

pub fn simulate(svc: &Service, file: &Path, as_of: Option<&str>, out: Option<&Path>) -> Result<ExitCode> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {name}: {e}"))?;
    let specs = crate::seed::parse_measure_file(&name, &text)?;
    let as_of = as_of.map(Date::parse).transpose()?;
    let tags = svc.tag_dictionary()?;
    for (i, spec) in specs.iter().enumerate() {
        if let Err(errors) = crate::portrait::compile::check_measure(spec, &tags) {
            print_rule_errors(&name, &format!("measure {} «{}»", i + 1, spec.name), &errors);
            return Ok(ExitCode::FAILURE);
        }
    }
    // Every measure of the file in one pass over the entities.
    let sims = svc.simulate_many(&specs, as_of, out.is_some())?;
    if let Some(first) = sims.first() {
        println!("{} measure(s) simulated in one pass in {:.1} ms", sims.len(), first.elapsed_ms);
    }
    for (i, (spec, sim)) in specs.iter().zip(&sims).enumerate() {
        println!(
            "{}: {} entities as of {}: {} eligible, {} unknown, {} near misses; total {} 万元{}",
            spec.name,
            sim.entities,
            sim.as_of,
            sim.eligible,
            sim.unknown,
            sim.near_miss,
            crate::model::Money(sim.total_fen),
            if sim.amount_unknown + sim.amount_negative > 0 {
                format!(" ({} amounts unknown, {} negative)", sim.amount_unknown, sim.amount_negative)
            } else {
                String::new()
            }
        );
        if let (Some(out), Some(rows)) = (out, &sim.list) {
            let path = if i == 0 {
                out.to_path_buf()
            } else {
                let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                out.with_file_name(format!("{stem}.{}.csv", i + 1))
            };
            let mut w = csv::Writer::from_path(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            w.write_record(["credit_code", "outcome", "amount"])?;
            for r in rows {
                let outcome = match r.outcome {
                    crate::rules::eval::Outcome::Eligible => "eligible",
                    _ => "unknown",
                };
                let amount = r.amount_wan.map(crate::model::fields::format_number).unwrap_or_default();
                w.write_record([r.credit_code.as_str(), outcome, &amount])?;
            }
            w.flush()?;
            println!("wrote {} rows to {}", rows.len(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs every published measure over every entity now and records what changed.
pub fn rematch(svc: &Service) -> Result<ExitCode> {
    let s = svc.rematch_all("rematch")?;
    println!(
        "{} measures over {} entities in {:.0} ms: {} eligible pairs, {} measures changed",
        s.measures, s.entities, s.match_ms, s.eligible_pairs, s.changed
    );
    Ok(ExitCode::SUCCESS)
}
