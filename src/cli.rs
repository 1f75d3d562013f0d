//! The subcommands of SPEC §5. Each works on the same data as a running server: writes go
//! through the storage engine (SQLite's locking and `busy_timeout` let it share the file with
//! the server), and `restore` refuses to run while a server holds the data folder.
//!
//! `user` and `invite` are thin: parse the flags, call the same use case the REST API calls
//! (`natter user add` is a signup by the operator), print the answer.

use std::future::Future;
use std::io::{BufRead, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Cli, Command, DataArgs, Registration, ServeArgs, UserAction};
use crate::db::{Db, DbOptions};
use crate::error::ApiError;
use crate::input::NewInvite;
use crate::password::Passwords;
use crate::usecase::accounts::{Accounts, NewAccount};
use crate::usecase::invites::{Invites, Issuer};

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(*args),
        Some(Command::User { action }) => user(action),
        Some(Command::Invite { uses, expires, data }) => invite(uses, expires, &data),
        Some(Command::Backup { file, force, data }) => backup(&file, force, &data),
        Some(Command::Restore { file, data }) => restore(&file, &data),
        Some(Command::Healthcheck { url, data: _ }) => healthcheck(&url),
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .map_err(|e| format!("invalid value '{}' for '--log': {e}", args.log))?;
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(crate::run(args))
}

fn open_db(data: &DataArgs) -> Result<Db, String> {
    let path = data.db_path();
    Db::open(&path, DbOptions { readers: 1, ..DbOptions::default() })
        .map_err(|e| format!("cannot open the database {}: {e}", path.display()))
}

/// The password from `--password`, else one line of standard input.
fn read_password(given: Option<String>) -> Result<String, String> {
    match given {
        Some(p) => Ok(p),
        None => {
            eprint!("password: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
            Ok(line.trim_end_matches(['\r', '\n']).to_string())
        }
    }
}

/// Run a use case to completion from this synchronous command.
fn block_on<T>(work: impl Future<Output = T>) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(work))
}

/// A use case's refusal as one line: `the username must be …`, `That email is already
/// registered.`; an internal error with its cause (this is the operator's own terminal).
fn say(e: ApiError) -> String {
    match &e {
        ApiError::Validation { fields, .. } => {
            fields.iter().map(|(field, problem)| format!("the {field} {problem}")).collect::<Vec<_>>().join("; ")
        }
        ApiError::Internal(_) => e.to_string(),
        _ => e.detail(),
    }
}

fn user(action: UserAction) -> Result<(), String> {
    let db = open_db(action.data())?;
    let result = Passwords::new(1).and_then(|passwords| {
        // The CLI never signs anyone up: adding an account is the operator's own decision,
        // whatever `--registration` the server runs with.
        let accounts = Accounts::new(db.clone(), Arc::new(passwords), Registration::Closed);
        block_on(user_action(&accounts, action))?
    });
    db.shutdown_blocking();
    result
}

async fn user_action(accounts: &Accounts, action: UserAction) -> Result<(), String> {
    match action {
        UserAction::Add { name, email, password, admin, .. } => {
            accounts.check_names(&name, &email).map_err(say)?;
            let new = NewAccount { username: name, email, password: read_password(password)?, full_name: None };
            let user = accounts.add(new, admin).await.map_err(say)?;
            println!("created user {} (id {}{})", user.username, user.id, if user.is_admin { ", admin" } else { "" });
        }
        UserAction::List { .. } => {
            println!("{:>6}  {:<32}  {:<40}  flags", "id", "username", "email");
            for account in accounts.list().await.map_err(say)? {
                let u = &account.user;
                let flags = [(u.is_admin, "admin"), (account.disabled, "disabled")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, f)| *f)
                    .collect::<Vec<_>>()
                    .join(",");
                println!("{:>6}  {:<32}  {:<40}  {}", u.id, u.username, u.email, flags);
            }
        }
        UserAction::Passwd { name, password, .. } => {
            let user = accounts.set_password(&name, read_password(password)?).await.map_err(say)?;
            println!("password of {} changed; its older tokens no longer work", user.username);
        }
        UserAction::Disable { name, .. } => {
            println!("{} disabled", accounts.set_disabled(&name, true).await.map_err(say)?.username);
        }
        UserAction::Enable { name, .. } => {
            println!("{} enabled", accounts.set_disabled(&name, false).await.map_err(say)?.username);
        }
        UserAction::Promote { name, .. } => {
            println!("{} is now an administrator", accounts.promote(&name).await.map_err(say)?.username);
        }
    }
    Ok(())
}

fn invite(uses: u32, expires: Duration, data: &DataArgs) -> Result<(), String> {
    let request = NewInvite { uses: Some(uses), expires_in: Some(expires.as_secs().into()) };
    // Refused flags touch no data.
    request.uses().and(request.ttl()).map_err(say)?;
    let db = open_db(data)?;
    let result = block_on(Invites::new(db.clone()).create(Issuer::Operator, request));
    db.shutdown_blocking();
    let invite = result?.map_err(say)?;
    println!("{}", invite.code);
    eprintln!(
        "uses: {}, expires: {}; sign up with \"invite\": \"{}\"",
        invite.uses_left, invite.expires_at, invite.code
    );
    Ok(())
}

fn backup(file: &Path, force: bool, data: &DataArgs) -> Result<(), String> {
    if file.exists() {
        if !force {
            return Err(format!("{} exists; add --force to overwrite it", file.display()));
        }
        std::fs::remove_file(file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
    }
    let source = data.db_path();
    if !source.exists() {
        return Err(format!("there is no database at {}", source.display()));
    }
    // VACUUM INTO reads one snapshot, so the copy is consistent while the server keeps writing.
    let conn = rusqlite::Connection::open(&source).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let target = file.to_str().ok_or("the backup path must be valid UTF-8")?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(|e| format!("backup failed: {e}"))?;
    println!("backed up {} to {}", source.display(), file.display());
    Ok(())
}

fn restore(file: &Path, data: &DataArgs) -> Result<(), String> {
    let _lock = crate::lock_data_dir(data)?;
    check_backup(file)?;
    let target = data.db_path();
    // A WAL left beside the old database must not be replayed onto the restored one.
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", target.display());
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {side}: {e}")),
        }
    }
    let staging = target.with_extension("db.restoring");
    std::fs::copy(file, &staging).map_err(|e| format!("cannot copy {}: {e}", file.display()))?;
    std::fs::File::open(&staging).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
    std::fs::rename(&staging, &target).map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    println!("restored {} from {}", target.display(), file.display());
    Ok(())
}

/// A natter database that SQLite finds intact.
fn check_backup(file: &Path) -> Result<(), String> {
    let conn = rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| format!("{} is not a readable database: {e}", file.display()))?;
    if verdict != "ok" {
        return Err(format!("{} failed the integrity check: {verdict}", file.display()));
    }
    let has_users: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'users'", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if !has_users {
        return Err(format!("{} is not a natter database", file.display()));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version > crate::db::migrate::latest() as i64 {
        return Err(format!("{} comes from a newer natter (schema {version}); upgrade first", file.display()));
    }
    Ok(())
}

/// GET URL/healthz; Ok when it answers 200.
fn healthcheck(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (host, base) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let authority = if host.contains(':') { host.to_string() } else { format!("{host}:80") };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {url}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let path = format!("{}/healthz", base.trim_end_matches('/'));
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) == Some("200") {
        println!("ok");
        Ok(())
    } else {
        Err(format!("{url} answered: {}", if status.is_empty() { "nothing" } else { status }))
    }
}
