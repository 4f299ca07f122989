//! Organizations, their apps, each app's redirect allowlist and its own provider credentials.

use super::{audit, ts};
use crate::config::{ApiHost, ClientCredentials};
use crate::crypto::{Sealer, new_id};
use crate::db::Db;
use crate::error::{Code, Error, Result};
use crate::providers::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub credit_balance: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

fn check_name(what: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::validation(format!(
            "The {what} name must be 1 to 200 characters."
        )));
    }
    Ok(name.to_string())
}

pub fn create_organization(
    db: &Db,
    actor: &str,
    name: &str,
    initial_credits: i64,
    now: DateTime<Utc>,
) -> Result<Organization> {
    let name = check_name("organization", name)?;
    let org = Organization {
        id: new_id(),
        name,
        credit_balance: 0,
        created_at: ts(now),
        updated_at: ts(now),
    };
    db.write(|tx| {
        tx.execute(
            "INSERT INTO organizations (id, name, credit_balance, created_at, updated_at) VALUES (?1, ?2, 0, ?3, ?3)",
            params![org.id, org.name, org.created_at],
        )?;
        audit::record(tx, actor, "organization.create", "organization", Some(&org.id), Some(&serde_json::json!({"name": org.name})), now)?;
        if initial_credits > 0 {
            super::credits::grant_in(tx, &org.id, initial_credits, "initial credits for a new organization", now)?;
        }
        Ok(())
    })?;
    Ok(Organization {
        credit_balance: initial_credits.max(0),
        ..org
    })
}

pub fn get_organization(conn: &Connection, org_id: &str) -> Result<Option<Organization>> {
    Ok(conn
        .query_row(
            "SELECT id, name, credit_balance, created_at, updated_at FROM organizations WHERE id = ?1",
            [org_id],
            |r| {
                Ok(Organization {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    credit_balance: r.get(2)?,
                    created_at: r.get(3)?,
                    updated_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

pub fn create_app(
    db: &Db,
    actor: &str,
    org_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<App> {
    let name = check_name("app", name)?;
    let app = App {
        id: new_id(),
        org_id: org_id.to_string(),
        name,
        created_at: ts(now),
        updated_at: ts(now),
    };
    db.write(|tx| {
        if get_organization(tx, org_id)?.is_none() {
            return Err(Error::not_found(format!("Organization {org_id} does not exist.")));
        }
        tx.execute(
            "INSERT INTO apps (id, org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![app.id, app.org_id, app.name, app.created_at],
        )?;
        audit::record(tx, actor, "app.create", "app", Some(&app.id), Some(&serde_json::json!({"name": app.name, "orgId": org_id})), now)?;
        Ok(())
    })?;
    Ok(app)
}

pub fn get_app(conn: &Connection, app_id: &str) -> Result<Option<App>> {
    Ok(conn
        .query_row(
            "SELECT id, org_id, name, created_at, updated_at FROM apps WHERE id = ?1",
            [app_id],
            |r| {
                Ok(App {
                    id: r.get(0)?,
                    org_id: r.get(1)?,
                    name: r.get(2)?,
                    created_at: r.get(3)?,
                    updated_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

fn require_app(conn: &Connection, app_id: &str) -> Result<App> {
    get_app(conn, app_id)?.ok_or_else(|| Error::not_found(format!("App {app_id} does not exist.")))
}

/// Checks a URI an operator wants to allow: absolute http(s), https unless the host is
/// loopback (for local development), no fragment, no userinfo.
pub fn validate_redirect_uri(uri: &str) -> Result<()> {
    let invalid = |why: &str| {
        Error::new(
            Code::InvalidRedirectUri,
            format!("Redirect URI {uri:?} is not allowed: {why}."),
        )
    };
    if uri.len() > 2000 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it must be at most 2000 characters with no spaces"));
    }
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
        invalid("it must be an absolute URL such as https://app.example.com/callback")
    })?;
    if uri.contains('#') {
        return Err(invalid("it must not contain a fragment (#)"));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid("it has no host"));
    }
    if authority.contains('@') {
        return Err(invalid("it must not contain user information (@)"));
    }
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(invalid(
            "it must use https (plain http is allowed only for localhost and 127.0.0.1)",
        )),
        _ => Err(invalid("it must use https")),
    }
}

pub fn add_redirect_uri(
    db: &Db,
    actor: &str,
    app_id: &str,
    uri: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    validate_redirect_uri(uri)?;
    db.write(|tx| {
        require_app(tx, app_id)?;
        tx.execute(
            "INSERT INTO redirect_uris (id, app_id, uri, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id, uri) DO NOTHING",
            params![new_id(), app_id, uri, ts(now)],
        )?;
        audit::record(
            tx,
            actor,
            "redirect_uri.add",
            "app",
            Some(app_id),
            Some(&serde_json::json!({"uri": uri})),
            now,
        )
    })
}

pub fn remove_redirect_uri(
    db: &Db,
    actor: &str,
    app_id: &str,
    uri: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    db.write(|tx| {
        let removed = tx.execute(
            "DELETE FROM redirect_uris WHERE app_id = ?1 AND uri = ?2",
            params![app_id, uri],
        )?;
        if removed == 0 {
            return Err(Error::not_found(format!(
                "{uri:?} is not on the allowlist of app {app_id}."
            )));
        }
        audit::record(
            tx,
            actor,
            "redirect_uri.remove",
            "app",
            Some(app_id),
            Some(&serde_json::json!({"uri": uri})),
            now,
        )
    })
}

pub fn redirect_uris(conn: &Connection, app_id: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT uri FROM redirect_uris WHERE app_id = ?1 ORDER BY created_at, uri")?;
    let rows = stmt.query_map([app_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Exact, byte-for-byte comparison: no prefix match and no normalisation, so `..`, another
/// port, userinfo or a different case can never slip through.
pub fn is_redirect_allowed(conn: &Connection, app_id: &str, uri: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM redirect_uris WHERE app_id = ?1 AND uri = ?2",
            params![app_id, uri],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn set_credentials(
    db: &Db,
    sealer: &Sealer,
    actor: &str,
    app_id: &str,
    platform: Platform,
    credentials: &ClientCredentials,
    now: DateTime<Utc>,
) -> Result<()> {
    let (client_id, client_secret) = (
        credentials.client_id.as_str(),
        credentials.client_secret.as_str(),
    );
    if client_id.trim().is_empty() || client_id.len() > 500 {
        return Err(Error::validation(
            "The client id must be 1 to 500 characters.",
        ));
    }
    if client_secret.trim().is_empty() || client_secret.len() > 2000 {
        return Err(Error::validation(
            "The client secret must be 1 to 2000 characters.",
        ));
    }
    if credentials.api_host == ApiHost::Sandbox && platform.spec().hosts.sandbox_api_base.is_none()
    {
        return Err(Error::validation(format!(
            "{} has no sandbox API host; choose production.",
            platform.spec().display_name
        )));
    }
    let api_host = credentials.api_host.as_str();
    let sealed = sealer.seal(client_secret.trim());
    db.write(|tx| {
        require_app(tx, app_id)?;
        tx.execute(
            "INSERT INTO provider_credentials (id, app_id, platform, client_id, client_secret_enc, api_host, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (app_id, platform) DO UPDATE SET client_id = excluded.client_id,
                 client_secret_enc = excluded.client_secret_enc, api_host = excluded.api_host,
                 updated_at = excluded.updated_at",
            params![new_id(), app_id, platform.key(), client_id.trim(), sealed, api_host, ts(now)],
        )?;
        audit::record(tx, actor, "credentials.set", "app", Some(app_id), Some(&serde_json::json!({"platform": platform.key(), "clientId": client_id.trim(), "apiHost": api_host})), now)
    })
}

/// The app's own OAuth client for `platform`, if it configured one.
pub fn app_credentials(
    conn: &Connection,
    sealer: &Sealer,
    app_id: &str,
    platform: Platform,
) -> Result<Option<ClientCredentials>> {
    let row: Option<(String, Vec<u8>, String)> = conn
        .query_row(
            "SELECT client_id, client_secret_enc, api_host FROM provider_credentials WHERE app_id = ?1 AND platform = ?2",
            params![app_id, platform.key()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(client_id, sealed, api_host)| {
        let client_secret = sealer.open(&sealed).ok_or_else(|| {
            Error::internal(format!("the {} client secret of app {app_id} cannot be decrypted with this instance's secret key", platform.key()))
        })?;
        // The column's CHECK keeps it to the two names.
        let api_host = ApiHost::parse(&api_host).unwrap_or_default();
        Ok(ClientCredentials { client_id, client_secret, api_host })
    })
    .transpose()
}

/// The OAuth client to use for an app and platform: the app's own when it configured one,
/// else the instance's managed one, else none.
pub fn resolve_credentials(
    conn: &Connection,
    sealer: &Sealer,
    managed: &std::collections::BTreeMap<Platform, ClientCredentials>,
    app_id: &str,
    platform: Platform,
) -> Result<Option<(ClientCredentials, super::connect_sessions::CredentialSource)>> {
    use super::connect_sessions::CredentialSource;
    if let Some(own) = app_credentials(conn, sealer, app_id, platform)? {
        return Ok(Some((own, CredentialSource::App)));
    }
    Ok(managed
        .get(&platform)
        .cloned()
        .map(|c| (c, CredentialSource::Managed)))
}

/// The OAuth clients of the running instance: each app's own (sealed in the database) and the
/// instance's managed ones (from the configuration). One lives in `AppState`, so the connect
/// pages, the delivery engine and disconnecting all ask it the same question the same way.
#[derive(Clone)]
pub struct CredentialStore {
    db: Db,
    sealer: Sealer,
    managed: std::sync::Arc<std::collections::BTreeMap<Platform, ClientCredentials>>,
}

impl CredentialStore {
    pub fn new(
        db: Db,
        sealer: Sealer,
        managed: std::collections::BTreeMap<Platform, ClientCredentials>,
    ) -> Self {
        Self {
            db,
            sealer,
            managed: std::sync::Arc::new(managed),
        }
    }

    /// The credentials of `source` for an app and platform; tokens only work with the client
    /// that got them. `None` when they are no longer configured.
    pub fn for_source(
        &self,
        app_id: &str,
        platform: Platform,
        source: super::connect_sessions::CredentialSource,
    ) -> Result<Option<ClientCredentials>> {
        match source {
            super::connect_sessions::CredentialSource::App => self
                .db
                .read(|conn| app_credentials(conn, &self.sealer, app_id, platform)),
            super::connect_sessions::CredentialSource::Managed => {
                Ok(self.managed.get(&platform).cloned())
            }
        }
    }

    /// The credentials a connection was made with.
    pub fn for_connection(
        &self,
        connection: &super::connections::SocialConnection,
    ) -> Result<Option<ClientCredentials>> {
        self.for_source(
            &connection.app_id,
            connection.platform,
            connection.credential_source,
        )
    }

    /// The credentials a connect session was opened with.
    pub fn for_session(
        &self,
        session: &super::connect_sessions::ConnectSession,
    ) -> Result<Option<ClientCredentials>> {
        self.for_source(&session.app_id, session.platform, session.credential_source)
    }
}

pub fn rename_organization(
    db: &Db,
    actor: &str,
    org_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let name = check_name("organization", name)?;
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE organizations SET name = ?2, updated_at = ?3 WHERE id = ?1",
            params![org_id, name, ts(now)],
        )?;
        if changed == 0 {
            return Err(Error::not_found(format!(
                "Organization {org_id} does not exist."
            )));
        }
        audit::record(
            tx,
            actor,
            "organization.rename",
            "organization",
            Some(org_id),
            Some(&serde_json::json!({"name": name})),
            now,
        )
    })
}

/// Deletes an organization with everything in it: apps, keys, end users, posts, its ledger.
pub fn delete_organization(db: &Db, actor: &str, org_id: &str, now: DateTime<Utc>) -> Result<()> {
    db.write(|tx| {
        let org = get_organization(tx, org_id)?
            .ok_or_else(|| Error::not_found(format!("Organization {org_id} does not exist.")))?;
        tx.execute("DELETE FROM organizations WHERE id = ?1", [org_id])?;
        audit::record(
            tx,
            actor,
            "organization.delete",
            "organization",
            Some(org_id),
            Some(&serde_json::json!({"name": org.name})),
            now,
        )
    })
}

pub fn rename_app(
    db: &Db,
    actor: &str,
    app_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let name = check_name("app", name)?;
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE apps SET name = ?2, updated_at = ?3 WHERE id = ?1",
            params![app_id, name, ts(now)],
        )?;
        if changed == 0 {
            return Err(Error::not_found(format!("App {app_id} does not exist.")));
        }
        audit::record(
            tx,
            actor,
            "app.rename",
            "app",
            Some(app_id),
            Some(&serde_json::json!({"name": name})),
            now,
        )
    })
}

/// Deletes an app with its keys, allowlist, credentials, end users, connections and posts.
/// The organization's ledger keeps its rows (they explain the balance).
pub fn delete_app(db: &Db, actor: &str, app_id: &str, now: DateTime<Utc>) -> Result<()> {
    db.write(|tx| {
        let app = require_app(tx, app_id)?;
        tx.execute("DELETE FROM apps WHERE id = ?1", [app_id])?;
        audit::record(
            tx,
            actor,
            "app.delete",
            "app",
            Some(app_id),
            Some(&serde_json::json!({"name": app.name, "orgId": app.org_id})),
            now,
        )
    })
}

/// An app's own client for one platform, without its secret.
pub struct CredentialSummary {
    pub platform: String,
    pub client_id: String,
    pub updated_at: String,
    pub api_host: ApiHost,
}

/// Which platforms an app has its own client for. The secret is never read here.
pub fn credential_summaries(conn: &Connection, app_id: &str) -> Result<Vec<CredentialSummary>> {
    let mut stmt = conn.prepare(
        "SELECT platform, client_id, updated_at, api_host FROM provider_credentials WHERE app_id = ?1 ORDER BY platform",
    )?;
    let rows = stmt.query_map([app_id], |r| {
        Ok(CredentialSummary {
            platform: r.get(0)?,
            client_id: r.get(1)?,
            updated_at: r.get(2)?,
            api_host: ApiHost::parse(&r.get::<_, String>(3)?).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// True while the instance has no organization yet (a fresh database).
pub fn no_organizations(conn: &Connection) -> Result<bool> {
    Ok(
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM organizations)", [], |r| {
            r.get(0)
        })?,
    )
}
