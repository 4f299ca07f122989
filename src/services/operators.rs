//! Operators (the people who run the instance from the dashboard; every operator is an
//! instance-wide admin), their sessions, the sign-in throttle and one-time setup links.
//!
//! Passwords are stored as argon2id PHC strings; session and setup tokens only as SHA-256
//! hashes, so a copy of the database signs nobody in. Knows nothing about cookies or HTTP.

use super::{audit, parse_ts, ts};
use crate::crypto::{new_id, random_token, sha256_hex};
use crate::db::Db;
use crate::error::{Code, Error, Result};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// Failed sign-ins allowed per email, and per address, inside `THROTTLE_WINDOW_MINUTES`.
pub const MAX_FAILURES: i64 = 5;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
pub const MIN_PASSWORD_CHARS: usize = 10;
/// How long a setup link printed at first start stays valid.
pub const SETUP_TOKEN_HOURS: i64 = 1;

#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub email: String,
    pub created_at: String,
    pub last_sign_in_at: Option<String>,
}

/// A signed-in operator as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub operator_id: String,
    pub email: String,
    pub csrf_token: String,
}

fn hash_password(password: &str) -> Result<String> {
    let salt = crate::crypto::random_bytes::<16>();
    let hash: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| Error::internal(format!("argon2: {e}")))?;
    Ok(hash.to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordVerifier::<str>::verify_password(&Argon2::default(), password.as_bytes(), hash).is_ok()
}

pub fn check_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 320
        && email
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(Error::validation(
            "Enter an email address such as ops@example.com.",
        ));
    }
    Ok(email.to_ascii_lowercase())
}

pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1000 {
        return Err(Error::validation(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    Ok(())
}

fn operator_from_row(r: &rusqlite::Row) -> rusqlite::Result<Operator> {
    Ok(Operator {
        id: r.get(0)?,
        email: r.get(1)?,
        created_at: r.get(2)?,
        last_sign_in_at: r.get(3)?,
    })
}

pub fn create(
    db: &Db,
    actor: &str,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Operator> {
    let email = check_email(email)?;
    check_password(password)?;
    let hash = hash_password(password)?;
    let operator = Operator {
        id: new_id(),
        email,
        created_at: ts(now),
        last_sign_in_at: None,
    };
    db.write(|tx| create_in(tx, actor, &operator, &hash, now))?;
    Ok(operator)
}

fn create_in(
    conn: &Connection,
    actor: &str,
    operator: &Operator,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let exists: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM operators WHERE email = ?1",
        [&operator.email],
        |r| r.get(0),
    )?;
    if exists {
        return Err(Error::new(
            Code::OperatorExists,
            format!(
                "An operator with the email {} already exists.",
                operator.email
            ),
        ));
    }
    conn.execute(
        "INSERT INTO operators (id, email, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![operator.id, operator.email, hash, operator.created_at],
    )?;
    audit::record(
        conn,
        actor,
        "operator.create",
        "operator",
        Some(&operator.id),
        Some(&serde_json::json!({"email": operator.email})),
        now,
    )
}

pub fn list(conn: &Connection) -> Result<Vec<Operator>> {
    let mut stmt = conn.prepare(
        "SELECT id, email, created_at, last_sign_in_at FROM operators ORDER BY created_at, email",
    )?;
    let rows = stmt.query_map([], operator_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0))?)
}

/// Removes an operator and their sessions; the last operator can never be removed.
pub fn remove(db: &Db, actor: &str, operator_id: &str, now: DateTime<Utc>) -> Result<()> {
    db.write(|tx| {
        let email: Option<String> = tx
            .query_row(
                "SELECT email FROM operators WHERE id = ?1",
                [operator_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(email) = email else {
            return Err(Error::not_found("That operator does not exist."));
        };
        if count(tx)? <= 1 {
            return Err(Error::new(
                Code::LastOperator,
                "This is the last operator; add another one before removing it.",
            ));
        }
        tx.execute("DELETE FROM operators WHERE id = ?1", [operator_id])?;
        audit::record(
            tx,
            actor,
            "operator.remove",
            "operator",
            Some(operator_id),
            Some(&serde_json::json!({"email": email})),
            now,
        )
    })
}

/// Why a sign-in was refused, in words an operator can act on.
pub enum SignInRefusal {
    /// Wrong email or password (never says which).
    Invalid,
    /// Too many failures recently; try again after this many minutes.
    Throttled(i64),
}

/// Minutes until the throttle lifts for this email or address, if it applies now.
fn throttled_minutes(
    conn: &Connection,
    email: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let since = ts(now - Duration::minutes(THROTTLE_WINDOW_MINUTES));
    let mut wait = None;
    for (column, value) in [("email", email), ("ip", ip)] {
        let (failures, oldest): (i64, Option<String>) = conn.query_row(
            &format!(
                "SELECT COUNT(*), MIN(created_at) FROM (SELECT created_at FROM sign_in_attempts
                 WHERE {column} = ?1 AND succeeded = 0 AND created_at > ?2
                 ORDER BY created_at DESC LIMIT {MAX_FAILURES})"
            ),
            params![value, since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if failures >= MAX_FAILURES
            && let Some(oldest) = oldest
        {
            let lifts = parse_ts(&oldest) + Duration::minutes(THROTTLE_WINDOW_MINUTES);
            let minutes = ((lifts - now).num_seconds() + 59) / 60;
            wait = Some(wait.unwrap_or(0).max(minutes.max(1)));
        }
    }
    Ok(wait)
}

/// Checks the throttle, then the password; records the attempt. On success opens a session
/// that expires after `idle` without use, and returns it with its secret token.
pub fn sign_in(
    db: &Db,
    email: &str,
    password: &str,
    ip: &str,
    idle: Duration,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(Session, String), SignInRefusal>> {
    let email = email.trim().to_ascii_lowercase();
    if let Some(minutes) = db.read(|c| throttled_minutes(c, &email, ip, now))? {
        return Ok(Err(SignInRefusal::Throttled(minutes)));
    }
    let row: Option<(String, String)> = db.read(|c| {
        Ok(c.query_row(
            "SELECT id, password_hash FROM operators WHERE email = ?1",
            [&email],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
    })?;
    // Without a matching operator a dummy hash is still checked, so the answer takes as long
    // either way and does not reveal which emails exist.
    let verified = match &row {
        Some((_, hash)) => verify_password(password, hash),
        None => {
            let _ = verify_password(password, dummy_hash());
            false
        }
    };
    db.write(|tx| {
        tx.execute(
            "INSERT INTO sign_in_attempts (email, ip, succeeded, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![email, ip, verified, ts(now)],
        )?;
        Ok(())
    })?;
    let Some((operator_id, _)) = row.filter(|_| verified) else {
        return Ok(Err(SignInRefusal::Invalid));
    };
    let (session, token) = open_session(db, &operator_id, idle, now)?;
    Ok(Ok((session, token)))
}

fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token(20)).unwrap_or_default())
}

/// Opens a session for an operator; returns it and the token for the cookie.
pub fn open_session(
    db: &Db,
    operator_id: &str,
    idle: Duration,
    now: DateTime<Utc>,
) -> Result<(Session, String)> {
    let token = random_token(43);
    let csrf = random_token(32);
    let id = new_id();
    let email = db.write(|tx| {
        let email: String = tx.query_row(
            "SELECT email FROM operators WHERE id = ?1",
            [operator_id],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO operator_sessions (id, operator_id, token_hash, csrf_token, created_at, last_seen_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![id, operator_id, sha256_hex(token.as_bytes()), csrf, ts(now), ts(now + idle)],
        )?;
        tx.execute(
            "UPDATE operators SET last_sign_in_at = ?2 WHERE id = ?1",
            params![operator_id, ts(now)],
        )?;
        audit::record(tx, &email, "operator.sign_in", "operator", Some(operator_id), None, now)?;
        Ok(email)
    })?;
    Ok((
        Session {
            id,
            operator_id: operator_id.to_string(),
            email,
            csrf_token: csrf,
        },
        token,
    ))
}

/// The live session for a cookie token, its idle expiry pushed forward; expired ones are
/// deleted on sight.
pub fn session(
    db: &Db,
    token: &str,
    idle: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Session>> {
    let hash = sha256_hex(token.as_bytes());
    let found: Option<(Session, String, String)> = db.read(|c| {
        Ok(c.query_row(
            "SELECT s.id, s.operator_id, o.email, s.csrf_token, s.expires_at, s.last_seen_at
             FROM operator_sessions s JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = ?1",
            [&hash],
            |r| {
                Ok((
                    Session { id: r.get(0)?, operator_id: r.get(1)?, email: r.get(2)?, csrf_token: r.get(3)? },
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?)
    })?;
    let Some((session, expires_at, last_seen_at)) = found else {
        return Ok(None);
    };
    if parse_ts(&expires_at) <= now {
        db.write(|tx| {
            tx.execute("DELETE FROM operator_sessions WHERE id = ?1", [&session.id])?;
            Ok(())
        })?;
        return Ok(None);
    }
    // Writing on every page view is not needed: a minute of precision is plenty for idle expiry.
    if now - parse_ts(&last_seen_at) > Duration::seconds(60) {
        db.write(|tx| {
            tx.execute(
                "UPDATE operator_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id = ?1",
                params![session.id, ts(now), ts(now + idle)],
            )?;
            Ok(())
        })?;
    }
    Ok(Some(session))
}

pub fn sign_out(db: &Db, session: &Session, now: DateTime<Utc>) -> Result<()> {
    db.write(|tx| {
        tx.execute("DELETE FROM operator_sessions WHERE id = ?1", [&session.id])?;
        audit::record(
            tx,
            &session.email,
            "operator.sign_out",
            "operator",
            Some(&session.operator_id),
            None,
            now,
        )
    })
}

/// A one-time setup token, valid for an hour, for an instance without operators. Returns the
/// token (to print in a link); only its hash is stored.
pub fn create_setup_token(db: &Db, now: DateTime<Utc>) -> Result<String> {
    let token = random_token(40);
    db.write(|tx| {
        tx.execute(
            "INSERT INTO operator_setup_tokens (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![sha256_hex(token.as_bytes()), ts(now), ts(now + Duration::hours(SETUP_TOKEN_HOURS))],
        )?;
        Ok(())
    })?;
    Ok(token)
}

/// True while the setup token is unused, unexpired, and no operator exists yet.
pub fn setup_token_valid(conn: &Connection, token: &str, now: DateTime<Utc>) -> Result<bool> {
    let expires_at: Option<String> = conn
        .query_row(
            "SELECT expires_at FROM operator_setup_tokens WHERE token_hash = ?1 AND used_at IS NULL",
            [sha256_hex(token.as_bytes())],
            |r| r.get(0),
        )
        .optional()?;
    Ok(expires_at.is_some_and(|at| parse_ts(&at) > now) && count(conn)? == 0)
}

/// Consumes the setup token and creates the first operator, in one transaction.
pub fn create_first_operator(
    db: &Db,
    token: &str,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Operator> {
    let email = check_email(email)?;
    check_password(password)?;
    let hash = hash_password(password)?;
    let operator = Operator {
        id: new_id(),
        email: email.clone(),
        created_at: ts(now),
        last_sign_in_at: None,
    };
    db.write(|tx| {
        if !setup_token_valid(tx, token, now)? {
            return Err(Error::new(
                Code::SetupLinkInvalid,
                "This setup link was already used or has expired.",
            ));
        }
        tx.execute(
            "UPDATE operator_setup_tokens SET used_at = ?2 WHERE token_hash = ?1",
            params![sha256_hex(token.as_bytes()), ts(now)],
        )?;
        create_in(tx, &format!("setup link: {email}"), &operator, &hash, now)
    })?;
    Ok(operator)
}
