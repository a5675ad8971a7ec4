//! `huiqi user …` and `huiqi department`: accounts, tokens and departments from the command line.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::{Result, cli_who};
use crate::auth::{Auth, NewUser, bad_credit_code};
use crate::model::{Capacity, CreditCode, Role, TokenScope, Vocabulary};
use crate::service::Service;

#[derive(Subcommand)]
pub enum UserAction {
    /// Create an account. The password comes from HUIQI_PASSWORD or is asked for; with
    /// --one-time a one-time password is printed, to be changed at first sign-in.
    Add {
        username: String,
        /// sysadmin, publisher, reviewer, supervisor, specialist or enterprise.
        #[arg(long, default_value = "sysadmin")]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// For an enterprise account: bind it (verified) to the entity with this credit code.
        #[arg(long)]
        entity: Option<String>,
        #[arg(long)]
        one_time: bool,
    },
    /// Set a new password (from HUIQI_PASSWORD or asked for); also unlocks the account.
    Passwd { username: String },
    /// Lift the lock after repeated failed sign-ins.
    Unlock { username: String },
    /// Create a bearer token for the JSON API; it is printed once.
    Token {
        username: String,
        #[arg(long, default_value = "api")]
        name: String,
        /// What the token may do (repeat for several): policies:write, entities:read,
        /// entities:write, matching, export, audit:read, admin, enterprise, metrics.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Expire after this many days.
        #[arg(long)]
        days: Option<u32>,
    },
    /// List accounts.
    List,
}

pub fn read_password(prompt: &str) -> Result<String> {
    if let Ok(p) = std::env::var("HUIQI_PASSWORD") {
        return Ok(p);
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn auth_of(svc: &Service) -> Result<Auth> {
    Ok(svc.auth(Default::default())?)
}

pub fn user(auth: &Auth, action: UserAction) -> Result<ExitCode> {
    let who = cli_who();
    match action {
        UserAction::Add { username, role, name, department, phone, entity, one_time } => {
            let role =
                Role::parse(&role).ok_or_else(|| format!("unknown role {role}; use one of: {}", Role::choices()))?;
            let password = if one_time { None } else { Some(read_password("password: ")?) };
            let new = NewUser { username, display_name: name, role, department, region_scope: Vec::new(), phone };
            let (user, issued) = auth.user_create(&who, new, password.as_deref())?;
            if let Some(code) = entity {
                let code = CreditCode::parse(&code).map_err(bad_credit_code)?;
                auth.binding_grant(&who, &user.username, &code, Capacity::Agent)?;
            }
            println!("created {} ({})", user.username, user.role.key());
            if let Some(p) = issued {
                println!("one-time password (to be changed at first sign-in): {p}");
            }
        }
        UserAction::Passwd { username } => {
            let password = read_password("new password: ")?;
            auth.user_set_password(&who, &username, &password)?;
            println!("password changed for {username}");
        }
        UserAction::Unlock { username } => {
            let id = auth.user_by_name(&username)?.id;
            auth.user_unlock(&who, id)?;
            println!("unlocked {username}");
        }
        UserAction::Token { username, name, scopes, days } => {
            let scopes = scopes
                .iter()
                .map(|s| {
                    TokenScope::parse(s).ok_or_else(|| format!("unknown scope {s}; use: {}", TokenScope::choices()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (_, token) = auth.token_create(&who, &username, &name, &scopes, days)?;
            println!("{token}");
        }
        UserAction::List => {
            for u in auth.users()? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    u.username,
                    u.role.key(),
                    u.display_name,
                    u.department.unwrap_or_default(),
                    if u.disabled { "\t(disabled)" } else { "" }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `huiqi department NAME [--region CODE]`: adds a department, or sets the region it serves.
pub fn department(auth: &Auth, name: &str, region: &str) -> Result<ExitCode> {
    let d = auth.department_put(&cli_who(), name, region)?;
    println!("department {} (region {})", d.name, d.region.map_or_else(|| "-".into(), |r| r.to_string()));
    Ok(ExitCode::SUCCESS)
}
